package host

import (
	"context"
	"encoding/binary"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/host/internal/engine"
	"github.com/authhost/authhost/internal/testenv/ascbuild"
)

// testImport is one import of a module built by wasmWithImports: a
// function when sig is set, else a memory.
type testImport struct {
	module, name   string
	params, result []byte
	memory         bool
}

func uleb(n int) []byte { return binary.AppendUvarint(nil, uint64(n)) }

func wasmName(s string) []byte { return append(uleb(len(s)), s...) }

func section(id byte, body []byte) []byte {
	return append(append([]byte{id}, uleb(len(body))...), body...)
}

// wasmWithImports encodes a module with one function type per import and
// nothing else.
func wasmWithImports(ims ...testImport) []byte {
	var types, imports []byte
	nTypes := 0
	for _, im := range ims {
		imports = append(imports, wasmName(im.module)...)
		imports = append(imports, wasmName(im.name)...)
		if im.memory {
			imports = append(imports, 2, 0, 1) // memory, min 1
			continue
		}
		types = append(types, 0x60)
		types = append(types, uleb(len(im.params))...)
		types = append(types, im.params...)
		types = append(types, uleb(len(im.result))...)
		types = append(types, im.result...)
		imports = append(imports, 0)
		imports = append(imports, uleb(nTypes)...)
		nTypes++
	}
	b := []byte("\x00asm\x01\x00\x00\x00")
	b = append(b, section(1, append(uleb(nTypes), types...))...)
	b = append(b, section(2, append(uleb(len(ims)), imports...))...)
	return b
}

const (
	tI32 = 0x7f
	tI64 = 0x7e
	tF64 = 0x7c
)

