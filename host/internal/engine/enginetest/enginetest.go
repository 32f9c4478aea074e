// Package enginetest is the conformance suite of the engine seam: every
// engine.Engine implementation runs it, so the direct wazero engine and the
// Extism go-sdk engine (the oracle) promise the same behaviour — calls,
// large input and output, every error class, deadlines against hostile
// guests, the memory cap, host functions, bounded log capture, real clocks
// and randomness, no filesystem, concurrency and close while running.
//
// The test guest (testdata/guest) speaks the raw Extism ABI through go-pdk
// and is built once per test process; a second guest (testdata/as) is
// AssemblyScript built with the pinned compiler and @extism/as-pdk, and
// checks AssemblyScript's env imports and the kernel's log functions.
package enginetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authhost/authhost/host/internal/engine"
	"github.com/authhost/authhost/internal/testenv/ascbuild"
	"github.com/authhost/authhost/internal/testenv/wasmbuild"
)

// Namespace is the import module of the suite's host functions.
const Namespace = "enginetest"

// StopBound is how long after its deadline a hostile call must have
// returned. The design target is deadline + 50 ms; the bound is generous
// so a loaded CI machine does not flake, while a deadline that is not
// enforced at all still fails.
const StopBound = 750 * time.Millisecond

// NewEngine creates the engine under test; the suite closes it.
type NewEngine func(t testing.TB) engine.Engine

// GuestWasm builds the suite's test guest (once per process) and returns
// its bytes.
func GuestWasm(t testing.TB) []byte {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("enginetest: cannot locate the test guest")
	}
	raw, err := os.ReadFile(wasmbuild.Build(t, filepath.Join(filepath.Dir(file), "testdata", "guest")))
	if err != nil {
		t.Fatalf("enginetest: read guest: %v", err)
	}
	return raw
}

type ctxKey struct{}

// HostFuncs are the suite's host functions: echo returns its request and
// records the ctx value under ctxKey it saw; block returns only once the
// call's ctx is done.
func hostFuncs(seen *sync.Map) []engine.HostFunc {
	return []engine.HostFunc{
		{Name: "echo", MaxInput: 64 << 10, Fn: func(ctx context.Context, in []byte) []byte {
			if v, ok := ctx.Value(ctxKey{}).(string); ok {
				seen.Store(v, true)
			}
			return in
		}},
		{Name: "block", Fn: func(ctx context.Context, in []byte) []byte {
			<-ctx.Done()
			return []byte(`{}`)
		}},
	}
}

// records captures log records: the messages, and each record in full as
// "LEVEL message key=value ...".
type records struct {
	mu   sync.Mutex
	msgs []string
	full []string
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) Handle(ctx context.Context, rec slog.Record) error {
	return r.handle(rec, nil)
}

func (r *records) handle(rec slog.Record, pre []slog.Attr) error {
	line := rec.Level.String() + " " + rec.Message
	for _, a := range pre {
		line += " " + a.String()
	}
	rec.Attrs(func(a slog.Attr) bool {
		line += " " + a.String()
		return true
	})
	r.mu.Lock()
	r.msgs = append(r.msgs, rec.Message)
	r.full = append(r.full, line)
	r.mu.Unlock()
	return nil
}
func (r *records) WithAttrs(as []slog.Attr) slog.Handler {
	return &withAttrs{r: r, attrs: as}
}
func (r *records) WithGroup(string) slog.Handler { return r }

func (r *records) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}

// fixture is one engine and one compiled guest.
type fixture struct {
	mod  engine.Module
	seen *sync.Map
	logs *records
}

func newFixture(t *testing.T, eng engine.Engine, mutate func(*engine.Options)) *fixture {
	t.Helper()
	ctx := context.Background()
	wasm := GuestWasm(t)
	f := &fixture{seen: &sync.Map{}, logs: &records{}}
	opts := engine.Options{
		Namespace:   Namespace,
		HostFuncs:   hostFuncs(f.seen),
		MemoryPages: 1024,
		Config:      map[string]string{"greeting": "hello", "empty": ""},
		Logger:      slog.New(f.logs),
		MaxLogLine:  64,
	}
	if mutate != nil {
		mutate(&opts)
	}
	mod, err := eng.Compile(ctx, wasm, opts)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	f.mod = mod
	t.Cleanup(func() { mod.Close(ctx) })
	return f
}

