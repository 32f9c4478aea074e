// Package ascbuild builds AssemblyScript plugins for tests with the pinned
// compiler and Extism PDK of this directory's package-lock.json
// (assemblyscript 0.28.20, @extism/as-pdk 1.0.0; `bash .ci/install-deps`
// installs them). Each (entry file, flags) pair is built at most once per
// test process.
package ascbuild

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

type result struct {
	once sync.Once
	path string
	err  error
}

var (
	builds sync.Map // key -> *result

	outOnce sync.Once
	outDir  string
	outErr  error
)

// NodeModules returns the node_modules directory holding the pinned
// compiler and PDK.
func NodeModules() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "node_modules")
}

// Build compiles the AssemblyScript entry file (relative to the test's
// working directory or absolute) with asc and the given extra flags, and
// returns the path of the .wasm file. Imports of "@extism/as-pdk" resolve
// to the pinned PDK. A failed build, or a missing toolchain, fails t with
// the compiler output.
func Build(t testing.TB, entry string, flags ...string) string {
	t.Helper()
	p, err := build(entry, flags)
	if err != nil {
		t.Fatalf("ascbuild: %v", err)
	}
	return p
}

func build(entry string, flags []string) (string, error) {
	abs, err := filepath.Abs(entry)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", entry, err)
	}
	key := abs + "\x00" + strings.Join(flags, "\x00")
	v, _ := builds.LoadOrStore(key, &result{})
	r := v.(*result)
	r.once.Do(func() { r.path, r.err = asc(abs, key, flags) })
	return r.path, r.err
}

func asc(abs, key string, flags []string) (string, error) {
	nm := NodeModules()
	compiler := filepath.Join(nm, "assemblyscript", "bin", "asc.js")
	if _, err := os.Stat(compiler); err != nil {
		return "", fmt.Errorf("the AssemblyScript compiler is not installed (run bash .ci/install-deps): %w", err)
	}
	outOnce.Do(func() { outDir, outErr = os.MkdirTemp("", "authhost-ascbuild-") })
	if outErr != nil {
		return "", fmt.Errorf("create output dir: %w", outErr)
	}
	sum := sha256.Sum256([]byte(key))
	name := strings.TrimSuffix(filepath.Base(abs), ".ts")
	out := filepath.Join(outDir, name+"-"+hex.EncodeToString(sum[:4])+".wasm")
	args := append([]string{compiler, abs, "--outFile", out, "--path", nm}, flags...)
	cmd := exec.Command("node", args...)
	cmd.Dir = filepath.Dir(abs)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("asc %s %s: %w\n%s", abs, strings.Join(flags, " "), err, msg)
	}
	return out, nil
}
