package host

import (
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authhost/authhost/abi"
)

// TestUnselectedPluginHoldsNoInstance: a provider Config.Selected leaves
// out is compiled and described but keeps no instance; a call creates one
// on demand, and the idle timeout gives it back.
func TestUnselectedPluginHoldsNoInstance(t *testing.T) {
	t.Parallel()
	var asked []string
	var mu sync.Mutex
	f, errs := newFixture(t, func(c *Config) {
		c.Defaults.IdleTimeout = 50 * time.Millisecond
		c.Selected = func(name string, caps []abi.Capability) bool {
			mu.Lock()
			asked = append(asked, name)
			mu.Unlock()
			return name == "echob"
		}
	}, "echo", "echob")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	mu.Lock()
	slices.Sort(asked)
	if asked = slices.Compact(asked); !slices.Equal(asked, []string{"echo", "echob"}) {
		t.Errorf("Selected asked about %v", asked)
	}
	mu.Unlock()
	echo, echob := f.plugin(t, "echo"), f.plugin(t, "echob")
	if echo.Describe().Name != "echo" || len(echo.Exports()) == 0 {
		t.Fatalf("unselected plugin not described: %+v", echo.Describe())
	}
	if st := echo.Stats(); st.Instances != 0 || st.PoolWarm != 0 || st.IdleMemoryBytes != 0 {
		t.Fatalf("unselected plugin holds instances after load: %+v", st)
	}
	if compiled(echo) || !compiled(echob) {
		t.Fatalf("compiled code kept: echo %v, echob %v; want only echob's", compiled(echo), compiled(echob))
	}
	waitStats(t, echob, func(st Stats) bool { return st.Instances == 1 && st.PoolWarm == 1 && st.IdleMemoryBytes > 0 })
	if _, err := echo.CallRaw(ctx, "noop", nil); err != nil {
		t.Fatal(err)
	}
	if !compiled(echo) {
		t.Fatal("a call did not compile the module again")
	}
	if st := echo.Stats(); st.Instances != 1 || st.MemoryBytes == 0 || st.MemoryBytes != st.IdleMemoryBytes || (st.CodeBytes == 0 && runtime.GOOS == "linux") {
		t.Fatalf("after a call: %+v; want one idle instance with its memory and the module's code", st)
	}
	waitStats(t, echo, func(st Stats) bool { return st.Instances == 0 && st.Reaped == 1 && st.MemoryBytes == 0 })
	// The selected plugin's warm instance stays past the idle timeout.
	time.Sleep(100 * time.Millisecond)
	if st := echob.Stats(); st.Instances != 1 || st.Reaped != 0 {
		t.Fatalf("warm instance of a selected plugin was reaped: %+v", st)
	}
}

// TestPoolIdleTimeout: instances a burst adds beyond pool_warm close after
// the idle timeout, with calls racing the reaper; the counters add up and
// the pool never exceeds its size.
func TestPoolIdleTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		size, warm  int
		idleTimeout time.Duration
	}{
		{"warm one of four", 4, 1, 20 * time.Millisecond},
		{"warm two of three", 3, 2, 5 * time.Millisecond},
		{"warm all", 2, 2, 5 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, errs := newFixture(t, func(c *Config) {
				c.Defaults.PoolSize = tt.size
				c.Defaults.PoolWarm = tt.warm
				c.Defaults.IdleTimeout = tt.idleTimeout
			}, "echo")
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			p := f.plugin(t, "echo")
			for burst := range 3 {
				// Hold every instance at once so the pool grows to its
				// size, then hand them back while others call.
				held := make(chan struct{})
				var wg sync.WaitGroup
				for range tt.size {
					inst, err := p.pool.get(ctx)
					if err != nil {
						t.Fatal(err)
					}
					wg.Go(func() {
						<-held
						p.pool.put(inst, true)
					})
					wg.Go(func() {
						<-held
						for range 5 {
							if _, err := p.CallRaw(ctx, "noop", nil); err != nil {
								t.Error(err)
							}
							if live, _ := p.pool.sizes(); live > tt.size+1 { // +1: the filler's reservation
								t.Errorf("%d instances alive, PoolSize %d", live, tt.size)
							}
						}
					})
				}
				close(held)
				wg.Wait()
				if burst < 2 {
					time.Sleep(tt.idleTimeout / 2) // some reaped, some not
				}
			}
			waitStats(t, p, func(st Stats) bool {
				return st.Instances == tt.warm && st.InUse == 0 && st.InstancesCreated-st.Reaped-st.Discards-st.Surplus == int64(st.Instances)
			})
			if st := p.Stats(); (tt.warm < tt.size) != (st.Reaped > 0) {
				t.Fatalf("reaped %d with warm %d of %d: %+v", st.Reaped, tt.warm, tt.size, st)
			}
		})
	}
}

// compiled reports whether p's compiled module is held.
func compiled(p *Plugin) bool {
	p.module.mu.Lock()
	defer p.module.mu.Unlock()
	return p.module.mod != nil
}

// TestLazyModuleRefusesAChangedFile: a dropped module is compiled again
// only from the bytes that were loaded.
func TestLazyModuleRefusesAChangedFile(t *testing.T) {
	t.Parallel()
	f, errs := newFixture(t, func(c *Config) {
		c.Selected = func(string, []abi.Capability) bool { return false }
	}, "echo")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p := f.plugin(t, "echo")
	orig, err := os.ReadFile(p.File())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		content []byte
	}{
		{"one byte appended", append(slices.Clone(orig), 0)},
		{"truncated", orig[:len(orig)/2]},
		{"another plugin", mustRead(t, wasmPath(t, "echob"))},
	} {
		if err := os.WriteFile(p.File(), tc.content, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := p.CallRaw(ctx, "noop", nil); err == nil || !strings.Contains(err.Error(), "changed since it was loaded") {
			t.Errorf("%s: call gave %v, want a refusal", tc.name, err)
		}
	}
	if err := os.WriteFile(p.File(), orig, 0o600); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, p)
	if _, err := p.CallRaw(ctx, "noop", nil); err != nil {
		t.Fatalf("original bytes back: %v", err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitHealthy waits until p accepts calls again (failed instance creations
// count towards its health).
func waitHealthy(t *testing.T, p *Plugin) {
	t.Helper()
	waitStats(t, p, func(st Stats) bool { return st.Healthy })
}
