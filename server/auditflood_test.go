package server

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/auth/builtin/audit"
	"github.com/authhost/authhost/store/memory"
)

// floodClock is a settable clock for the flood guard.
type floodClock struct{ nanos atomic.Int64 }

func (c *floodClock) now() time.Time      { return time.Unix(0, c.nanos.Load()) }
func (c *floodClock) add(d time.Duration) { c.nanos.Add(int64(d)) }
func newFloodClock() *floodClock {
	c := &floodClock{}
	c.nanos.Store(time.Now().UnixNano())
	return c
}
func floodEvent(action, outcome, ip string) auth.AuditEvent {
	return auth.AuditEvent{ID: newEventID(), Timestamp: time.Now().UTC(), Action: action, Outcome: outcome,
		Actor: auth.AuditActor{Type: auth.ActorUser, ID: "anonymous", IP: ip}}
}

// newFloodStore returns a flood guard over a real audit store whose sweep
// timer never fires during the test (a window of an hour) unless window
// says otherwise, and the clock it reads.
func newFloodStore(t *testing.T, window time.Duration) (*auditFlood, *audit.Store, *floodClock) {
	t.Helper()
	st := audit.NewStore(memory.New(memory.Options{}), audit.StoreOptions{})
	f := newAuditFlood(st, window, slog.New(slog.DiscardHandler))
	c := newFloodClock()
	f.now = c.now
	t.Cleanup(func() { _ = f.Close(t.Context()) })
	return f, st, c
}

// storedEvents returns every stored event, newest first.
func storedEvents(t *testing.T, st *audit.Store) []auth.AuditEvent {
	t.Helper()
	res, err := st.Query(t.Context(), auth.AuditFilter{}, auth.AuditPage{Limit: audit.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	return res.Events
}

// countOf is what an event stands for: its "count", or one.
func countOf(t *testing.T, e auth.AuditEvent) int64 {
	t.Helper()
	switch c := e.Metadata["count"].(type) {
	case nil:
		return 1
	case float64:
		return int64(c)
	case int64:
		return c
	default:
		t.Fatalf("count of %s is %T %v", e.Action, c, c)
		return 0
	}
}

func TestCollapsible(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		outcome, actorID string
		want             bool
	}{
		{auth.OutcomeFailure, "usr_1", true},
		{auth.OutcomeDenied, "usr_1", true},
		{auth.OutcomeDenied, "", true},
		{auth.OutcomeSuccess, "anonymous", true},
		{auth.OutcomeSuccess, "unknown", true},
		{auth.OutcomeSuccess, "", true},
		{auth.OutcomeSuccess, "usr_1", false},
		{auth.OutcomeSuccess, "workos", false},
		{"", "usr_1", true},
	} {
		e := auth.AuditEvent{Outcome: tc.outcome, Actor: auth.AuditActor{ID: tc.actorID}}
		if got := collapsible(e); got != tc.want {
			t.Errorf("collapsible(%q, actor %q) = %v, want %v", tc.outcome, tc.actorID, got, tc.want)
		}
	}
}

func TestAuditNetwork(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ ip, want string }{
		{"127.0.0.1", "127.0.0.1"},
		{"203.0.113.9", "203.0.113.9"},
		{"::ffff:203.0.113.9", "203.0.113.9"}, // IPv4-mapped is the IPv4 client
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"}, // same /64: one client
		{"2001:DB8:1:2::1", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"::1", "::/64"},
		{"", auditOtherNet},
		{"null", auditOtherNet},
		{"localhost", auditOtherNet},
		{"127.0.0.1:8080", auditOtherNet},
		{"1.2.3.4\x00", auditOtherNet},
		{"１２７.0.0.1", auditOtherNet}, // fullwidth digits are not an address
		{"0x7f.0.0.1", auditOtherNet},
	} {
		if got := clientNetwork(tc.ip); got != tc.want {
			t.Errorf("clientNetwork(%q) = %q, want %q", tc.ip, got, tc.want)
		}
	}
}

