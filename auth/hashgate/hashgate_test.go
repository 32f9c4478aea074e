package hashgate

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestGateBoundsConcurrency floods a gate from many goroutines: never more
// than its slots run at once, everyone either ran or got ErrBusy, and every
// slot is free again afterwards.
func TestGateBoundsConcurrency(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		slots, queu int
		wait        time.Duration
	}{
		{"one slot, no queue", 1, 0, time.Millisecond},
		{"two slots, short queue", 2, 4, 20 * time.Millisecond},
		{"four slots, long wait", 4, 16, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := New(tc.slots, tc.queu, tc.wait)
			const workers = 64
			var running, peak, ran, busy atomic.Int64
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					release, err := g.Acquire(context.Background())
					if errors.Is(err, ErrBusy) {
						busy.Add(1)
						return
					}
					if err != nil {
						t.Error(err)
						return
					}
					n := running.Add(1)
					for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
					}
					time.Sleep(2 * time.Millisecond)
					running.Add(-1)
					ran.Add(1)
					release()
					release() // a second call must not free another slot
				}()
			}
			close(start)
			wg.Wait()
			if p := peak.Load(); p > int64(tc.slots) || p < 1 {
				t.Errorf("peak concurrency = %d, want 1..%d", p, tc.slots)
			}
			if ran.Load()+busy.Load() != workers {
				t.Errorf("ran %d + busy %d != %d", ran.Load(), busy.Load(), workers)
			}
			if tc.queu == 0 && busy.Load() == 0 {
				t.Error("a gate with no queue refused nobody in a flood")
			}
			if len(g.slots) != 0 || len(g.queue) != 0 {
				t.Errorf("after the flood %d slots and %d queue places are still taken", len(g.slots), len(g.queue))
			}
		})
	}
}

func TestGateQueue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("full queue refuses at once", func(t *testing.T) {
		t.Parallel()
		g := New(1, 0, time.Hour)
		release, err := g.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		begin := time.Now()
		if _, err := g.Acquire(ctx); !errors.Is(err, ErrBusy) {
			t.Fatalf("err = %v, want ErrBusy", err)
		}
		if d := time.Since(begin); d > time.Second {
			t.Errorf("refusal took %v; a full queue must not wait", d)
		}
	})
	t.Run("wait runs out", func(t *testing.T) {
		t.Parallel()
		g := New(1, 1, 10*time.Millisecond)
		release, _ := g.Acquire(ctx)
		defer release()
		if _, err := g.Acquire(ctx); !errors.Is(err, ErrBusy) {
			t.Fatalf("err = %v, want ErrBusy", err)
		}
	})
	t.Run("slot freed while waiting", func(t *testing.T) {
		t.Parallel()
		g := New(1, 1, 10*time.Second)
		release, _ := g.Acquire(ctx)
		time.AfterFunc(10*time.Millisecond, release)
		r2, err := g.Acquire(ctx)
		if err != nil {
			t.Fatalf("waiter: %v", err)
		}
		r2()
	})
	t.Run("context ends the wait", func(t *testing.T) {
		t.Parallel()
		g := New(1, 1, 10*time.Second)
		release, _ := g.Acquire(ctx)
		defer release()
		c, cancel := context.WithCancel(ctx)
		time.AfterFunc(10*time.Millisecond, cancel)
		if _, err := g.Acquire(c); !errors.Is(err, context.Canceled) || errors.Is(err, ErrBusy) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}

func TestNewDefaults(t *testing.T) {
	t.Parallel()
	g := New(0, -1, 0)
	if g.Slots() != DefaultSlots() || cap(g.queue) != 4*DefaultSlots() || g.wait != DefaultWait {
		t.Errorf("defaults: slots %d queue %d wait %v", g.Slots(), cap(g.queue), g.wait)
	}
	if DefaultSlots() < 1 {
		t.Errorf("DefaultSlots = %d", DefaultSlots())
	}
}

// TestHolding: a context marked by Holding takes no second slot of the
// same gate (so a host function reached from a gated call cannot wait on
// its own caller), but still takes a slot of another gate; concurrent
// holders and fresh callers never exceed the slots.
func TestHolding(t *testing.T) {
	t.Parallel()
	g, other := New(1, 0, time.Millisecond), New(1, 0, time.Millisecond)
	release, err := g.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Acquire(context.Background()); !errors.Is(err, ErrBusy) {
		t.Fatalf("second plain acquire: %v, want ErrBusy", err)
	}
	ctx, cancel := context.WithCancel(g.Holding(context.Background()))
	defer cancel()
	r2, err := g.Acquire(ctx)
	if err != nil {
		t.Fatalf("holder acquire: %v", err)
	}
	r2() // must not free the real slot
	if _, err := g.Acquire(context.Background()); !errors.Is(err, ErrBusy) {
		t.Fatalf("holder's release freed the caller's slot: %v", err)
	}
	ro, err := other.Acquire(ctx)
	if err != nil {
		t.Fatalf("other gate: %v", err)
	}
	if _, err := other.Acquire(ctx); !errors.Is(err, ErrBusy) {
		t.Fatalf("holding g let a second slot of another gate through: %v", err)
	}
	ro()
	release()

	var wg sync.WaitGroup
	var running, peak atomic.Int64
	for i := range 32 {
		wg.Go(func() {
			r, err := g.Acquire(context.Background())
			if err != nil {
				return
			}
			defer r()
			// The holder's nested acquires take nothing more.
			hctx := g.Holding(context.Background())
			for range 3 {
				n, err := g.Acquire(hctx)
				if err != nil {
					t.Errorf("worker %d nested: %v", i, err)
					return
				}
				if c := running.Add(1); c > peak.Load() {
					peak.Store(c)
				}
				running.Add(-1)
				n()
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p > 1 {
		t.Fatalf("peak %d concurrent with one slot", p)
	}
}
