package hostcall

import "github.com/authhost/authhost/abi"

func failure(code abi.Code, msg string) []byte {
	return abi.Failure(&abi.Error{Code: code, Message: msg})
}