func (f *fixture) instance(t *testing.T) engine.Instance {
	t.Helper()
	inst, err := f.mod.Instantiate(context.Background())
	if err != nil {
		t.Fatalf("instantiate: %v", err)
	}
	t.Cleanup(func() { inst.Close(context.Background()) })
	return inst
}

// Run runs the whole suite against the engine newEngine creates. Each
// subtest compiles the guest into a fresh module of that one engine (its
// compilation cache makes every compile after the first cheap).
func Run(t *testing.T, newEngine NewEngine) {
	eng := newEngine(t)
	t.Cleanup(func() { eng.Close(context.Background()) })
	t.Run("Calls", func(t *testing.T) { testCalls(t, eng) })
	t.Run("Exports", func(t *testing.T) { testExports(t, eng) })
	t.Run("ErrorClasses", func(t *testing.T) { testErrorClasses(t, eng) })
	t.Run("Deadlines", func(t *testing.T) { testDeadlines(t, eng) })
	t.Run("MemoryCap", func(t *testing.T) { testMemoryCap(t, eng) })
	t.Run("HostFuncs", func(t *testing.T) { testHostFuncs(t, eng) })
	t.Run("Logs", func(t *testing.T) { testLogs(t, eng) })
	t.Run("ClockAndEntropy", func(t *testing.T) { testClockAndEntropy(t, eng) })
	t.Run("NoFilesystem", func(t *testing.T) { testNoFilesystem(t, eng) })
	t.Run("ConfigAndVars", func(t *testing.T) { testConfigAndVars(t, eng) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, eng) })
	t.Run("Isolation", func(t *testing.T) { testIsolation(t, eng) })
	t.Run("CloseWhileRunning", func(t *testing.T) { testCloseWhileRunning(t, eng) })
	t.Run("AssemblyScript", func(t *testing.T) { testAS(t, eng) })
}

func call(t *testing.T, inst engine.Instance, export string, in []byte) []byte {
	t.Helper()
	out, err := inst.Call(context.Background(), export, in)
	if err != nil {
		t.Fatalf("%s: %v", export, err)
	}
	return out
}

func testCalls(t *testing.T, eng engine.Engine) {
	f := newFixture(t, eng, nil)
	inst := f.instance(t)
	if out := call(t, inst, "noop", nil); len(out) != 0 {
		t.Fatalf("noop output = %q, want empty", out)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"one byte", []byte("x")},
		{"not a multiple of 8", []byte("123456789")},
		{"binary", []byte{0, 0xff, '\n', 0, 0x80, 0x7f, 1}},
		{"unicode", []byte("ａｄｍｉｎ — пароль 🔑 \u202e")},
		{"json null", []byte("null")},
		{"1 MiB", big},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := call(t, inst, "echo", tc.in)
			if !bytes.Equal(out, tc.in) {
				t.Fatalf("echo returned %d bytes, want %d identical", len(out), len(tc.in))
			}
		})
	}
	t.Run("large output", func(t *testing.T) {
		for _, n := range []int{0, 7, 8, 65537, 4 << 20} {
			out := call(t, inst, "big", []byte(strconv.Itoa(n)))
			if len(out) != n {
				t.Fatalf("big %d returned %d bytes", n, len(out))
			}
			for i, c := range out {
				if c != byte('a'+i%26) {
					t.Fatalf("big %d: byte %d = %q", n, i, c)
				}
			}
		}
	})
	t.Run("repeated calls keep state clean", func(t *testing.T) {
		for i := range 200 {
			in := []byte(fmt.Sprintf("call %d %s", i, strings.Repeat("y", i)))
			if out := call(t, inst, "echo", in); !bytes.Equal(out, in) {
				t.Fatalf("call %d: got %q", i, out)
			}
			if out := call(t, inst, "noop", nil); len(out) != 0 {
				t.Fatalf("noop after echo %d leaked output %q", i, out)
			}
		}
	})
}

func testExports(t *testing.T, eng engine.Engine) {
	f := newFixture(t, eng, nil)
	ex := f.instance(t).Exports()
	for _, name := range []string{"noop", "echo", "spin", "hostecho"} {
		if !ex[name] {
			t.Errorf("Exports lacks %q", name)
		}
	}
	for _, name := range []string{"", "nope", "memory", "NOOP"} {
		if ex[name] {
			t.Errorf("Exports has %q", name)
		}
	}
}