func TestCheckImports(t *testing.T) {
	opts := engine.Options{Namespace: abi.HostNamespace, HostFuncs: []engine.HostFunc{{Name: "kv_get"}}}
	good := []testImport{
		{module: "env", name: "abort", params: []byte{tI32, tI32, tI32, tI32}},
		{module: "env", name: "seed", result: []byte{tF64}},
		{module: "env", name: "Date.now", result: []byte{tF64}},
		{module: "extism:host/env", name: "log_info", params: []byte{tI64}},
		{module: "wasi_snapshot_preview1", name: "random_get", params: []byte{tI32, tI32}, result: []byte{tI32}},
		{module: abi.HostNamespace, name: "kv_get", params: []byte{tI64}, result: []byte{tI64}},
	}
	if err := checkImports(wasmWithImports(good...), opts); err != nil {
		t.Fatalf("provided imports refused: %v", err)
	}
	for _, tc := range []struct {
		name string
		im   testImport
		want []string // every part must be in the error
	}{
		{"unknown env", testImport{module: "env", name: "nosuch"}, []string{"`env.nosuch`", "abort, seed, Date.now, console.log and trace"}},
		{"seed wrong signature", testImport{module: "env", name: "seed", result: []byte{tI32}}, []string{"`env.seed`", "signature ()->(i32)", "offers ()->(f64)"}},
		{"imported memory", testImport{module: "env", name: "memory", memory: true}, []string{"`env.memory`", "--importMemory"}},
		{"extism user namespace", testImport{module: "extism:host/user", name: "kv_get", params: []byte{tI64}, result: []byte{tI64}}, []string{"`extism:host/user.kv_get`", "`authhost` module"}},
		{"unknown kernel function", testImport{module: "extism:host/env", name: "http_fetch"}, []string{"`extism:host/env.http_fetch`", "Extism kernel"}},
		{"old wasi", testImport{module: "wasi_unstable", name: "fd_write"}, []string{"`wasi_unstable.fd_write`", "wasip1"}},
		{"wasi preview 2", testImport{module: "wasi:io/streams", name: "read"}, []string{"`wasi:io/streams.read`", "preview 2"}},
		{"unknown host function", testImport{module: abi.HostNamespace, name: "kv_gett", params: []byte{tI64}, result: []byte{tI64}}, []string{"`authhost.kv_gett`", "host offers"}},
		{"cyrillic look-alike module", testImport{module: "\u0435nv", name: "abort", params: []byte{tI32, tI32, tI32, tI32}}, []string{"`\\u0435nv.abort`"}},
		{"fullwidth name", testImport{module: "env", name: "ａｂｏｒｔ"}, []string{"`env.\\uff41\\uff42\\uff4f\\uff52\\uff54`"}},
		{"control characters", testImport{module: "env", name: "abort\nlevel=ERROR\x00"}, []string{"`env.abort\\nlevel=ERROR\\x00`"}},
		{"null", testImport{module: "null", name: "null"}, []string{"`null.null`"}},
		{"IP literal", testImport{module: "127.0.0.1", name: "::1"}, []string{"`127.0.0.1.::1`"}},
		{"empty names", testImport{module: "", name: ""}, []string{"`.`"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkImports(wasmWithImports(append(good, tc.im)...), opts)
			if err == nil {
				t.Fatal("refused import accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Count(err.Error(), "import `") != 1 {
				t.Errorf("error names %d imports, want only the refused one: %v", strings.Count(err.Error(), "import `"), err)
			}
			if strings.ContainsAny(err.Error(), "\n\x00") {
				t.Errorf("raw control characters in %q", err)
			}
		})
	}
}

func TestReadImportsMalformed(t *testing.T) {
	whole := wasmWithImports(testImport{module: "env", name: "abort", params: []byte{tI32}})
	for n := 8; n < len(whole); n++ {
		// A cut at a section boundary is a valid module without imports;
		// anywhere else is an error, never a panic.
		if ims, err := readImports(whole[:n]); err == nil && len(ims) != 0 {
			t.Errorf("cut at %d of %d: read %v from a truncated import section", n, len(whole), ims)
		}
	}
	if ims, err := readImports(whole); err != nil || len(ims) != 1 || ims[0].name != "abort" {
		t.Fatalf("the whole module read as %v, %v", ims, err)
	}
	bad := wasmWithImports(testImport{module: "env", name: "abort"})
	bad[len(bad)-1] = 9 // type index past the type section
	if _, err := readImports(bad); err == nil {
		t.Error("a bad type index was accepted")
	}
	if _, err := readImports([]byte("\x00asm")); err == nil {
		t.Error("a 4-byte module was accepted")
	}
}

// TestLoadNamesRefusedImports loads a real AssemblyScript module with two
// imports the host lacks: the load error names both, and neither of the
// standard env imports the host provides.
func TestLoadNamesRefusedImports(t *testing.T) {
	p := ascbuild.Build(t, filepath.Join("testdata", "as", "refused.ts"))
	dir := t.TempDir()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "refused.wasm"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := New(Config{PluginsDir: dir, CacheDir: testCacheDir, Engine: testEngine, Store: newMemStore(), Logger: slog.New(newRecorder())})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	_, errs := m.Load(context.Background())
	if len(errs) != 1 {
		t.Fatalf("load errors %v, want one", errs)
	}
	msg := errs[0].Error()
	for _, w := range []string{"`env.nosuch`", "`extism:host/user.hello`"} {
		if !strings.Contains(msg, w) {
			t.Errorf("load error %q does not name %s", msg, w)
		}
	}
	for _, w := range []string{"env.abort", "env.seed", "instantiat"} {
		if strings.Contains(msg, w) {
			t.Errorf("load error %q mentions %s", msg, w)
		}
	}
	// authhost inspect reports the same refusal as a problem.
	rep, err := Inspect(context.Background(), p, testCacheDir)
	if err != nil {
		t.Fatalf("inspect: %v", err)
	}
	if rep.OK() || !strings.Contains(strings.Join(rep.Problems, "\n"), "`env.nosuch`") {
		t.Errorf("inspect problems %q do not name env.nosuch", rep.Problems)
	}
}
