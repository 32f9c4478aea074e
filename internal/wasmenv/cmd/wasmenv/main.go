// Command wasmenv prints how authhost builds a Go provider, for
// Taskfile.yml: with -env the environment (KEY=VALUE words), otherwise the
// environment followed by `go build` and its flags, ready for `-o OUT PKG`.
package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/authhost/authhost/internal/wasmenv"
)

func main() {
	envOnly := flag.Bool("env", false, "print only the environment")
	flag.Parse()
	env := strings.Join(wasmenv.Env(), " ")
	if *envOnly {
		fmt.Println(env)
		return
	}
	fmt.Println(env + " go build " + strings.Join(wasmenv.BuildFlags, " "))
}
