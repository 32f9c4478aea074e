// Package guest holds the shared code of authhost's host test plugins: the
// describe helper, wrappers for the authhost host functions and the exports
// of the echo provider, which the echo and echob mains link in.
package guest

import (
	"github.com/extism/go-pdk"

	"github.com/authhost/authhost/pdk/wire"
)

// Describe writes a bare describe document as the output of the current call.
func Describe(abiVersion, name string, caps ...string) int32 {
	if caps == nil {
		caps = []string{}
	}
	pdk.OutputJSON(map[string]any{"abi": abiVersion, "name": name, "version": "0.1.0", "capabilities": caps})
	return 0
}

// OK writes a successful envelope carrying data, encoded and framed as the
// Go PDK does (pdk/wire): data is encoded once, not encoded and then
// re-encoded as a json.RawMessage inside a map.
func OK(data any) int32 {
	out, err := wire.Success(data)
	if err != nil {
		return Fail("internal", err.Error())
	}
	pdk.Output(out)
	return 0
}

// Fail writes a failed envelope.
func Fail(code, msg string) int32 {
	pdk.OutputJSON(map[string]any{"ok": false, "error": map[string]string{"code": code, "message": msg}})
	return 0
}
