package server

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/authhost/authhost/auth"
)

// TestAuditFloodRoutes replays the floods of issue 12 against the real
// server with the default policy window (far longer than the test): N
// requests of each kind must store one event (none for an anonymous /me),
// and the counts written on Close must add up to N.
func TestAuditFloodRoutes(t *testing.T) {
	t.Parallel()
	const n = 200
	hook := &fakeWebhook{err: &auth.Error{Code: auth.CodeUnauthenticated, Message: "bad signature"}}
	h := newHarness(t, func(c *Config) {
		c.AuditWindow = 0 // the default, a minute
		c.SignInLimit, c.SignInIPLimit = 2, 3
		c.WebhookRate, c.WebhookBurst, c.WebhookConcurrency = 1e6, 1e6, 64
		c.Webhooks = func(name string) auth.WebhookHandler {
			if name == "workos" {
				return hook
			}
			return nil
		}
	})
	// The wrong passwords that block this client's IP: the failures are
	// one collapsed key, the lockout another.
	c := h.client(t)
	for i := range 3 {
		if r := c.signIn("someone"+strconv.Itoa(i)+"@example.com", "wrong-password"); r.status != http.StatusUnauthorized {
			t.Fatalf("failure %d = %d %s", i, r.status, r.body)
		}
	}
	before := len(h.events(t, auth.AuditFilter{}))

	floods := []struct {
		name   string
		status int
		send   func() response
		// action and outcome of the collapsed events; "" when the flood
		// must not be audited at all.
		action, outcome string
	}{
		{"anonymous /me", http.StatusUnauthorized, func() response { return h.client(t).do("GET", "/api/auth/me", "", nil) }, "", ""},
		{"webhook with a bad signature", http.StatusUnauthorized, func() response {
			return h.client(t).do("POST", "/api/webhooks/workos", `{"event":"x"}`, map[string]string{"Origin": ""})
		}, "webhook.received", auth.OutcomeFailure},
		{"sign-in from a blocked IP", http.StatusTooManyRequests, func() response { return c.signIn(demoEmail, demoPassword) }, "auth.sign-in", auth.OutcomeDenied},
		{"cross-origin logout", http.StatusForbidden, func() response {
			return c.do("POST", "/api/auth/logout", "", map[string]string{"Origin": "https://evil.example"})
		}, "auth.denied", auth.OutcomeDenied},
	}
	for _, f := range floods {
		for i := range n {
			if r := f.send(); r.status != f.status {
				t.Fatalf("%s #%d = %d %s, want %d", f.name, i, r.status, r.body, f.status)
			}
		}
		after := len(h.events(t, auth.AuditFilter{}))
		want := 1
		if f.action == "" {
			want = 0
		}
		if after-before != want {
			t.Errorf("%s: %d requests stored %d events, want %d", f.name, n, after-before, want)
		}
		before = after
	}

	// Close writes what the windows still hold: every request is counted.
	if err := h.server.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, f := range floods[1:] {
		var total int64
		for _, e := range h.events(t, auth.AuditFilter{Action: f.action, Outcome: f.outcome}) {
			total += countOf(t, e)
		}
		if total != n {
			t.Errorf("%s: the %s/%s counts add up to %d, want %d", f.name, f.action, f.outcome, total, n)
		}
	}
	for _, e := range h.events(t, auth.AuditFilter{Action: "auth.denied"}) {
		if e.Metadata["reason"] == "authentication required" {
			t.Errorf("anonymous /me audited: %+v", e)
		}
	}
}

// TestAuditFloodKeepsIdentifiedSuccesses checks the policy leaves alone
// what an auditor reads the log for: every successful sign-in is stored.
func TestAuditFloodKeepsIdentifiedSuccesses(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.AuditWindow = time.Hour })
	for i := range 3 {
		if r := h.client(t).signIn(demoEmail, demoPassword); r.status != http.StatusOK {
			t.Fatalf("sign-in %d = %d %s", i, r.status, r.body)
		}
	}
	if got := h.events(t, auth.AuditFilter{Action: "auth.sign-in", Outcome: auth.OutcomeSuccess}); len(got) != 3 {
		t.Fatalf("%d successful sign-ins stored, want 3", len(got))
	}
}

// blockingWebhook holds every delivery until release is closed.
type blockingWebhook struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blockingWebhook) HandleWebhook(context.Context, *http.Request) (*auth.WebhookResult, error) {
	b.entered <- struct{}{}
	<-b.release
	return &auth.WebhookResult{Status: http.StatusNoContent}, nil
}

