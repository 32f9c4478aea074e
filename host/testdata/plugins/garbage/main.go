// Command garbage is a hostile provider returning non-JSON and wrongly
// shaped results.
package main

import (
	"github.com/authhost/authhost/host/testdata/plugins/internal/guest"
	"github.com/extism/go-pdk"
)

//go:wasmexport authhost_describe
func describe() int32 { return guest.Describe("1.0", "garbage", "rbac") }

// rbac_roles returns bytes that are not JSON.
//
//go:wasmexport rbac_roles
func roles() int32 {
	pdk.Output([]byte("\x00\xffnot json at all"))
	return 0
}

// rbac_permissions returns JSON of the wrong shape.
//
//go:wasmexport rbac_permissions
func permissions() int32 {
	pdk.OutputString(`{"ok":true,"data":{"permissions":"should be a list"}}`)
	return 0
}

func main() {}
