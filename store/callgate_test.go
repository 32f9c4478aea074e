package store

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCallGate: Close waits for every call in flight, then refuses new
// ones; many goroutines entering while Close runs never slip past it.
func TestCallGate(t *testing.T) {
	t.Parallel()
	var g CallGate
	var running atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for {
				if err := g.Enter(context.Background()); err != nil {
					if !errors.Is(err, ErrClosed) {
						t.Errorf("Enter: %v", err)
					}
					return
				}
				running.Add(1)
				time.Sleep(50 * time.Microsecond)
				running.Add(-1)
				g.Exit()
			}
		}()
	}
	close(start)
	time.Sleep(5 * time.Millisecond)
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if n := running.Load(); n != 0 {
		t.Fatalf("Close returned with %d calls in flight", n)
	}
	wg.Wait()
	if err := g.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var open CallGate
	if err := open.Enter(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Enter with a done ctx = %v", err)
	}
}
