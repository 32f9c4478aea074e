// Command panic is a hostile provider whose rbac_roles panics.
package main

import "github.com/authhost/authhost/host/testdata/plugins/internal/guest"

//go:wasmexport authhost_describe
func describe() int32 { return guest.Describe("1.0", "panic", "rbac") }

//go:wasmexport rbac_roles
func roles() int32 { panic("panic plugin: boom") }

//go:wasmexport rbac_permissions
func permissions() int32 { return guest.OK(map[string]any{"permissions": []string{}}) }

func main() {}
