package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/authhost/authhost/internal/testenv/wasmbuild"
)

// sec encodes one section.
func sec(id byte, content ...byte) []byte {
	return append(appendU32([]byte{id}, uint32(len(content))), content...)
}

// vec encodes a vector of items.
func vec(items ...[]byte) []byte {
	out := appendU32(nil, uint32(len(items)))
	for _, it := range items {
		out = append(out, it...)
	}
	return out
}

// fnBody encodes a function body without locals.
func fnBody(code ...byte) []byte {
	return append(appendU32(nil, uint32(len(code)+1)), append([]byte{0x00}, code...)...)
}

func export(name string, kind byte, idx uint32) []byte {
	return appendU32(append(appendName(nil, name), kind), idx)
}

func module(sections ...[]byte) []byte {
	m := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	for _, s := range sections {
		m = append(m, s...)
	}
	return m
}

// Types of the test modules: 0 () -> (), 1 () -> i32, 2 (i64) -> i64.
var testTypes = sec(1, vec(
	[]byte{0x60, 0x00, 0x00},
	[]byte{0x60, 0x00, 0x01, 0x7f},
	[]byte{0x60, 0x01, 0x7e, 0x01, 0x7e},
)...)

// stateModule has a data segment "hi" at 16, a mutable global 5 and an
// _initialize that sets the global to 42 and byte 0 to 7. check returns 0
// (success) only in exactly that state; dirty changes all three.
func stateModule(extra ...[]byte) []byte {
	check := fnBody(
		0x23, 0x00, 0x41, 42, 0x47, // g0 != 42
		0x41, 0x00, 0x2d, 0x00, 0x00, 0x41, 0x07, 0x47, // mem[0] != 7
		0x72,                                                       // or
		0x41, 0x10, 0x2d, 0x00, 0x00, 0x41, 0xe8, 0x00, 0x47, 0x72, // mem[16] != 'h', or
		0x0b)
	init := fnBody(0x41, 42, 0x24, 0x00, 0x41, 0x00, 0x41, 0x07, 0x3a, 0x00, 0x00, 0x0b)
	dirty := fnBody(0x41, 0x01, 0x24, 0x00, 0x41, 0x00, 0x41, 0x09, 0x3a, 0x00, 0x00,
		0x41, 0x10, 0x41, 0xf8, 0x00, 0x3a, 0x00, 0x00, 0x0b) // 'x'
	secs := [][]byte{
		testTypes,
		sec(3, vec([]byte{0x00}, []byte{0x01}, []byte{0x00})...),
		sec(5, vec([]byte{0x00, 0x01})...),
		sec(6, vec([]byte{0x7f, 0x01, 0x41, 0x05, 0x0b})...),
		sec(7, vec(export("_initialize", 0, 0), export("check", 0, 1), export("dirty", 0, 2))...),
		sec(10, vec(init, check, dirty)...),
		sec(11, vec([]byte{0x00, 0x41, 0x10, 0x0b, 0x02, 'h', 'i'})...),
	}
	return module(append(secs, extra...)...)
}

