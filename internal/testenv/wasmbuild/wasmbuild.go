// Package wasmbuild builds Go WebAssembly plugins for tests, with the
// environment and flags of internal/wasmenv (GOOS=wasip1 GOARCH=wasm,
// -buildmode=c-shared and the guest tuning). Each package directory is built at most
// once per test process, into a directory shared by the process, and Go's
// build cache makes later processes cheap. Other packages' tests (server,
// cmd) use it to get provider binaries without a separate build step.
package wasmbuild

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/authhost/authhost/internal/wasmenv"
)

type result struct {
	once sync.Once
	path string
	err  error
}

var (
	builds sync.Map // absolute package dir and environment -> *result

	outOnce sync.Once
	outDir  string
	outErr  error
)

// Build compiles the Go plugin in pkgDir (a directory, relative to the test's
// working directory or absolute) and returns the path of the .wasm file. The
// build runs once per package directory per process; concurrent callers wait
// for it. A failed build fails t with the compiler output.
func Build(t testing.TB, pkgDir string) string {
	t.Helper()
	p, err := build(pkgDir)
	if err != nil {
		t.Fatalf("wasmbuild: %v", err)
	}
	return p
}

// BuildAll builds every directory (see Build) and returns the .wasm paths in
// the same order. The builds run concurrently.
func BuildAll(t testing.TB, pkgDirs ...string) []string {
	t.Helper()
	paths := make([]string, len(pkgDirs))
	errs := make([]error, len(pkgDirs))
	var wg sync.WaitGroup
	for i, d := range pkgDirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths[i], errs[i] = build(d)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("wasmbuild: %v", err)
		}
	}
	return paths
}

// Dir builds every package directory and copies the results into a fresh
// temporary directory (removed when t ends) as NAME.wasm, where NAME is the
// base name of the package directory. It returns that directory, ready to
// serve as a plugins directory.
func Dir(t testing.TB, pkgDirs ...string) string {
	t.Helper()
	dir := t.TempDir()
	for i, p := range BuildAll(t, pkgDirs...) {
		dst := filepath.Join(dir, filepath.Base(filepath.Clean(pkgDirs[i]))+".wasm")
		if err := copyFile(p, dst); err != nil {
			t.Fatalf("wasmbuild: %v", err)
		}
	}
	return dir
}

// CopyInto copies an already built .wasm file into dir under name.
func CopyInto(t testing.TB, wasmPath, dir, name string) string {
	t.Helper()
	dst := filepath.Join(dir, name)
	if err := copyFile(wasmPath, dst); err != nil {
		t.Fatalf("wasmbuild: %v", err)
	}
	return dst
}

// BuildTuned is Build with tuning in place of wasmenv.Tuning (nil: a plain
// build), for benchmarks that weigh the tuning.
func BuildTuned(t testing.TB, pkgDir string, tuning []string) string {
	t.Helper()
	p, err := buildWith(pkgDir, tuning)
	if err != nil {
		t.Fatalf("wasmbuild: %v", err)
	}
	return p
}

func build(pkgDir string) (string, error) { return buildWith(pkgDir, wasmenv.Tuning) }

func buildWith(pkgDir string, tuning []string) (string, error) {
	abs, err := filepath.Abs(pkgDir)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", pkgDir, err)
	}
	env := append(append([]string(nil), wasmenv.Required...), tuning...)
	key := abs + "\x00" + strings.Join(env, " ")
	v, _ := builds.LoadOrStore(key, &result{})
	r := v.(*result)
	r.once.Do(func() { r.path, r.err = goBuild(abs, key, env) })
	return r.path, r.err
}

func goBuild(abs, key string, env []string) (string, error) {
	outOnce.Do(func() { outDir, outErr = os.MkdirTemp("", "authhost-wasmbuild-") })
	if outErr != nil {
		return "", fmt.Errorf("create output dir: %w", outErr)
	}
	sum := sha256.Sum256([]byte(key))
	out := filepath.Join(outDir, filepath.Base(abs)+"-"+hex.EncodeToString(sum[:4])+".wasm")
	cmd := exec.Command(goTool(), wasmenv.BuildArgs(".", out)...)
	cmd.Dir = abs
	cmd.Env = append(append(os.Environ(), env...), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %w\n%s", abs, err, msg)
	}
	return out, nil
}

// goTool returns the go command of the toolchain running the test.
func goTool() string {
	exe := "go"
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	if p := filepath.Join(runtime.GOROOT(), "bin", exe); fileExists(p) {
		return p
	}
	return exe
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return nil
}
