//go:build !wasip1

package hostcall

import "github.com/authhost/authhost/abi"

// sandbox stands in for the host outside the Wasm sandbox: host functions
// are unavailable until a test double is installed with Set.
type sandbox struct{}

func (sandbox) Call(fn string, _ []byte) []byte {
	return failure(abi.CodeUnavailable, "host function "+fn+" is only available inside the authhost sandbox; install a pdktest.Env in tests")
}

func (sandbox) Config() ([]byte, bool) { return nil, false }
