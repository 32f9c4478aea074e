package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/auth/hashgate"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	now := time.Unix(0, 0)
	l := newLimiter(3, time.Minute, func() time.Time { return now })
	var held []*reservation
	for i := 1; i <= 3; i++ {
		res, _ := l.Reserve("a")
		if res == nil {
			t.Fatalf("attempt %d refused under the limit", i)
		}
		held = append(held, res)
	}
	if res, wait := l.Reserve("a"); res != nil || wait != time.Minute {
		t.Fatalf("4th attempt with 3 in flight: reservation %v wait %v; want refused for a minute", res, wait)
	}
	if blocked, _ := l.Blocked("a"); !blocked {
		t.Fatal("Blocked must see attempts in flight")
	}
	held[2].Refund()
	if blocked, _ := l.Blocked("a"); blocked {
		t.Fatal("a refunded attempt must free its place")
	}
	res, _ := l.Reserve("a")
	if res == nil {
		t.Fatal("the refunded place was not given to the next attempt")
	}
	if !held[0].Commit() {
		t.Fatal("a failure kept with the window full must report the lockout")
	}
}

// TestLimiterCommit: a committed failure that fills the window reports the
// lockout exactly once; refunds of another window do not leak into it.
func TestLimiterCommit(t *testing.T) {
	t.Parallel()
	now := time.Unix(0, 0)
	l := newLimiter(2, time.Minute, func() time.Time { return now })
	a, _ := l.Reserve("k")
	if a.Commit() {
		t.Fatal("1 of 2 failures reported as a lockout")
	}
	b, _ := l.Reserve("k")
	if !b.Commit() {
		t.Fatal("the failure reaching the limit must report the lockout")
	}
	if b.Commit() || a.Commit() {
		t.Fatal("a lockout must be reported once per window")
	}
	if blocked, wait := l.Blocked("k"); !blocked || wait != time.Minute {
		t.Fatalf("after 2 failures: blocked=%v wait=%v", blocked, wait)
	}
	if blocked, _ := l.Blocked("other"); blocked {
		t.Fatal("keys must be independent")
	}
	now = now.Add(40 * time.Second)
	if _, wait := l.Blocked("k"); wait != 20*time.Second {
		t.Fatalf("remaining lockout = %v", wait)
	}
	now = now.Add(20 * time.Second)
	if blocked, _ := l.Blocked("k"); blocked {
		t.Fatal("lockout must end with the window")
	}
	fresh, _ := l.Reserve("k")
	a.Refund() // from the old window: must not free a place in the new one
	other, _ := l.Reserve("k")
	if fresh == nil || other == nil {
		t.Fatal("a new window must accept attempts")
	}
	if res, _ := l.Reserve("k"); res != nil {
		t.Fatal("a refund from an ended window freed a place in the new one")
	}
	fresh.Refund()
	other.Refund()
	if len(l.keys) != 0 {
		t.Fatalf("a key with nothing counted must be dropped, have %v", l.keys)
	}
}

func TestLimiterMemoryIsBounded(t *testing.T) {
	t.Parallel()
	now := time.Unix(0, 0)
	l := newLimiter(3, time.Minute, func() time.Time { return now })
	for i := 0; i < maxLimiterKeys+10; i++ {
		if res, _ := l.Reserve(fmt.Sprint("ip-", i)); res != nil {
			res.Commit()
		}
	}
	if len(l.keys) > maxLimiterKeys {
		t.Fatalf("limiter grew to %d keys", len(l.keys))
	}
}

// TestLimiterConcurrentReserve: however many goroutines reserve at once,
// at most limit attempts per key are ever let through without a refund.
func TestLimiterConcurrentReserve(t *testing.T) {
	t.Parallel()
	l := newLimiter(10, time.Hour, time.Now)
	var granted atomic.Int64
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := "shared"
			if i%2 == 1 {
				key = "also-shared"
			}
			if res, _ := l.Reserve(key); res != nil {
				granted.Add(1)
				res.Commit()
			}
		}()
	}
	wg.Wait()
	if g := granted.Load(); g != 20 {
		t.Fatalf("granted %d reservations over 2 keys of limit 10, want 20", g)
	}
}

// countingCredentials is the real credentials provider (static-users) with
// its sign-in and sign-up calls counted and recorded.
type countingCredentials struct {
	auth.CredentialsProvider
	signIns, signUps atomic.Int64
	mu               sync.Mutex
	seen             []string // "email|name" of every sign-up
}

func (c *countingCredentials) SignIn(ctx context.Context, email, password string, r *http.Request) (*auth.CredentialsResult, error) {
	c.signIns.Add(1)
	return c.CredentialsProvider.SignIn(ctx, email, password, r)
}

func (c *countingCredentials) SignUp(ctx context.Context, email, password, name string, r *http.Request) (*auth.CredentialsResult, error) {
	c.signUps.Add(1)
	c.mu.Lock()
	c.seen = append(c.seen, email+"|"+name)
	c.mu.Unlock()
	return c.CredentialsProvider.SignUp(ctx, email, password, name, r)
}

