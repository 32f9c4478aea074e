// Command loop is a hostile provider whose rbac_roles never returns.
package main

import "github.com/authhost/authhost/host/testdata/plugins/internal/guest"

var sink int

//go:wasmexport authhost_describe
func describe() int32 { return guest.Describe("1.0", "loop", "rbac") }

//go:wasmexport rbac_roles
func roles() int32 {
	for i := 0; ; i++ {
		sink += i
	}
}

//go:wasmexport rbac_permissions
func permissions() int32 { return guest.OK(map[string]any{"permissions": []string{}}) }

func main() {}