func testErrorClasses(t *testing.T, eng engine.Engine) {
	f := newFixture(t, eng, nil)
	ctx := context.Background()
	t.Run("no export keeps the instance", func(t *testing.T) {
		inst := f.instance(t)
		for _, name := range []string{"nope", "", "ｎｏｏｐ", "noop\x00", "memory"} {
			if _, err := inst.Call(ctx, name, nil); !errors.Is(err, engine.ErrNoExport) {
				t.Fatalf("Call(%q) = %v, want ErrNoExport", name, err)
			}
		}
		if out := call(t, inst, "echo", []byte("still fine")); string(out) != "still fine" {
			t.Fatalf("after ErrNoExport: %q", out)
		}
	})
	for _, tc := range []struct{ export string }{{"panic"}, {"fail"}, {"code"}} {
		t.Run(tc.export, func(t *testing.T) {
			inst := f.instance(t)
			_, err := inst.Call(ctx, tc.export, nil)
			if !errors.Is(err, engine.ErrTrap) {
				t.Fatalf("%s: err = %v, want ErrTrap", tc.export, err)
			}
			if _, err := inst.Call(ctx, "noop", nil); err == nil {
				t.Fatalf("the instance answered after %s; a failed instance must not be reusable", tc.export)
			}
		})
	}
	t.Run("closed", func(t *testing.T) {
		inst := f.instance(t)
		if err := inst.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := inst.Call(ctx, "noop", nil); !errors.Is(err, engine.ErrClosed) {
			t.Fatalf("call after Close = %v, want ErrClosed", err)
		}
		if err := inst.Close(ctx); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})
	t.Run("canceled before the call", func(t *testing.T) {
		inst := f.instance(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := inst.Call(cctx, "noop", nil); !errors.Is(err, engine.ErrTimeout) {
			t.Fatalf("call with canceled ctx = %v, want ErrTimeout", err)
		}
	})
}

// stopped calls export with a deadline and checks that it returns
// ErrTimeout within StopBound after the deadline.
func stopped(t *testing.T, inst engine.Instance, export string, timeout time.Duration, timer bool) {
	t.Helper()
	ctx := engine.CallDeadline(context.Background(), time.Now().Add(timeout))
	if timer {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), timeout)
		defer cancel()
	}
	start := time.Now()
	_, err := inst.Call(ctx, export, nil)
	late := time.Since(start) - timeout
	if !errors.Is(err, engine.ErrTimeout) {
		t.Fatalf("%s: err = %v, want ErrTimeout", export, err)
	}
	if late > StopBound {
		t.Fatalf("%s stopped %v after its deadline, bound %v", export, late, StopBound)
	}
	t.Logf("%s stopped %v after its deadline", export, late.Round(time.Millisecond))
	if _, err := inst.Call(context.Background(), "noop", nil); err == nil {
		t.Fatalf("instance answered after a timeout in %s", export)
	}
}

