// Command newerminor reports abi 1.9, newer than this host's 1.0.
package main

import "github.com/authhost/authhost/host/testdata/plugins/internal/guest"

//go:wasmexport authhost_describe
func describe() int32 { return guest.Describe("1.9", "newerminor", "rbac") }

func main() {}