// TestWebhookLimits checks the per-provider limits: deliveries past the
// concurrency limit and past the rate get 429 with Retry-After, and one
// provider's limits do not touch another's.
func TestWebhookLimits(t *testing.T) {
	t.Parallel()
	t.Run("concurrency", func(t *testing.T) {
		t.Parallel()
		slow := &blockingWebhook{entered: make(chan struct{}, 8), release: make(chan struct{})}
		other := &fakeWebhook{res: &auth.WebhookResult{Status: http.StatusNoContent}}
		h := newHarness(t, func(c *Config) {
			c.WebhookRate, c.WebhookBurst, c.WebhookConcurrency = 1e6, 1e6, 2
			c.Webhooks = func(name string) auth.WebhookHandler {
				switch name {
				case "slow":
					return slow
				case "other":
					return other
				}
				return nil
			}
		})
		post := func(name string) response {
			return h.client(t).do("POST", "/api/webhooks/"+name, `{}`, map[string]string{"Origin": ""})
		}
		var wg sync.WaitGroup
		statuses := make(chan int, 2)
		for range 2 {
			wg.Go(func() { statuses <- post("slow").status })
		}
		<-slow.entered
		<-slow.entered
		r := post("slow")
		if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "1" {
			t.Errorf("third delivery in flight = %d Retry-After %q, want 429 and 1", r.status, r.header.Get("Retry-After"))
		}
		if r := post("other"); r.status != http.StatusNoContent {
			t.Errorf("another provider while slow is full = %d, want 204", r.status)
		}
		close(slow.release)
		wg.Wait()
		close(statuses)
		for s := range statuses {
			if s != http.StatusNoContent {
				t.Errorf("admitted delivery = %d, want 204", s)
			}
		}
		// Finished deliveries free their slots.
		if r := post("slow"); r.status != http.StatusNoContent {
			t.Errorf("delivery after the others finished = %d, want 204", r.status)
		}
	})
	t.Run("rate", func(t *testing.T) {
		t.Parallel()
		hook := &fakeWebhook{res: &auth.WebhookResult{Status: http.StatusNoContent}}
		h := newHarness(t, func(c *Config) {
			c.WebhookRate, c.WebhookBurst, c.WebhookConcurrency = 0.1, 3, 64
			c.Webhooks = func(name string) auth.WebhookHandler {
				if name == "a" || name == "b" {
					return hook
				}
				return nil
			}
		})
		post := func(name string) response {
			return h.client(t).do("POST", "/api/webhooks/"+name, `{}`, map[string]string{"Origin": ""})
		}
		for i := range 3 {
			if r := post("a"); r.status != http.StatusNoContent {
				t.Fatalf("delivery %d within the burst = %d", i, r.status)
			}
		}
		r := post("a")
		// One token every 10 s: the sender is told to wait that long.
		if ra, _ := strconv.Atoi(r.header.Get("Retry-After")); r.status != http.StatusTooManyRequests || ra < 9 || ra > 10 {
			t.Fatalf("delivery past the rate = %d Retry-After %q, want 429 and about 10", r.status, r.header.Get("Retry-After"))
		}
		if r := post("b"); r.status != http.StatusNoContent {
			t.Fatalf("another provider = %d, want 204", r.status)
		}
	})
}

// TestWebhookConcurrentLimit fires many deliveries at once at a provider
// whose handler blocks: exactly the concurrency limit reach it.
func TestWebhookConcurrentLimit(t *testing.T) {
	t.Parallel()
	const limit, senders = 3, 40
	slow := &blockingWebhook{entered: make(chan struct{}, senders), release: make(chan struct{})}
	h := newHarness(t, func(c *Config) {
		c.WebhookRate, c.WebhookBurst, c.WebhookConcurrency = 1e6, 1e6, limit
		c.Webhooks = func(name string) auth.WebhookHandler {
			if name == "slow" {
				return slow
			}
			return nil
		}
	})
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[int]int{}
	for range senders {
		wg.Go(func() {
			s := h.client(t).do("POST", "/api/webhooks/slow", `{}`, map[string]string{"Origin": ""}).status
			mu.Lock()
			counts[s]++
			mu.Unlock()
		})
	}
	for range limit {
		<-slow.entered
	}
	// The rest are refused without waiting; then the three finish.
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		refused := counts[http.StatusTooManyRequests]
		mu.Unlock()
		if refused == senders-limit {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d excess deliveries refused", refused, senders-limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(slow.release)
	wg.Wait()
	if counts[http.StatusNoContent] != limit || len(slow.entered) != 0 {
		t.Fatalf("statuses %v, %d extra deliveries reached the provider; want %d admitted", counts, len(slow.entered), limit)
	}
}

// TestWebhookNotServedLeaksNothing checks that a provider that does not
// serve webhooks (answers not_supported) looks exactly like one that does
// not exist, and neither is audited.
func TestWebhookNotServedLeaksNothing(t *testing.T) {
	t.Parallel()
	unset := &fakeWebhook{err: &auth.Error{Code: auth.CodeNotSupported, Message: "workos: webhook_secret is not configured"}}
	h := newHarness(t, func(c *Config) {
		c.Webhooks = func(name string) auth.WebhookHandler {
			if name == "workos" {
				return unset
			}
			return nil
		}
	})
	post := func(name string) response {
		return h.client(t).do("POST", "/api/webhooks/"+name, `{}`, map[string]string{"Origin": ""})
	}
	installed, missing := post("workos"), post("nope")
	if installed.status != http.StatusNotFound || missing.status != http.StatusNotFound || string(installed.body) != string(missing.body) ||
		installed.header.Get("Content-Type") != missing.header.Get("Content-Type") {
		t.Fatalf("not serving = %d %q, not installed = %d %q; want the same 404", installed.status, installed.body, missing.status, missing.body)
	}
	if got := h.events(t, auth.AuditFilter{}); len(got) != 0 {
		t.Fatalf("a webhook nobody serves was audited: %+v", got)
	}
}
