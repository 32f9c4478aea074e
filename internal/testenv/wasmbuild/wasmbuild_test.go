package wasmbuild

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/authhost/authhost/internal/wasmenv"
)

func TestBuildOnce(t *testing.T) {
	t.Parallel()
	pkg := filepath.Join("..", "..", "..", "host", "testdata", "plugins", "wrongabi")
	a := Build(t, pkg)
	b := Build(t, filepath.Join(pkg, ".")) // same package, other spelling
	if a != b {
		t.Fatalf("built twice: %s and %s", a, b)
	}
	wasm, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(wasm, []byte("\x00asm")) {
		t.Fatalf("%s is not a wasm module", a)
	}
	dir := Dir(t, pkg)
	if _, err := os.Stat(filepath.Join(dir, "wrongabi.wasm")); err != nil {
		t.Fatal(err)
	}
}

// TestBuildTuned checks that a build with other tuning is a separate file
// with other code, and that the default tuning is the one Build uses.
func TestBuildTuned(t *testing.T) {
	t.Parallel()
	pkg := filepath.Join("..", "..", "..", "host", "testdata", "plugins", "wrongabi")
	tuned := Build(t, pkg)
	if again := BuildTuned(t, pkg, wasmenv.Tuning); again != tuned {
		t.Errorf("BuildTuned with wasmenv.Tuning built again: %s and %s", again, tuned)
	}
	plain := BuildTuned(t, pkg, nil)
	if plain == tuned {
		t.Fatalf("plain and tuned builds share %s", plain)
	}
	a, errA := os.ReadFile(plain)
	b, errB := os.ReadFile(tuned)
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if bytes.Equal(a, b) {
		t.Error("plain and tuned builds are identical: the tuning did not reach the compiler")
	}
}
