// Command echob is the echo provider under another name, for isolation tests.
package main

import "github.com/authhost/authhost/host/testdata/plugins/internal/echoimpl"

func init() { echoimpl.Name = "echob" }

func main() {}