func compileTest(t *testing.T, wasm []byte, opts Options) *wazeroModule {
	t.Helper()
	e, err := NewWazero(WazeroConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	m, err := e.Compile(context.Background(), wasm, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m.(*wazeroModule)
}

// TestSnapshotRestoresState checks memory, data and globals of restored
// instances, and that one instance's writes reach neither the snapshot nor
// a later instance.
func TestSnapshotRestoresState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := compileTest(t, stateModule(), Options{})
	if m.plan == nil {
		t.Fatal("the state module does not qualify for a snapshot")
	}
	for n := range 4 {
		inst, err := m.Instantiate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.snap.Load() == nil {
			t.Fatalf("instance %d: no snapshot taken", n)
		}
		if _, err := inst.Call(ctx, "check", nil); err != nil {
			t.Fatalf("instance %d: state not restored: %v", n, err)
		}
		if _, err := inst.Call(ctx, "dirty", nil); err != nil {
			t.Fatal(err)
		}
		if _, err := inst.Call(ctx, "check", nil); err == nil {
			t.Fatal("dirty changed nothing: the check cannot fail")
		}
		inst.Close(ctx)
	}
	if runtime.GOOS == "linux" && m.snap.Load().mapped == nil {
		t.Fatal("on linux the snapshot is not mapped copy-on-write")
	}
	if runtime.GOOS == "linux" && m.snap.Load().mem != nil {
		t.Fatal("the mapped image is also kept in the Go heap")
	}
	if m.plan.data.Load() != nil {
		t.Fatal("the data segments (and the module's file) are kept after the snapshot")
	}
	img, err := m.snap.Load().image()
	if err != nil {
		t.Fatal(err)
	}
	if img[0] != 7 || img[16] != 'h' {
		t.Fatalf("an instance's write reached the snapshot: mem[0]=%d mem[16]=%q", img[0], img[16])
	}
}

// TestSnapshotFallsBackOnTableMutation: a module whose _initialize fills
// its table needs that done in every instance; a snapshot (which does not
// carry tables) would leave the slot empty and check would trap.
func TestSnapshotFallsBackOnTableMutation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	wasm := module(
		testTypes,
		sec(3, vec([]byte{0x00}, []byte{0x01}, []byte{0x01})...),
		sec(4, vec([]byte{0x70, 0x00, 0x01})...),
		sec(5, vec([]byte{0x00, 0x01})...),
		sec(7, vec(export("_initialize", 0, 0), export("check", 0, 1))...),
		sec(9, vec([]byte{0x03, 0x00, 0x01, 0x02})...), // declares func 2 for ref.func
		sec(10, vec(
			fnBody(0x41, 0x00, 0xd2, 0x02, 0x26, 0x00, 0x0b), // table.set 0 (ref.func 2)
			fnBody(0x41, 0x00, 0x11, 0x01, 0x00, 0x0b),       // call_indirect slot 0
			fnBody(0x41, 0x00, 0x0b),                         // return 0
		)...),
	)
	_, plan, why, err := instrumentLoops(wasm, true)
	if err != nil {
		t.Fatal(err)
	}
	if plan != nil || !strings.Contains(why, "table") {
		t.Fatalf("a module mutating its table qualified for a snapshot (why %q)", why)
	}
	m := compileTest(t, wasm, Options{})
	for n := range 3 {
		inst, err := m.Instantiate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := inst.Call(ctx, "check", nil); err != nil {
			t.Fatalf("instance %d: %v", n, err)
		}
		inst.Close(ctx)
	}
}

// TestSnapshotNotTakenAfterHostCall: host functions reach state outside
// the instance, so an _initialize that calls one runs in every instance.
func TestSnapshotNotTakenAfterHostCall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	imports := sec(2, vec(
		append(append(appendName(nil, "extism:host/env"), appendName(nil, "alloc")...), 0x00, 0x02),
		append(append(appendName(nil, "ns"), appendName(nil, "f")...), 0x00, 0x02),
	)...)
	wasm := module(
		testTypes,
		imports,
		sec(3, vec([]byte{0x00})...),
		sec(5, vec([]byte{0x00, 0x01})...),
		sec(7, vec(export("_initialize", 0, 2))...),
		sec(10, vec(fnBody(0x42, 0x01, 0x10, 0x00, 0x10, 0x01, 0x1a, 0x0b))...),
	)
	var calls atomic.Int32
	m := compileTest(t, wasm, Options{Namespace: "ns", HostFuncs: []HostFunc{{Name: "f", Fn: func(context.Context, []byte) []byte {
		calls.Add(1)
		return nil
	}}}})
	if m.plan == nil {
		t.Fatal("the module should qualify until its _initialize runs")
	}
	for range 3 {
		inst, err := m.Instantiate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		inst.Close(ctx)
	}
	if got := calls.Load(); got != 3 {
		t.Fatalf("_initialize ran %d times for 3 instances", got)
	}
	if m.snap.Load() != nil || !m.noSnap.Load() {
		t.Fatal("a snapshot was taken after _initialize called a host function")
	}
}

