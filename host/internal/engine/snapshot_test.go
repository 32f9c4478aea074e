package engine_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/authhost/authhost/host/internal/engine"
	"github.com/authhost/authhost/host/internal/engine/enginetest"
)

// snapshotEngine is the wazero engine of these tests, shared so that its
// compilation cache compiles the guest once; compileMu makes the parallel
// tests wait for that first compile instead of each compiling too.
var (
	snapshotEngine = sync.OnceValues(func() (engine.Engine, error) { return engine.NewWazero(engine.WazeroConfig{}) })
	compileMu      sync.Mutex
)

// snapshotModule compiles the conformance guest on the wazero engine and
// creates its first instance, which takes the snapshot.
func snapshotModule(t *testing.T, pages uint32) engine.Module {
	t.Helper()
	ctx := context.Background()
	e, err := snapshotEngine()
	if err != nil {
		t.Fatal(err)
	}
	compileMu.Lock()
	defer compileMu.Unlock()
	mod, err := e.Compile(ctx, enginetest.GuestWasm(t), engine.Options{
		Namespace:   enginetest.Namespace,
		MemoryPages: pages,
		HostFuncs: []engine.HostFunc{
			{Name: "echo", Fn: func(_ context.Context, in []byte) []byte { return in }},
			{Name: "block", Fn: func(ctx context.Context, in []byte) []byte { <-ctx.Done(); return nil }},
		},
		Config: map[string]string{"greeting": "hello"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mod.Close(ctx) })
	first, err := mod.Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first.Close(ctx)
	if !engine.SnapshotTaken(mod) {
		t.Fatal("the Go guest's first instance took no snapshot")
	}
	return mod
}

func restored(t *testing.T, mod engine.Module) engine.Instance {
	t.Helper()
	inst, err := mod.Instantiate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close(context.Background()) })
	return inst
}

// TestSnapshotInstanceWorks runs the guest's ordinary exports on an
// instance restored from the snapshot: the Go runtime (allocation, GC,
// maps, fmt), host functions, config, clocks and crypto/rand.
func TestSnapshotInstanceWorks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	mod := snapshotModule(t, 1024)
	inst := restored(t, mod)
	in := bytes.Repeat([]byte("snapshot "), 5000)
	for _, export := range []string{"echo", "hostecho"} {
		out, err := inst.Call(ctx, export, in)
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("%s: %d bytes, %v", export, len(out), err)
		}
	}
	if out, err := inst.Call(ctx, "config", []byte("greeting")); err != nil || string(out) != "hello" {
		t.Fatalf("config = %q, %v", out, err)
	}
	// Real randomness per call, different in two restored instances.
	other := restored(t, mod)
	a, errA := inst.Call(ctx, "entropy", nil)
	b, errB := other.Call(ctx, "entropy", nil)
	if errA != nil || errB != nil || len(a) == 0 || bytes.Equal(a, b) {
		t.Fatalf("entropy of two restored instances: %q (%v), %q (%v)", a, errA, b, errB)
	}
	// Churning memory makes the guest's GC run over the restored heap.
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := inst.Call(cctx, "churn", nil); !errors.Is(err, engine.ErrTimeout) {
		t.Fatalf("churn: %v, want ErrTimeout", err)
	}
}

// TestSnapshotMemoryCap: a restored instance is held to the memory cap.
func TestSnapshotMemoryCap(t *testing.T) {
	t.Parallel()
	const pages = 256 // 16 MiB
	mod := snapshotModule(t, pages)
	inst := restored(t, mod)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := inst.Call(ctx, "grow", nil); !errors.Is(err, engine.ErrTrap) {
		t.Fatalf("grow: err = %v, want ErrTrap", err)
	}
	inst = restored(t, mod)
	if n := inst.MemoryBytes(); n > pages*65536+1<<20 {
		t.Fatalf("a restored instance holds %d bytes, cap %d", n, pages*65536)
	}
}

// TestSnapshotTrappedInstanceIsDiscarded: a restored instance that
// trapped refuses every later call, and the next instance (from the same
// snapshot) is intact.
func TestSnapshotTrappedInstanceIsDiscarded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	mod := snapshotModule(t, 1024)
	inst := restored(t, mod)
	if _, err := inst.Call(ctx, "count", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := inst.Call(ctx, "panic", nil); !errors.Is(err, engine.ErrTrap) {
		t.Fatalf("panic: %v, want ErrTrap", err)
	}
	if _, err := inst.Call(ctx, "noop", nil); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("call after a trap: %v, want ErrClosed", err)
	}
	next := restored(t, mod)
	if out, err := next.Call(ctx, "count", nil); err != nil || string(out) != "1|" {
		t.Fatalf("the instance after a trap: count = %q, %v", out, err)
	}
}

// TestSnapshotConcurrentInstances creates and uses many instances of one
// snapshot at once (run with -race): each sees only its own writes.
func TestSnapshotConcurrentInstances(t *testing.T) {
	t.Parallel()
	mod := snapshotModule(t, 1024)
	const workers = 16
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			ctx := context.Background()
			inst, err := mod.Instantiate(ctx)
			if err != nil {
				errs <- err
				return
			}
			defer inst.Close(ctx)
			for i := range 5 {
				in := fmt.Sprintf("worker %d call %d", w, i)
				out, err := inst.Call(ctx, "count", []byte(in))
				want := fmt.Sprintf("%d|", i+1)
				if i > 0 {
					want += fmt.Sprintf("worker %d call %d", w, i-1)
				}
				if err != nil || string(out) != want {
					errs <- fmt.Errorf("worker %d: count = %q, %v; want %q", w, out, err, want)
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
