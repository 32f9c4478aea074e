package ascbuild

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestBuild(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "add.ts")
	if err := os.WriteFile(src, []byte("export function add(a: i32, b: i32): i32 { return a + b; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := Build(t, src, "--runtime", "stub")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\x00asm")) {
		t.Fatalf("%s is not a wasm module", p)
	}
	if again := Build(t, src, "--runtime", "stub"); again != p {
		t.Errorf("second build went to %s, want the cached %s", again, p)
	}
	if _, err := build(filepath.Join(dir, "missing.ts"), nil); err == nil {
		t.Error("building a missing file succeeded")
	}
}