// TestPlanSnapshotRejects lists what keeps a module off snapshots.
func TestPlanSnapshotRejects(t *testing.T) {
	t.Parallel()
	base := func(replace map[byte][]byte, extra ...[]byte) []byte {
		secs := map[byte][]byte{
			1:  testTypes,
			3:  sec(3, vec([]byte{0x00}, []byte{0x01}, []byte{0x00})...),
			5:  sec(5, vec([]byte{0x00, 0x01})...),
			6:  sec(6, vec([]byte{0x7f, 0x01, 0x41, 0x05, 0x0b})...),
			7:  sec(7, vec(export("_initialize", 0, 0))...),
			10: sec(10, vec(fnBody(0x0b), fnBody(0x41, 0x00, 0x0b), fnBody(0x0b))...),
			11: sec(11, vec([]byte{0x00, 0x41, 0x10, 0x0b, 0x02, 'h', 'i'})...),
		}
		for id, s := range replace {
			secs[id] = s
		}
		var out [][]byte
		for _, id := range []byte{1, 2, 3, 5, 6, 7, 8, 10, 11} {
			if s, ok := secs[id]; ok && s != nil {
				out = append(out, s)
			}
		}
		return module(append(out, extra...)...)
	}
	if _, plan, why, err := instrumentLoops(base(nil), true); err != nil || plan == nil {
		t.Fatalf("the base module does not qualify: %q, %v", why, err)
	}
	code := func(body ...byte) map[byte][]byte {
		return map[byte][]byte{10: sec(10, vec(fnBody(body...), fnBody(0x41, 0x00, 0x0b), fnBody(0x0b))...)}
	}
	for _, tc := range []struct {
		name, why string
		wasm      []byte
	}{
		{"start function", "start", base(map[byte][]byte{8: sec(8, 0x00)})},
		{"imported global", "imports globals", base(map[byte][]byte{2: sec(2, vec(
			append(append(appendName(nil, "env"), appendName(nil, "g")...), 0x03, 0x7f, 0x00))...)})},
		{"imported memory", "memory of its own", base(map[byte][]byte{5: nil, 2: sec(2, vec(
			append(append(appendName(nil, "env"), appendName(nil, "m")...), 0x02, 0x00, 0x01))...)})},
		{"two memories", "2 memories", base(map[byte][]byte{5: sec(5, vec([]byte{0x00, 0x01}, []byte{0x00, 0x01})...)})},
		{"shared memory", "shared", base(map[byte][]byte{5: sec(5, vec([]byte{0x03, 0x01, 0x02})...)})},
		{"funcref global", "type 0x70", base(map[byte][]byte{6: sec(6, vec([]byte{0x70, 0x01, 0xd0, 0x70, 0x0b})...)})},
		{"passive data", "passive", base(map[byte][]byte{11: sec(11, vec([]byte{0x01, 0x02, 'h', 'i'})...)})},
		{"offset from a global", "non-constant", base(map[byte][]byte{11: sec(11, vec([]byte{0x00, 0x23, 0x00, 0x0b, 0x02, 'h', 'i'})...)})},
		{"table.grow", "table", base(code(0xd0, 0x70, 0x41, 0x01, 0xfc, 0x0f, 0x00, 0x1a, 0x0b))},
		{"table.fill", "table", base(code(0x41, 0x00, 0xd0, 0x70, 0x41, 0x01, 0xfc, 0x11, 0x00, 0x0b))},
		{"elem.drop", "table", base(code(0xfc, 0x0d, 0x00, 0x0b))},
		{"memory.init", "memory.init", base(code(0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x08, 0x00, 0x00, 0x0b))},
		{"data.drop", "data.drop", base(code(0xfc, 0x09, 0x00, 0x0b))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, plan, why, err := instrumentLoops(tc.wasm, true)
			if err != nil {
				t.Fatal(err)
			}
			if plan != nil || !strings.Contains(why, tc.why) {
				t.Fatalf("plan %v, why %q; want a refusal naming %q", plan != nil, why, tc.why)
			}
		})
	}
}

