package pdk_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// outsideProvider is a whole provider as an author writes it outside this
// repository: one user capability, nothing but the PDK imported.
const outsideProvider = `package main

import (
	"context"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk"
)

type users struct{}

func (users) CurrentUser(context.Context, abi.Request) (*abi.User, error) { return nil, nil }
func (users) GetUser(_ context.Context, id string) (*abi.User, error) {
	return &abi.User{ID: id}, nil
}

func init() { pdk.Register(pdk.Provider{Name: "outside", Version: "0.1.0", User: users{}}) }

func main() {}
`

// TestProviderOutsideRepo builds a provider from a temporary directory whose
// go.mod requires only the PDK module (replaced by this checkout, as a
// published version would be fetched) and checks that its module graph holds
// the PDK, the ABI and the Extism Go PDK and none of the server's
// dependencies.
func TestProviderOutsideRepo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Wasm provider with the go command")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	pdkDir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	abiDir := filepath.Join(filepath.Dir(pdkDir), "abi")
	dir := t.TempDir()
	gomod := "module example.com/outside\n\ngo 1.25.0\n\n" +
		"require github.com/authhost/authhost/pdk v0.0.0\n\n" +
		"replace github.com/authhost/authhost/pdk => " + pdkDir + "\n\n" +
		"replace github.com/authhost/authhost/abi => " + abiDir + "\n"
	for name, body := range map[string]string{"go.mod": gomod, "main.go": outsideProvider} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(env []string, args ...string) string {
		t.Helper()
		cmd := exec.Command(goBin, args...)
		cmd.Dir = dir
		cmd.Env = append(append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod"), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run(nil, "mod", "tidy")
	mods := strings.Fields(run(nil, "list", "-m", "-f", "{{.Path}}", "all"))
	for _, banned := range []string{"chromedp", "badger", "go-task", "pgx", "extism/go-sdk", "wazero", "chi"} {
		for _, m := range mods {
			if strings.Contains(m, banned) {
				t.Errorf("module graph of a PDK-only provider holds %s (matched %q)", m, banned)
			}
		}
	}
	want := map[string]bool{"example.com/outside": true, "github.com/authhost/authhost/pdk": true,
		"github.com/authhost/authhost/abi": true, "github.com/extism/go-pdk": true}
	for _, m := range mods {
		// golang.org/x/crypto (and what it requires) comes with pdktest's
		// native password hashing, the same code the host runs.
		if !want[m] && !strings.HasPrefix(m, "golang.org/x/") {
			t.Errorf("unexpected module %s in a PDK-only provider's graph (all: %v)", m, mods)
		}
	}
	wasm := filepath.Join(dir, "outside.wasm")
	run([]string{"GOOS=wasip1", "GOARCH=wasm"}, "build", "-buildmode=c-shared", "-o", wasm, ".")
	if fi, err := os.Stat(wasm); err != nil || fi.Size() == 0 {
		t.Fatalf("no wasm built: %v", err)
	}
}