// testDeadlines is the hostile set: a spinning guest, a guest blocked in a
// host function and then spinning, a guest churning memory.
func testDeadlines(t *testing.T, eng engine.Engine) {
	f := newFixture(t, eng, nil)
	for _, export := range []string{"spin", "hostblock", "churn"} {
		t.Run(export, func(t *testing.T) {
			stopped(t, f.instance(t), export, 100*time.Millisecond, true)
		})
		t.Run(export+" with CallDeadline", func(t *testing.T) {
			stopped(t, f.instance(t), export, 100*time.Millisecond, false)
		})
	}
	// Native code cannot be preempted: a guest that never returns to Go
	// would stall every stop-the-world of the host (GC) until its deadline.
	t.Run("GC runs while a guest spins", func(t *testing.T) {
		inst := f.instance(t)
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_, err := inst.Call(ctx, "spin", nil)
			done <- err
		}()
		time.Sleep(30 * time.Millisecond)
		start := time.Now()
		runtime.GC()
		if d := time.Since(start); d > time.Second {
			t.Fatalf("runtime.GC took %v while a guest spun: the guest blocks stop-the-world", d)
		} else {
			t.Logf("runtime.GC took %v while a guest spun", d.Round(time.Microsecond))
		}
		if err := <-done; !errors.Is(err, engine.ErrTimeout) {
			t.Fatalf("spin: %v, want ErrTimeout", err)
		}
	})
	t.Run("deadline far away costs nothing", func(t *testing.T) {
		inst := f.instance(t)
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		for range 100 {
			if out, err := inst.Call(ctx, "echo", []byte("x")); err != nil || string(out) != "x" {
				t.Fatalf("echo = %q, %v", out, err)
			}
		}
	})
	t.Run("each call its own deadline", func(t *testing.T) {
		// Generous enough for a loaded CI box (the Extism engine starts the
		// Go runtime on an instance's first call); what is tested is that
		// no deadline outlives its call.
		const callBudget = 400 * time.Millisecond
		inst := f.instance(t)
		for range 20 {
			ctx, cancel := context.WithTimeout(context.Background(), callBudget)
			_, err := inst.Call(ctx, "sleep", []byte("1"))
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			_, err = inst.Call(engine.CallDeadline(context.Background(), time.Now().Add(callBudget)), "hostecho", []byte("1"))
			if err != nil {
				t.Fatal(err)
			}
		}
		// An earlier, finished call's deadline must not kill a later one.
		time.Sleep(callBudget + 30*time.Millisecond)
		if _, err := inst.Call(context.Background(), "noop", nil); err != nil {
			t.Fatalf("noop after expired deadlines of finished calls: %v", err)
		}
	})
}