// TestSnapshotDisabled: NoSnapshots compiles the module unchanged but for
// the loop instrumentation, and every instance initialises itself.
func TestSnapshotDisabled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, err := NewWazero(WazeroConfig{NoSnapshots: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	mod, err := e.Compile(ctx, stateModule(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(ctx)
	m := mod.(*wazeroModule)
	inst, err := m.Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close(ctx)
	if _, err := inst.Call(ctx, "check", nil); err != nil {
		t.Fatal(err)
	}
	if m.plan != nil || m.snap.Load() != nil {
		t.Fatal("NoSnapshots took a snapshot")
	}
}

func TestReaderS32(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   []byte
		want int32
	}{
		{[]byte{0x00}, 0},
		{[]byte{0x10}, 16},
		{[]byte{0x7f}, -1},
		{[]byte{0x80, 0x20}, 4096},
		{[]byte{0x80, 0x7f}, -128},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x07}, 1<<31 - 1},
		{[]byte{0x80, 0x80, 0x80, 0x80, 0x78}, -1 << 31},
	} {
		r := &reader{b: tc.in}
		if got := r.s32(); got != tc.want || r.err != nil {
			t.Errorf("s32(% x) = %d, %v; want %d", tc.in, got, r.err, tc.want)
		}
	}
	r := &reader{b: []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x01}}
	if r.s32(); r.err == nil {
		t.Fatal("an over-long s32 was accepted")
	}
}

// TestSnapshotNotTakenAfterInitRandomness: a Go guest that draws a key in
// a package init gets no snapshot, so its instances keep distinct keys.
func TestSnapshotNotTakenAfterInitRandomness(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	wasm, err := os.ReadFile(wasmbuild.Build(t, filepath.Join("testdata", "randinit")))
	if err != nil {
		t.Fatal(err)
	}
	m := compileTest(t, wasm, Options{})
	if m.plan == nil || m.plan.runtimeRandReads != 1 {
		t.Fatal("the Go guest should qualify, with the Go runtime's one read allowed")
	}
	keys := map[string]bool{}
	for range 3 {
		inst, err := m.Instantiate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out, err := inst.Call(ctx, "key", nil)
		if err != nil || len(out) != 32 {
			t.Fatalf("key = %q, %v", out, err)
		}
		keys[string(out)] = true
		inst.Close(ctx)
	}
	if len(keys) != 3 {
		t.Fatalf("3 instances share keys drawn at init: %v", keys)
	}
	if m.snap.Load() != nil || !m.noSnap.Load() {
		t.Fatal("a snapshot was taken after _initialize read random bytes")
	}
	if m.plan.data.Load() == nil {
		t.Fatal("the data segments were dropped, yet every instance initialises itself")
	}
}

// TestSnapshotFirstInstancesConcurrently: instances created at once on a
// module without a snapshot yet all initialise themselves or restore;
// none finds the data segments dropped under it by the one that made the
// snapshot (run with -race).
func TestSnapshotFirstInstancesConcurrently(t *testing.T) {
	t.Parallel()
	const rounds, workers = 20, 8
	for range rounds {
		m := compileTest(t, stateModule(), Options{})
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for range workers {
			wg.Go(func() {
				ctx := context.Background()
				inst, err := m.Instantiate(ctx)
				if err != nil {
					errs <- err
					return
				}
				defer inst.Close(ctx)
				if _, err := inst.Call(ctx, "check", nil); err != nil {
					errs <- fmt.Errorf("state not restored: %w", err)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if m.snap.Load() == nil {
			t.Fatal("no snapshot taken")
		}
	}
}
