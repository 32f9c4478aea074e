// Command membomb is a hostile provider whose rbac_roles allocates until the
// memory cap stops it.
package main

import "github.com/authhost/authhost/host/testdata/plugins/internal/guest"

var hoard [][]byte

//go:wasmexport authhost_describe
func describe() int32 { return guest.Describe("1.0", "membomb", "rbac") }

//go:wasmexport rbac_roles
func roles() int32 {
	for {
		b := make([]byte, 1<<20)
		for i := range b {
			b[i] = byte(i)
		}
		hoard = append(hoard, b)
	}
}

//go:wasmexport rbac_permissions
func permissions() int32 { return guest.OK(map[string]any{"permissions": []string{}}) }

func main() {}
