// Command noexport declares sso but lacks sso_callback.
package main

import "github.com/authhost/authhost/host/testdata/plugins/internal/guest"

//go:wasmexport authhost_describe
func describe() int32 { return guest.Describe("1.0", "noexport", "sso") }

//go:wasmexport sso_login_url
func loginURL() int32 { return guest.OK(map[string]string{"url": "https://idp.example/authorize"}) }

func main() {}
