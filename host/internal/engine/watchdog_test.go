package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// newDogEntry returns an entry whose expiry is observable through the
// instance's canceled ctx.
func newDogEntry() *dogEntry {
	i := &wazeroInstance{}
	i.ctx, i.cancel = context.WithCancel(context.Background())
	i.entry = dogEntry{inst: i, index: -1}
	return &i.entry
}

func TestWatchdogExpiresOnlyLateCalls(t *testing.T) {
	t.Parallel()
	w := newWatchdog()
	defer w.stop()
	late, onTime := newDogEntry(), newDogEntry()
	w.watch(onTime, time.Now().Add(time.Hour))
	w.watch(late, time.Now().Add(20*time.Millisecond))
	select {
	case <-late.inst.ctx.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("the watchdog did not expire a call past its deadline")
	}
	if w.unwatch(late) {
		t.Fatal("unwatch of an expired call reported it still watched")
	}
	if !w.unwatch(onTime) {
		t.Fatal("a call within its deadline was expired")
	}
	if onTime.inst.ctx.Err() != nil {
		t.Fatal("a call within its deadline was canceled")
	}
}

// TestWatchdogConcurrent registers and unregisters from many goroutines
// while short deadlines expire, and checks the heap stays consistent: every
// call is either expired (its ctx canceled) or unwatched, never both or
// neither.
func TestWatchdogConcurrent(t *testing.T) {
	t.Parallel()
	w := newWatchdog()
	defer w.stop()
	var expired, finished atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 300 {
				e := newDogEntry()
				d := time.Duration((g*300+n)%5) * time.Millisecond
				w.watch(e, time.Now().Add(d))
				if n%7 == 0 {
					time.Sleep(time.Millisecond)
				}
				if w.unwatch(e) {
					finished.Add(1)
					if e.inst.ctx.Err() != nil {
						t.Error("a call still watched was canceled")
					}
					continue
				}
				expired.Add(1)
				select {
				case <-e.inst.ctx.Done():
				case <-time.After(2 * time.Second):
					t.Error("an expired call was never canceled")
				}
			}
		}()
	}
	wg.Wait()
	if expired.Load()+finished.Load() != 8*300 {
		t.Fatalf("expired %d + finished %d != %d", expired.Load(), finished.Load(), 8*300)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.heap) != 0 {
		t.Fatalf("%d entries left in the heap", len(w.heap))
	}
	t.Logf("expired %d, finished %d", expired.Load(), finished.Load())
}
