package engine_test

import (
	"context"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/authhost/authhost/host/internal/engine"
	"github.com/authhost/authhost/host/internal/engine/enginetest"
)

func TestExecutableBytes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		maps string
		want uint64
	}{
		{"anonymous executable", "7f0000000000-7f0000003000 r-xp 00000000 00:00 0 \n", 0x3000},
		{"two, one not executable", "7f0000000000-7f0000001000 r-xp 00000000 00:00 0\n7f0000001000-7f0000005000 rw-p 00000000 00:00 0\n", 0x1000},
		{"file-backed code", "00400000-00800000 r-xp 00000000 08:01 1234 /usr/bin/authhost\n", 0},
		{"vdso", "7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0 [vdso]\n", 0},
		{"inode not zero without a path", "7f0000000000-7f0000003000 r-xp 00000000 00:05 77\n", 0},
		{"malformed range", "7f0000003000-7f0000000000 r-xp 00000000 00:00 0\nzz-yy r-xp 00000000 00:00 0\nnot a line\n", 0},
		{"empty", "", 0},
	} {
		if got := engine.ParseExecutableBytes([]byte(tc.maps)); got != tc.want {
			t.Errorf("%s: executableBytes = %#x, want %#x", tc.name, got, tc.want)
		}
	}
}

// TestClosedModuleGivesCodeBack compiles the same guest three times
// through the persistent cache, as loads and reloads do, and closes the
// modules: their machine code must be unmapped. On one shared wazero
// engine it was not (a closed module stayed reachable from the engine's
// sorted module list).
func TestClosedModuleGivesCodeBack(t *testing.T) {
	if _, err := os.Stat("/proc/self/maps"); err != nil {
		t.Skip("no /proc/self/maps: code size is not measurable here")
	}
	wasm := enginetest.GuestWasm(t)
	ctx := context.Background()
	e, err := engine.NewWazero(engine.WazeroConfig{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	settle := func() uint64 {
		for range 5 {
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
		}
		return engine.ExecutableBytes()
	}
	before := settle()
	var mods []engine.Module
	var code uint64
	for range 3 {
		mod, err := e.Compile(ctx, wasm, engine.Options{Namespace: enginetest.Namespace, HostFuncs: []engine.HostFunc{
			{Name: "echo", Fn: func(_ context.Context, in []byte) []byte { return in }},
			{Name: "block", Fn: func(_ context.Context, in []byte) []byte { return in }},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if mod.CodeBytes() == 0 {
			t.Fatal("CodeBytes = 0 for a freshly compiled module")
		}
		code += mod.CodeBytes()
		mods = append(mods, mod)
		inst, err := mod.Instantiate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := inst.Call(ctx, "noop", nil); err != nil {
			t.Fatal(err)
		}
		if err := inst.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if during := engine.ExecutableBytes(); during < before+code/2 || code > 2*(during-before) {
		t.Fatalf("executable mappings %d with three modules open, %d before: CodeBytes (%d in all) does not match", during, before, code)
	}
	for _, mod := range mods {
		if err := mod.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	mods = nil
	if after := settle(); after > before+code/4 {
		t.Fatalf("executable mappings %d after closing the modules, %d before them: %d of their %d code bytes still mapped", after, before, after-before, code)
	}
}
