package server

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authhost/authhost/auth"
)

// TestSwapWaitsForRequestsOnTheOldGeneration: a request that started
// before a swap keeps the old composed provider to its end, new requests
// get the new one, and the old generation is released only when its last
// request ends.
func TestSwapWaitsForRequestsOnTheOldGeneration(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	s := h.server
	inFlight := s.acquire()
	oldAuth := inFlight.auth
	next := *oldAuth
	released := make(chan struct{})
	if err := s.Swap(&next, nil, func() { close(released) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Swap(nil, nil, nil); err == nil {
		t.Error("swap to nil accepted")
	}
	ctx := context.WithValue(context.Background(), stateKey{}, inFlight)
	if s.composed(ctx) != oldAuth {
		t.Error("the in-flight request lost its generation")
	}
	if s.composed(context.Background()) != &next {
		t.Error("a new request does not see the new generation")
	}
	select {
	case <-released:
		t.Fatal("old generation released while a request holds it")
	case <-time.After(50 * time.Millisecond):
	}
	inFlight.done()
	select {
	case <-released:
	case <-time.After(5 * time.Second):
		t.Fatal("old generation not released after its last request")
	}
	// Server state survives a swap: requests still work end to end.
	c := h.client(t)
	if r := c.signIn(demoEmail, demoPassword); r.status != 200 {
		t.Fatalf("sign-in after swap = %d %s", r.status, r.body)
	}
}

// TestSwapConcurrent: requests taking and dropping generations while
// swaps run never hold a released generation, and every superseded
// generation is released exactly once.
func TestSwapConcurrent(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	s := h.server
	base := *s.state.Load().auth
	var flags sync.Map // *auth.Composed -> *atomic.Int32 (releases)
	var firstFlag atomic.Int32
	flags.Store(s.state.Load().auth, &firstFlag)
	const swaps, workers = 300, 8
	stop := make(chan struct{})
	var bad atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				st := s.acquire()
				f, _ := flags.Load(st.auth)
				if f.(*atomic.Int32).Load() != 0 {
					bad.Add(1)
				}
				st.done()
			}
		}()
	}
	for range swaps {
		prev := s.state.Load().auth
		next := base
		var flag atomic.Int32
		flags.Store(&next, &flag)
		pf, _ := flags.Load(prev)
		if err := s.Swap(&next, nil, func() { pf.(*atomic.Int32).Add(1) }); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if n := bad.Load(); n > 0 {
		t.Errorf("%d requests held a released generation", n)
	}
	cur := s.state.Load().auth
	n := 0
	flags.Range(func(k, v any) bool {
		got := v.(*atomic.Int32).Load()
		if k == cur && got != 0 || k != cur && got != 1 {
			t.Errorf("generation released %d times (current %v)", got, k == cur)
		}
		n++
		return true
	})
	if n != swaps+1 {
		t.Errorf("%d generations, want %d", n, swaps+1)
	}
}

// TestReloadRoute: POST /api/admin/plugins/reload needs plugins:manage and
// a same-origin request, and reports the reload's problems.
func TestReloadRoute(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	h := newHarness(t, func(c *Config) {
		c.ReloadPlugins = func(context.Context) ([]string, error) {
			calls.Add(1)
			return []string{"x.wasm: not a WebAssembly module"}, nil
		}
	})
	owner, viewer := h.client(t), h.client(t)
	if r := owner.signIn(demoEmail, demoPassword); r.status != 200 {
		t.Fatal("owner sign-in failed")
	}
	if r := viewer.signUp("viewer@example.com", "a-good-password"); r.status != 201 {
		t.Fatalf("sign-up = %d", r.status)
	}
	cases := []struct {
		name   string
		c      *client
		hdr    map[string]string
		status int
	}{
		{"anonymous", h.client(t), nil, 401},
		{"viewer", viewer, nil, 403},
		{"owner cross-site", owner, map[string]string{"Origin": "https://evil.example"}, 403},
		{"owner no origin", owner, map[string]string{"Origin": "", "Sec-Fetch-Site": "cross-site"}, 403},
		{"owner null origin", owner, map[string]string{"Origin": "null"}, 403},
		{"owner", owner, nil, 200},
	}
	for _, tc := range cases {
		before := calls.Load()
		r := tc.c.do("POST", "/api/admin/plugins/reload", "", tc.hdr)
		if r.status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, r.status, r.body, tc.status)
			continue
		}
		ran := calls.Load() > before
		if ran != (tc.status == 200) {
			t.Errorf("%s: reload ran = %v", tc.name, ran)
		}
		if tc.status == 200 && !strings.Contains(string(r.body), `"problems":["x.wasm: not a WebAssembly module"]`) {
			t.Errorf("%s: body %s", tc.name, r.body)
		}
	}
	if r := owner.do("GET", "/api/admin/plugins/reload", "", nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET reload = %d", r.status)
	}
	if ev := h.events(t, auth.AuditFilter{Action: "plugins.reload"}); len(ev) != 1 {
		t.Errorf("%d plugins.reload audit events, want 1", len(ev))
	}
	// Without a reloader the route says so.
	h2 := newHarness(t, nil)
	o2 := h2.client(t)
	if r := o2.signIn(demoEmail, demoPassword); r.status != 200 {
		t.Fatal("owner sign-in failed")
	}
	if r := o2.do("POST", "/api/admin/plugins/reload", "", nil); r.status != http.StatusServiceUnavailable {
		t.Errorf("reload without reloader = %d", r.status)
	}
}