// newCountingHarness serves the harness with the credentials provider
// counted; mutate may change the rest of the config.
func newCountingHarness(t *testing.T, mutate func(*Config)) (*harness, *countingCredentials) {
	var creds *countingCredentials
	h := newHarness(t, func(c *Config) {
		creds = &countingCredentials{CredentialsProvider: c.Auth.Credentials}
		c.Auth.Credentials = creds
		if mutate != nil {
			mutate(c)
		}
	})
	return h, creds
}

// clientFrom is a client whose connections come from the loopback address
// ip (any of 127.0.0.0/8), so the server sees another client address.
func (h *harness) clientFrom(t *testing.T, ip string) *client {
	c := h.client(t)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	c.http.Transport = &http.Transport{DialContext: d.DialContext}
	return c
}

// wideGate lets every request hash at once, so only the limiters decide.
func wideGate(c *Config) { c.HashGate = hashgate.New(64, 64, time.Minute) }

// signInVia signs in through the JSON API or the /login form.
func signInVia(c *client, form bool, email, password string) response {
	c.t.Helper()
	if form {
		return c.formSignIn(email, password)
	}
	return c.signIn(email, password)
}

// TestSignInGuessesCannotRace fires 40 simultaneous guesses at one account
// from one address, on the JSON route and the /login form: no more than
// the (account, address) limit reach the provider, the rest are refused
// without a provider call, and the lock holds for that address only.
func TestSignInGuessesCannotRace(t *testing.T) {
	t.Parallel()
	const limit, guesses = 10, 40
	for _, tc := range []struct {
		name      string
		form      bool
		lastRight bool // the case: 39 wrong, the last one right
	}{
		{"json all wrong", false, false},
		{"form all wrong", true, false},
		{"json 39 wrong and the right one", false, true},
		{"form 39 wrong and the right one", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, creds := newCountingHarness(t, func(c *Config) { wideGate(c); c.SignInLimit = limit })
			var mu sync.Mutex
			statuses := map[int]int{}
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range guesses {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := h.client(t)
					pw := fmt.Sprint("wrong-", i)
					if tc.lastRight && i == guesses-1 {
						pw = demoPassword
					}
					<-start
					r := signInVia(c, tc.form, demoEmail, pw)
					mu.Lock()
					statuses[r.status]++
					mu.Unlock()
				}()
			}
			close(start)
			wg.Wait()
			calls := int(creds.signIns.Load())
			if calls > limit+1 || (!tc.lastRight && calls != limit) {
				t.Errorf("%d guesses reached the provider, want %d (+1 for a right password that was refunded)", calls, limit)
			}
			if statuses[http.StatusUnauthorized] > limit {
				t.Errorf("%d wrong passwords were checked, limit %d", statuses[http.StatusUnauthorized], limit)
			}
			// A signed-in form is redirected (303), the API answers 200.
			if statuses[http.StatusUnauthorized]+statuses[http.StatusOK]+statuses[http.StatusSeeOther] != calls ||
				statuses[http.StatusTooManyRequests] != guesses-calls {
				t.Errorf("statuses %v for %d provider calls", statuses, calls)
			}
			if statuses[http.StatusUnauthorized] == limit {
				before := creds.signIns.Load()
				if r := signInVia(h.client(t), tc.form, demoEmail, demoPassword); r.status != http.StatusTooManyRequests {
					t.Errorf("right password from the locked address = %d, want 429", r.status)
				}
				if creds.signIns.Load() != before {
					t.Error("a locked sign-in reached the provider")
				}
			}
			if r := signInVia(h.clientFrom(t, "127.0.0.2"), tc.form, demoEmail, demoPassword); r.status != http.StatusOK && r.status != http.StatusSeeOther {
				t.Errorf("the owner from another address = %d, want to be let in", r.status)
			}
		})
	}
}

// TestSignInIPLimitCannotRace: simultaneous failures for many accounts from
// one address stop at the per-address limit.
func TestSignInIPLimitCannotRace(t *testing.T) {
	t.Parallel()
	const limit, guesses = 8, 40
	h, creds := newCountingHarness(t, func(c *Config) { wideGate(c); c.SignInIPLimit = limit })
	var wg sync.WaitGroup
	var limited atomic.Int64
	for i := range guesses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := h.client(t).signIn(fmt.Sprintf("user%d@example.com", i), "wrong"); r.status == http.StatusTooManyRequests {
				limited.Add(1)
			}
		}()
	}
	wg.Wait()
	if calls := creds.signIns.Load(); calls != limit || limited.Load() != guesses-limit {
		t.Fatalf("provider calls %d (want %d), 429s %d (want %d)", calls, limit, limited.Load(), guesses-limit)
	}
}

