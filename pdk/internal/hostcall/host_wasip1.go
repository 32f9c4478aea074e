//go:build wasip1

package hostcall

import (
	extism "github.com/extism/go-pdk"

	"github.com/authhost/authhost/abi"
)

//go:wasmimport authhost kv_get
func hostKVGet(uint64) uint64

//go:wasmimport authhost kv_set
func hostKVSet(uint64) uint64

//go:wasmimport authhost kv_delete
func hostKVDelete(uint64) uint64

//go:wasmimport authhost http_do
func hostHTTPDo(uint64) uint64

//go:wasmimport authhost log
func hostLog(uint64) uint64

//go:wasmimport authhost kv_cas
func hostKVCAS(uint64) uint64

//go:wasmimport authhost password_hash
func hostPasswordHash(uint64) uint64

//go:wasmimport authhost password_verify
func hostPasswordVerify(uint64) uint64

//go:wasmimport authhost jws_verify
func hostJWSVerify(uint64) uint64

// sandbox calls the real host functions through Extism memory.
type sandbox struct{}

func (sandbox) Call(fn string, req []byte) []byte {
	var f func(uint64) uint64
	switch fn {
	case abi.HostKVGet:
		f = hostKVGet
	case abi.HostKVSet:
		f = hostKVSet
	case abi.HostKVDelete:
		f = hostKVDelete
	case abi.HostHTTPDo:
		f = hostHTTPDo
	case abi.HostLog:
		f = hostLog
	case abi.HostKVCAS:
		f = hostKVCAS
	case abi.HostPasswordHash:
		f = hostPasswordHash
	case abi.HostPasswordVerify:
		f = hostPasswordVerify
	case abi.HostJWSVerify:
		f = hostJWSVerify
	default:
		return failure(abi.CodeNotSupported, "unknown host function "+fn)
	}
	in := extism.AllocateBytes(req)
	off := f(in.Offset())
	in.Free()
	if off == 0 {
		return failure(abi.CodeInternal, "host function "+fn+" returned no result")
	}
	out := extism.FindMemory(off)
	res := out.ReadBytes()
	out.Free()
	if len(res) == 0 {
		return failure(abi.CodeInternal, "host function "+fn+" returned an empty result")
	}
	return res
}

func (sandbox) Config() ([]byte, bool) {
	s, ok := extism.GetConfig("config")
	return []byte(s), ok
}