// TestAuditFloodCollapses checks the policy on one key: the first event is
// written at once, repeats only when the window ends, as one event with
// the count, and the next window does the same.
func TestAuditFloodCollapses(t *testing.T) {
	t.Parallel()
	f, st, clock := newFloodStore(t, time.Hour)
	ctx := t.Context()
	for range 50 {
		if err := f.Log(ctx, floodEvent("auth.sign-in", auth.OutcomeFailure, "203.0.113.7")); err != nil {
			t.Fatal(err)
		}
	}
	if got := storedEvents(t, st); len(got) != 1 || countOf(t, got[0]) != 1 {
		t.Fatalf("within the window: %d events, want the first one alone", len(got))
	}
	// Another outcome, another IP and an identified success are not repeats.
	for _, e := range []auth.AuditEvent{
		floodEvent("auth.sign-in", auth.OutcomeDenied, "203.0.113.7"),
		floodEvent("auth.sign-in", auth.OutcomeFailure, "203.0.113.8"),
		floodEvent("auth.lockout", auth.OutcomeFailure, "203.0.113.7"),
	} {
		if err := f.Log(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	ok := floodEvent("auth.sign-in", auth.OutcomeSuccess, "203.0.113.7")
	ok.Actor.ID = "usr_1"
	for range 3 {
		ok.ID = newEventID()
		if err := f.Log(ctx, ok); err != nil {
			t.Fatal(err)
		}
	}
	if got := storedEvents(t, st); len(got) != 7 {
		t.Fatalf("%d events, want 1 + 3 other keys + 3 identified successes", len(got))
	}
	// The window ends: the next repeat finds it over, writes the count of
	// the 49 repeats and is itself counted in the new window.
	clock.add(time.Hour)
	if err := f.Log(ctx, floodEvent("auth.sign-in", auth.OutcomeFailure, "203.0.113.7")); err != nil {
		t.Fatal(err)
	}
	got := storedEvents(t, st)
	if len(got) != 8 {
		t.Fatalf("%d events after the window, want 8", len(got))
	}
	sum := got[0]
	if sum.Action != "auth.sign-in" || sum.Outcome != auth.OutcomeFailure || countOf(t, sum) != 49 || sum.Actor.IP != "203.0.113.7" {
		t.Fatalf("collapsed event = %+v, want auth.sign-in failure from 203.0.113.7 with count 49", sum)
	}
	if sum.Metadata["firstAt"] == nil || sum.Metadata["lastAt"] == nil {
		t.Fatalf("collapsed event lacks firstAt/lastAt: %v", sum.Metadata)
	}
	// Close writes the pending count of the new window (one repeat).
	if err := f.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got = storedEvents(t, st)
	var total int64
	for _, e := range got {
		if e.Action == "auth.sign-in" && e.Outcome == auth.OutcomeFailure && e.Actor.IP == "203.0.113.7" {
			total += countOf(t, e)
		}
	}
	if len(got) != 9 || total != 51 {
		t.Fatalf("after Close: %d events, counts add up to %d; want 9 events and 51", len(got), total)
	}
}

// TestAuditFloodQuietKeyForgotten checks that a key without repeats ends
// with its window: the next event is written at once, not counted.
func TestAuditFloodQuietKeyForgotten(t *testing.T) {
	t.Parallel()
	f, st, clock := newFloodStore(t, time.Minute)
	for i := range 3 {
		if err := f.Log(t.Context(), floodEvent("webhook.received", auth.OutcomeDenied, "198.51.100.1")); err != nil {
			t.Fatal(err)
		}
		if got := storedEvents(t, st); len(got) != i+1 {
			t.Fatalf("event %d: %d stored, want %d (one per quiet window)", i, len(got), i+1)
		}
		clock.add(time.Minute)
	}
}

// TestAuditFloodSweep checks the timer writes a pending count without any
// further event, after the window and not before.
func TestAuditFloodSweep(t *testing.T) {
	t.Parallel()
	const window = 200 * time.Millisecond
	st := audit.NewStore(memory.New(memory.Options{}), audit.StoreOptions{})
	f := newAuditFlood(st, window, slog.New(slog.DiscardHandler))
	t.Cleanup(func() { _ = f.Close(t.Context()) })
	start := time.Now()
	for range 10 {
		if err := f.Log(t.Context(), floodEvent("auth.denied", auth.OutcomeDenied, "192.0.2.1")); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := storedEvents(t, st)
		if len(got) == 2 {
			if countOf(t, got[0]) != 9 {
				t.Fatalf("swept count = %v, want 9", got[0].Metadata["count"])
			}
			if got[0].Timestamp.Before(start.Add(window)) {
				t.Fatalf("collapsed event written at %v, before its window ended (%v)", got[0].Timestamp, start.Add(window))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events 10 s later; the sweep never wrote the count", len(got))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAuditFloodConcurrent hammers one key from many goroutines: exactly
// one event is written during the window and the count written at Close
// accounts for every other call.
func TestAuditFloodConcurrent(t *testing.T) {
	t.Parallel()
	f, st, _ := newFloodStore(t, time.Hour)
	const goroutines, each = 32, 50
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				if err := f.Log(t.Context(), floodEvent("auth.sign-in", auth.OutcomeDenied, "203.0.113.50")); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if got := storedEvents(t, st); len(got) != 1 {
		t.Fatalf("%d events written during the window, want exactly 1", len(got))
	}
	if err := f.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := storedEvents(t, st)
	if len(got) != 2 || countOf(t, got[0])+countOf(t, got[1]) != goroutines*each {
		t.Fatalf("after Close: %d events %+v; want 2 whose counts add up to %d", len(got), got, goroutines*each)
	}
}

// TestAuditFloodConcurrentWindows races event logging against window ends
// (the sweep and lazy closes): no repeat may be lost or counted twice.
func TestAuditFloodConcurrentWindows(t *testing.T) {
	t.Parallel()
	st := audit.NewStore(memory.New(memory.Options{}), audit.StoreOptions{})
	f := newAuditFlood(st, 5*time.Millisecond, slog.New(slog.DiscardHandler))
	const goroutines, each = 16, 100
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				ip := fmt.Sprintf("192.0.2.%d", (g+i)%3)
				if err := f.Log(t.Context(), floodEvent("auth.denied", auth.OutcomeDenied, ip)); err != nil {
					t.Error(err)
				}
				if i%10 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	if err := f.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, e := range storedEvents(t, st) {
		total += countOf(t, e)
	}
	if total != goroutines*each {
		t.Fatalf("counts add up to %d, want %d", total, goroutines*each)
	}
}

// TestAuditFloodBoundedKeys checks that past maxKeys new networks share
// one overflow key per (action, outcome): memory and storage stay bounded
// however many addresses send.
func TestAuditFloodBoundedKeys(t *testing.T) {
	t.Parallel()
	f, st, _ := newFloodStore(t, time.Hour)
	f.maxKeys = 10
	for i := range 100 {
		if err := f.Log(t.Context(), floodEvent("auth.denied", auth.OutcomeDenied, fmt.Sprintf("2001:db8:%x::1", i))); err != nil {
			t.Fatal(err)
		}
	}
	f.mu.Lock()
	keys := len(f.keys)
	f.mu.Unlock()
	if keys != 11 {
		t.Fatalf("%d keys tracked, want 10 + the overflow key", keys)
	}
	if got := storedEvents(t, st); len(got) != 11 {
		t.Fatalf("%d events, want 11", len(got))
	}
	if err := f.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, e := range storedEvents(t, st) {
		total += countOf(t, e)
	}
	if total != 100 {
		t.Fatalf("counts add up to %d, want 100", total)
	}
}

// TestAuditFloodSpacing drives one guard with a random mix of events on
// a few keys, clock steps and sweeps (a fake clock, so every interleaving
// of window ends is reached): the events of one key are always written at
// least a window apart, which bounds the storage of a flood per client
// network per window, and the counts still add up to the events logged.
func TestAuditFloodSpacing(t *testing.T) {
	t.Parallel()
	const window = time.Minute
	f, st, clock := newFloodStore(t, window)
	rng := rand.New(rand.NewPCG(12, 6))
	keys := []struct{ action, ip string }{{"auth.denied", "192.0.2.1"}, {"auth.denied", "192.0.2.2"}, {"webhook.received", "192.0.2.1"}}
	logged := map[string]int64{}
	for range 3000 {
		switch rng.IntN(10) {
		case 0:
			clock.add(time.Duration(rng.Int64N(int64(2 * window))))
		case 1:
			clock.add(time.Duration(rng.Int64N(int64(window / 10))))
		case 2:
			f.sweep()
		default:
			k := keys[rng.IntN(len(keys))]
			e := floodEvent(k.action, auth.OutcomeDenied, k.ip)
			e.Timestamp = clock.now().UTC()
			if err := f.Log(t.Context(), e); err != nil {
				t.Fatal(err)
			}
			logged[k.action+" "+k.ip]++
		}
	}
	clock.add(time.Second)
	if err := f.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	written := map[string][]time.Time{}
	counted := map[string]int64{}
	events := storedEvents(t, st)
	for i := len(events) - 1; i >= 0; i-- { // oldest first
		e := events[i]
		k := e.Action + " " + e.Actor.IP
		written[k] = append(written[k], e.Timestamp)
		counted[k] += countOf(t, e)
	}
	for k, n := range logged {
		if counted[k] != n {
			t.Errorf("%s: counts add up to %d, want %d", k, counted[k], n)
		}
		ts := written[k]
		// The last event may be Close's, written early on purpose.
		for i := 1; i < len(ts)-1; i++ {
			if gap := ts[i].Sub(ts[i-1]); gap < window {
				t.Errorf("%s: events %d and %d written %v apart, less than the window", k, i-1, i, gap)
			}
		}
	}
}

// TestAuditFloodKey checks what makes events repeats: failures with
// different error codes or resources are not (a provider outage among
// wrong passwords stays visible), but a route's path, which the client
// chooses, does not matter, and long codes cannot grow the key.
func TestAuditFloodKey(t *testing.T) {
	t.Parallel()
	f, st, _ := newFloodStore(t, time.Hour)
	long := strings.Repeat("x", maxKeyPart)
	for _, tc := range []struct {
		code     any
		resource *auth.AuditResource
	}{
		{"invalid_credentials", nil},
		{"unavailable", nil},
		{"invalid_credentials", nil}, // repeat
		{nil, nil},
		{42, nil}, // repeat: a code that is no string is no code
		{long, nil},
		{long + "y", nil}, // repeat: the same first maxKeyPart bytes
		{"unavailable", &auth.AuditResource{Type: "capability", ID: "credentials"}},
		{"unavailable", &auth.AuditResource{Type: "capability", ID: "session"}},
		{"unavailable", &auth.AuditResource{Type: "capability", ID: "session"}}, // repeat
		{nil, &auth.AuditResource{Type: "route", ID: "GET /api/audit"}},
		{nil, &auth.AuditResource{Type: "route", ID: "GET /api/admin/acl"}}, // repeat
	} {
		e := floodEvent("auth.sign-in", auth.OutcomeFailure, "203.0.113.7")
		e.Resource = tc.resource
		if tc.code != nil {
			e.Metadata = map[string]any{"code": tc.code}
		}
		if err := f.Log(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	if got := storedEvents(t, st); len(got) != 7 {
		t.Fatalf("%d events, want 7 (12 minus 5 repeats)", len(got))
	}
}
