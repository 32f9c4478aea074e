// Command wrongabi reports abi 2.0, which this host refuses.
package main

import "github.com/authhost/authhost/host/testdata/plugins/internal/guest"

//go:wasmexport authhost_describe
func describe() int32 { return guest.Describe("2.0", "wrongabi", "rbac") }

func main() {}
