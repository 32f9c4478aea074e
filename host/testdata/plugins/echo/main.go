// Command echo is a valid authhost test provider (capability rbac) with
// benchmark and host-function exports; see internal/guest.
package main

import "github.com/authhost/authhost/host/testdata/plugins/internal/echoimpl"

func init() { echoimpl.Name = "echo" }

func main() {}
