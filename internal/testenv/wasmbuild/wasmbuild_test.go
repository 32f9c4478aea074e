package wasmbuild

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
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
