// Package wasmenv is the one definition of how authhost builds a Go
// provider to WebAssembly. Taskfile.yml (through `go run
// ./internal/wasmenv/cmd/wasmenv`), the tests' plugin builder
// (internal/testenv/wasmbuild), `authhost new-provider` and
// docs/writing-a-provider.md all take the environment and flags from here;
// TestOnePlace checks the Taskfile and the guide still do.
package wasmenv

import "strings"

// Required is the environment every Go provider build needs: Go's WASI
// preview 1 port.
var Required = []string{"GOOS=wasip1", "GOARCH=wasm"}

// Tuning is the environment that makes a Go guest cheaper without changing
// what it does. A plain build without it gives a working plugin, only
// slower (BENCHMARKS.md, "Go guest cost"): GOEXPERIMENT=jsonv2 runs
// encoding/json on the encoding/json/v2 implementation (same API and v1
// semantics; error texts differ), which decodes a small document in about
// two thirds of the time, for ~1 MB more Wasm per provider.
// GOWASM=satconv,signext was measured too and left out: it changes a few
// dozen bytes of a provider and no measurable time.
var Tuning = []string{"GOEXPERIMENT=jsonv2"}

// BuildFlags are the go build flags of a provider: a reactor module (the Go
// runtime initialises once in _initialize, then serves each export) and
// reproducible paths.
var BuildFlags = []string{"-buildmode=c-shared", "-trimpath"}

// Env returns the full environment of a provider build, Required then
// Tuning.
func Env() []string {
	return append(append([]string(nil), Required...), Tuning...)
}

// BuildArgs returns the arguments of `go` that build package pkg into the
// file out.
func BuildArgs(pkg, out string) []string {
	return append(append([]string{"build"}, BuildFlags...), "-o", out, pkg)
}

// Command returns the shell command that builds package pkg (e.g.
// ./examples/hello) into the file out.
func Command(pkg, out string) string {
	return strings.Join(Env(), " ") + " go " + strings.Join(BuildArgs(pkg, out), " ")
}
