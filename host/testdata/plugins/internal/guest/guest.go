// Package guest holds the shared code of authhost's host test plugins: the
// describe helper, wrappers for the authhost host functions and the exports
// of the echo provider, which the echo and echob mains link in.
package guest

import (
	"encoding/json"

	"github.com/extism/go-pdk"
)

// Describe writes a bare describe document as the output of the current call.
func Describe(abiVersion, name string, caps ...string) int32 {
	if caps == nil {
		caps = []string{}
	}
	pdk.OutputJSON(map[string]any{"abi": abiVersion, "name": name, "version": "0.1.0", "capabilities": caps})
	return 0
}

// OK writes a successful envelope carrying data.
func OK(data any) int32 {
	raw, _ := json.Marshal(data)
	pdk.OutputJSON(map[string]any{"ok": true, "data": json.RawMessage(raw)})
	return 0
}

// Fail writes a failed envelope.
func Fail(code, msg string) int32 {
	pdk.OutputJSON(map[string]any{"ok": false, "error": map[string]string{"code": code, "message": msg}})
	return 0
}
