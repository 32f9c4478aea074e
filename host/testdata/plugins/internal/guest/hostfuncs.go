package guest

import "github.com/extism/go-pdk"

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

// CallHost calls the named authhost host function with a raw JSON request
// and returns its raw JSON envelope.
func CallHost(fn string, req []byte) []byte {
	mem := pdk.AllocateBytes(req)
	defer mem.Free()
	var off uint64
	switch fn {
	case "kv_get":
		off = hostKVGet(mem.Offset())
	case "kv_set":
		off = hostKVSet(mem.Offset())
	case "kv_delete":
		off = hostKVDelete(mem.Offset())
	case "http_do":
		off = hostHTTPDo(mem.Offset())
	case "log":
		off = hostLog(mem.Offset())
	case "kv_cas":
		off = hostKVCAS(mem.Offset())
	case "password_hash":
		off = hostPasswordHash(mem.Offset())
	case "password_verify":
		off = hostPasswordVerify(mem.Offset())
	case "jws_verify":
		off = hostJWSVerify(mem.Offset())
	default:
		return []byte(`{"ok":false,"error":{"code":"invalid_request","message":"unknown host function"}}`)
	}
	out := pdk.FindMemory(off)
	defer out.Free()
	return out.ReadBytes()
}