// TestLockoutCannotBeTurnedAgainstTheOwner: guesses from other addresses
// lock those addresses, not the owner's; only the much higher per-account
// throttle, reached from several addresses, stops everyone.
func TestLockoutCannotBeTurnedAgainstTheOwner(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { wideGate(c); c.SignInLimit, c.SignInAccountLimit = 2, 3 })
	attacker, owner := h.clientFrom(t, "127.0.0.2"), h.client(t)
	for i := range 2 {
		if r := attacker.signIn(demoEmail, "wrong"); r.status != http.StatusUnauthorized {
			t.Fatalf("guess %d = %d", i, r.status)
		}
	}
	if r := attacker.signIn(demoEmail, demoPassword); r.status != http.StatusTooManyRequests {
		t.Fatalf("attacker's address after its limit = %d, want 429", r.status)
	}
	if r := owner.signIn(demoEmail, demoPassword); r.status != http.StatusOK {
		t.Fatalf("owner from their own address = %d, want 200", r.status)
	}
	if r := h.clientFrom(t, "127.0.0.3").signIn(demoEmail, "wrong"); r.status != http.StatusUnauthorized {
		t.Fatalf("guess from a third address = %d", r.status)
	}
	r := h.client(t).signIn(demoEmail, demoPassword)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("after the per-account throttle = %d %v, want 429 with Retry-After", r.status, r.header)
	}
	kinds := map[string]bool{}
	for _, e := range h.events(t, auth.AuditFilter{Action: "auth.lockout"}) {
		kinds[e.Metadata["key"].(string)] = true
	}
	if !kinds["account-ip"] || !kinds["account"] || kinds["ip"] {
		t.Errorf("lockouts audited = %v, want account-ip and account", kinds)
	}
}

// TestSignUpsCountedPerIP: successful sign-ups and sign-ups of existing
// accounts count against the address; other addresses are unaffected.
func TestSignUpsCountedPerIP(t *testing.T) {
	t.Parallel()
	h, creds := newCountingHarness(t, func(c *Config) { wideGate(c); c.SignUpIPLimit = 2 })
	c := h.client(t)
	if r := c.signUp("first@example.com", "a-long-password"); r.status != http.StatusCreated {
		t.Fatalf("first sign-up = %d %s", r.status, r.body)
	}
	if r := c.signUp(demoEmail, "a-long-password"); r.status != http.StatusConflict {
		t.Fatalf("existing account = %d %s", r.status, r.body)
	}
	r := c.signUp("third@example.com", "a-long-password")
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || r.json(t)["error"] != "rate_limited" {
		t.Fatalf("sign-up over the limit = %d %v %s", r.status, r.header, r.body)
	}
	if n := creds.signUps.Load(); n != 2 {
		t.Errorf("provider sign-ups = %d, want 2", n)
	}
	if r := h.clientFrom(t, "127.0.0.2").signUp("third@example.com", "a-long-password"); r.status != http.StatusCreated {
		t.Errorf("sign-up from another address = %d", r.status)
	}
	// A sign-up the provider refuses as invalid is given back.
	if r := h.clientFrom(t, "127.0.0.2").signUp("fourth@example.com", "short"); r.status != http.StatusBadRequest {
		t.Fatalf("weak password = %d", r.status)
	}
	if r := h.clientFrom(t, "127.0.0.2").signUp("fourth@example.com", "a-long-password"); r.status != http.StatusCreated {
		t.Errorf("second sign-up from another address after a refused one = %d", r.status)
	}
}

// TestHashGateRefuses: while every hash slot is taken, sign-in, sign-up,
// the /login form and a password reset answer 429 rate_limited with
// Retry-After without reaching the provider, and count against no limit.
func TestHashGateRefuses(t *testing.T) {
	t.Parallel()
	gate := hashgate.New(1, 0, time.Millisecond)
	h, creds := newCountingHarness(t, func(c *Config) { c.HashGate = gate; c.SignInLimit, c.SignUpIPLimit = 1, 1 })
	release, err := gate.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c := h.client(t)
	for name, r := range map[string]response{
		"sign-in":      c.signIn(demoEmail, "wrong"),
		"sign-up":      c.signUp("new@example.com", "a-long-password"),
		"form sign-in": c.formSignIn(demoEmail, "wrong"),
		"reset":        c.do("POST", "/api/auth/credentials/password-reset/confirm", `{"token":"t","newPassword":"a-long-new-password"}`, nil),
		"form sign-up": c.post("/signup", url.Values{"email": {"new@example.com"}, "password": {"a-long-password"}, "name": {"N"}}),
	} {
		if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
			t.Errorf("%s while hashing is saturated = %d Retry-After %q", name, r.status, r.header.Get("Retry-After"))
		}
		if name != "reset" && name != "form sign-up" && name != "form sign-in" {
			var body map[string]any
			if json.Unmarshal(r.body, &body) != nil || body["error"] != "rate_limited" {
				t.Errorf("%s body = %s", name, r.body)
			}
		}
	}
	if creds.signIns.Load()+creds.signUps.Load() != 0 {
		t.Errorf("refused requests reached the provider")
	}
	release()
	if r := c.signIn(demoEmail, demoPassword); r.status != http.StatusOK {
		t.Errorf("sign-in after the flood = %d: refused attempts must not count against the limit of 1", r.status)
	}
	if r := c.signUp("new@example.com", "a-long-password"); r.status != http.StatusCreated {
		t.Errorf("sign-up after the flood = %d", r.status)
	}
}