func testMemoryCap(t *testing.T, eng engine.Engine) {
	f := newFixture(t, eng, func(o *engine.Options) { o.MemoryPages = 256 }) // 16 MiB
	inst := f.instance(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := inst.Call(ctx, "grow", nil)
	if !errors.Is(err, engine.ErrTrap) {
		t.Fatalf("grow: err = %v, want ErrTrap", err)
	}
	t.Run("output past the cap", func(t *testing.T) {
		inst := f.instance(t)
		_, err := inst.Call(ctx, "big", []byte(strconv.Itoa(32<<20)))
		if !errors.Is(err, engine.ErrTrap) {
			t.Fatalf("big 32 MiB under a 16 MiB cap: err = %v, want ErrTrap", err)
		}
	})
}

func testHostFuncs(t *testing.T, eng engine.Engine) {
	f := newFixture(t, eng, nil)
	inst := f.instance(t)
	for _, in := range [][]byte{[]byte(`{"a":1}`), []byte("null"), {}, bytes.Repeat([]byte("é"), 30000)} {
		ctx := context.WithValue(context.Background(), ctxKey{}, fmt.Sprintf("call-%d", len(in)))
		out, err := inst.Call(ctx, "hostecho", in)
		if err != nil {
			t.Fatalf("hostecho: %v", err)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("hostecho returned %d bytes, want %d", len(out), len(in))
		}
		if _, ok := f.seen.Load(fmt.Sprintf("call-%d", len(in))); !ok {
			t.Fatal("the host function did not see the ctx of the call")
		}
	}
	t.Run("request over MaxInput traps", func(t *testing.T) {
		inst := f.instance(t)
		_, err := inst.Call(context.Background(), "hostecho", make([]byte, 64<<10+1))
		if !errors.Is(err, engine.ErrTrap) {
			t.Fatalf("err = %v, want ErrTrap", err)
		}
	})
	t.Run("missing host function fails instantiation", func(t *testing.T) {
		g := newFixture(t, eng, func(o *engine.Options) { o.HostFuncs = o.HostFuncs[:1] })
		if inst, err := g.mod.Instantiate(context.Background()); err == nil {
			inst.Close(context.Background())
			t.Fatal("instantiated a guest whose import block is missing")
		}
	})
}

func testLogs(t *testing.T, eng engine.Engine) {
	f := newFixture(t, eng, nil)
	inst := f.instance(t)
	long := strings.Repeat("L", 1000)
	call(t, inst, "print", []byte("first line\n"+long+"\nno newline"))
	got := f.logs.all()
	want := map[string]int{"first line": 2, "no newline": 2, "extism log: first line": 1}
	for _, m := range got {
		if _, ok := want[m]; ok {
			want[m]--
		}
		if len(m) > 64+len("…(truncated)") {
			t.Errorf("captured line of %d bytes, bound 64", len(m))
		}
	}
	for m, n := range want {
		if n != 0 {
			t.Errorf("line %q: %d missing (got %q)", m, n, got)
		}
	}
	truncated := 0
	for _, m := range got {
		if strings.HasPrefix(m, "LLLL") && strings.HasSuffix(m, "…(truncated)") {
			truncated++
		}
	}
	if truncated != 2 {
		t.Errorf("long line captured truncated %d times, want 2 (stdout, stderr): %q", truncated, got)
	}
	t.Run("flood is bounded", func(t *testing.T) {
		f := newFixture(t, eng, nil)
		inst := f.instance(t)
		call(t, inst, "print", bytes.Repeat([]byte("x\n"), 5000))
		if n := len(f.logs.all()); n > 2*1000+10 {
			t.Fatalf("%d lines captured from a flood of 10000, want a bound near 2000", n)
		}
	})
	t.Run("nil logger discards", func(t *testing.T) {
		f := newFixture(t, eng, func(o *engine.Options) { o.Logger = nil })
		call(t, f.instance(t), "print", []byte("dropped\n"))
		if got := f.logs.all(); len(got) != 0 {
			t.Fatalf("captured %q with a nil logger", got)
		}
	})
}

func testClockAndEntropy(t *testing.T, eng engine.Engine) {
	f := newFixture(t, eng, nil)
	a, b := f.instance(t), f.instance(t)
	ra := strings.Fields(string(call(t, a, "entropy", nil)))
	rb := strings.Fields(string(call(t, b, "entropy", nil)))
	if len(ra) != 2 || len(rb) != 2 {
		t.Fatalf("entropy output %q %q", ra, rb)
	}
	if ra[0] == rb[0] {
		t.Fatalf("two instances drew the same random bytes %s: the CSPRNG is deterministic", ra[0])
	}
	for _, r := range [][]string{ra, rb} {
		ns, err := strconv.ParseInt(r[1], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(time.Unix(0, ns)); d < -time.Minute || d > time.Minute {
			t.Fatalf("guest wall clock is off by %v: the clock is fake", d)
		}
	}
	start := time.Now()
	ms, err := strconv.Atoi(string(call(t, a, "sleep", []byte("30"))))
	if err != nil {
		t.Fatal(err)
	}
	if ms < 30 || time.Since(start) < 30*time.Millisecond {
		t.Fatalf("sleep 30 ms measured %d ms in the guest, %v on the host: sleep or monotonic clock is fake", ms, time.Since(start))
	}
}

func testNoFilesystem(t *testing.T, eng engine.Engine) {
	f := newFixture(t, eng, nil)
	got := string(call(t, f.instance(t), "fs", nil))
	if want := "read:denied list:denied listcwd:denied create:denied"; got != want {
		t.Fatalf("filesystem access %q, want %q", got, want)
	}
}

func testConfigAndVars(t *testing.T, eng engine.Engine) {
	f := newFixture(t, eng, nil)
	inst := f.instance(t)
	for _, tc := range []struct{ key, want string }{
		{"greeting", "hello"},
		{"missing", "<none>"},
		{"empty", "<none>"}, // go-pdk reads an empty value as absent
		{"GREETING", "<none>"},
		{"greeting\x00", "<none>"},
	} {
		if got := string(call(t, inst, "config", []byte(tc.key))); got != tc.want {
			t.Errorf("config %q = %q, want %q", tc.key, got, tc.want)
		}
	}
	if got := string(call(t, inst, "vars", []byte("one"))); got != "|one" {
		t.Fatalf("first vars = %q", got)
	}
	if got := string(call(t, inst, "vars", []byte("two"))); got != "one|two" {
		t.Fatalf("vars did not persist across calls: %q", got)
	}
	if got := string(call(t, f.instance(t), "vars", []byte("x"))); got != "|x" {
		t.Fatalf("vars leaked between instances: %q", got)
	}
}

func testConcurrency(t *testing.T, eng engine.Engine) {
	f := newFixture(t, eng, nil)
	const workers, calls = 6, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inst, err := f.mod.Instantiate(context.Background())
			if err != nil {
				errs <- err
				return
			}
			defer inst.Close(context.Background())
			for i := range calls {
				in := []byte(fmt.Sprintf("worker %d call %d %s", w, i, strings.Repeat("z", w*i)))
				export := "echo"
				if i%3 == 0 {
					export = "hostecho"
				}
				out, err := inst.Call(context.Background(), export, in)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(out, in) {
					errs <- fmt.Errorf("worker %d call %d got %q", w, i, out)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// testIsolation checks that an instance's writes (package variables, heap
// bytes, Extism variables) never reach another instance, whether created
// before, after or at the same time, nor a closed instance's successor.
func testIsolation(t *testing.T, eng engine.Engine) {
	f := newFixture(t, eng, nil)
	a := f.instance(t)
	for i, want := range []string{"1|", "2|first", "3|second"} {
		in := []string{"first", "second", "third"}[i]
		if got := call(t, a, "count", []byte(in)); string(got) != want {
			t.Fatalf("instance a call %d: count = %q, want %q", i, got, want)
		}
	}
	call(t, a, "vars", []byte("a's secret"))
	b := f.instance(t)
	if got := call(t, b, "count", []byte("b")); string(got) != "1|" {
		t.Fatalf("a new instance saw another's state: count = %q", got)
	}
	if got := call(t, b, "vars", []byte("b")); string(got) != "|b" {
		t.Fatalf("a new instance saw another's variables: vars = %q", got)
	}
	if got := call(t, a, "count", nil); string(got) != "4|third" {
		t.Fatalf("instance a after b ran: count = %q", got)
	}
	a.Close(context.Background())
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			inst, err := f.mod.Instantiate(context.Background())
			if err != nil {
				errs <- err
				return
			}
			defer inst.Close(context.Background())
			for i := range 3 {
				in := []byte(fmt.Sprintf("w%d-%d", w, i))
				out, err := inst.Call(context.Background(), "count", in)
				want := fmt.Sprintf("%d|", i+1)
				if i > 0 {
					want += fmt.Sprintf("w%d-%d", w, i-1)
				}
				if err != nil || string(out) != want {
					errs <- fmt.Errorf("worker %d call %d: count = %q, %v; want %q", w, i, out, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func testCloseWhileRunning(t *testing.T, eng engine.Engine) {
	for _, what := range []string{"instance", "module"} {
		t.Run(what, func(t *testing.T) {
			f := newFixture(t, eng, nil)
			inst := f.instance(t)
			call(t, inst, "noop", nil)
			done := make(chan error, 1)
			go func() {
				_, err := inst.Call(context.Background(), "spin", nil)
				done <- err
			}()
			time.Sleep(50 * time.Millisecond)
			start := time.Now()
			var err error
			if what == "instance" {
				err = inst.Close(context.Background())
			} else {
				err = f.mod.Close(context.Background())
			}
			if err != nil {
				t.Fatalf("close: %v", err)
			}
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("a spinning call closed under it returned no error")
				}
				t.Logf("stopped %v after close: %v", time.Since(start).Round(time.Millisecond), err)
			case <-time.After(StopBound + time.Second):
				t.Fatal("closing did not stop the spinning call")
			}
		})
	}
}

// asGuest builds the AssemblyScript guest the way the authoring guide says:
// module-level code moved into _initialize.
func asGuest(t *testing.T) []byte {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	p := ascbuild.Build(t, filepath.Join(filepath.Dir(file), "testdata", "as", "guest.ts"), "-O2", "--exportStart", "_initialize")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withAttrs is a records handler with attributes added by Logger.With.
type withAttrs struct {
	r     *records
	attrs []slog.Attr
}

func (w *withAttrs) Enabled(context.Context, slog.Level) bool { return true }
func (w *withAttrs) Handle(_ context.Context, rec slog.Record) error {
	return w.r.handle(rec, w.attrs)
}
func (w *withAttrs) WithAttrs(as []slog.Attr) slog.Handler {
	return &withAttrs{r: w.r, attrs: append(append([]slog.Attr(nil), w.attrs...), as...)}
}
func (w *withAttrs) WithGroup(string) slog.Handler { return w }

func (r *records) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.full...)
}

// hasLine reports whether some captured record contains every part.
func hasLine(lines []string, parts ...string) bool {
	for _, l := range lines {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			return true
		}
	}
	return false
}

func testAS(t *testing.T, eng engine.Engine) {
	ctx := context.Background()
	wasm := asGuest(t)
	logs := &records{}
	mod, err := eng.Compile(ctx, wasm, engine.Options{
		Config:     map[string]string{"greeting": "héllo 😀"},
		Logger:     slog.New(logs).With("plugin", "as-guest"),
		MaxLogLine: 64,
	})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	t.Cleanup(func() { mod.Close(ctx) })
	inst := func(t *testing.T) engine.Instance {
		t.Helper()
		i, err := mod.Instantiate(ctx)
		if err != nil {
			t.Fatalf("instantiate: %v", err)
		}
		t.Cleanup(func() { i.Close(ctx) })
		return i
	}
	t.Run("module-level config read in _initialize", func(t *testing.T) {
		if got := string(call(t, inst(t), "greet", nil)); got != "héllo 😀" {
			t.Fatalf("greet = %q, want the config value", got)
		}
	})
	t.Run("non-ASCII round trip", func(t *testing.T) {
		i := inst(t)
		for _, s := range []string{"Carol é 😀", "plain", "", "null", "\u0000 \x01 ｅｖｅ 127.0.0.1"} {
			if got := string(call(t, i, "echo", []byte(s))); got != s {
				t.Errorf("echo(%q) = %q", s, got)
			}
		}
	})
	t.Run("kernel log and env console", func(t *testing.T) {
		call(t, inst(t), "logs", nil)
		lines := logs.lines()
		for _, want := range [][]string{
			{"INFO as info line", "plugin=as-guest"},
			{"WARN as warn line", "plugin=as-guest"},
			{"ERROR as error line", "plugin=as-guest"},
			{"DEBUG as console line é", "plugin=as-guest", "via=console.log"},
			{"DEBUG as trace line 1.5 2.5", "plugin=as-guest", "via=trace"},
		} {
			if !hasLine(lines, want...) {
				t.Errorf("no log line with %q in %q", want, lines)
			}
		}
		if hasLine(lines, "as debug line") {
			t.Errorf("a kernel debug line was logged (the host's guest log level is info): %q", lines)
		}
	})
	t.Run("abort logs where and traps", func(t *testing.T) {
		_, err := inst(t).Call(ctx, "crash", nil)
		if !errors.Is(err, engine.ErrTrap) {
			t.Fatalf("crash: %v, want ErrTrap", err)
		}
		if !strings.Contains(err.Error(), "Index out of range") {
			t.Errorf("the trap error lost the abort message: %v", err)
		}
		if lines := logs.lines(); !hasLine(lines, "ERROR guest aborted: Index out of range", "where=~lib/array.ts:", "plugin=as-guest") {
			t.Errorf("no abort line with message, file:line:col and plugin in %q", lines)
		}
	})
	t.Run("seed and Date.now", func(t *testing.T) {
		before := time.Now().UnixMilli()
		f := strings.Fields(string(call(t, inst(t), "entropy", nil)))
		after := time.Now().UnixMilli()
		if len(f) != 2 {
			t.Fatalf("entropy output %q", f)
		}
		r, err1 := strconv.ParseFloat(f[0], 64)
		now, err2 := strconv.ParseFloat(f[1], 64)
		if err1 != nil || err2 != nil || r < 0 || r >= 1 {
			t.Fatalf("Math.random() = %q, Date.now() = %q", f[0], f[1])
		}
		if int64(now) < before || int64(now) > after {
			t.Errorf("Date.now() = %d, want between %d and %d (the wall clock)", int64(now), before, after)
		}
		g := strings.Fields(string(call(t, inst(t), "entropy", nil)))
		if g[0] == f[0] {
			t.Errorf("two instances drew the same Math.random() %s: env.seed is not random", f[0])
		}
	})
	t.Run("console flood is bounded", func(t *testing.T) {
		flood := &records{}
		m, err := eng.Compile(ctx, wasm, engine.Options{Logger: slog.New(flood)})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close(ctx)
		i, err := m.Instantiate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer i.Close(ctx)
		for range 300 {
			call(t, i, "logs", nil) // 5 logged lines a call
		}
		if n := len(flood.lines()); n > 1000+5 {
			t.Fatalf("%d lines logged from 1500, want the per-instance bound of 1000 (plus its warning)", n)
		}
	})
}
