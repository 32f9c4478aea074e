package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/auth/hashgate"
	"github.com/authhost/authhost/internal/testenv/stores"
	"github.com/authhost/authhost/store"
	"github.com/authhost/authhost/store/memory"
)

// fakeClock is a clock tests move by hand, shared by a limiter and the
// memory store it counts in.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var testMAC = limiterMAC([]byte("0123456789abcdef0123456789abcdef"))

// testLimiter is a limiter of limit per minute on a memory store, with the
// store and the limiter on clock.
func testLimiter(limit int, clock *fakeClock) (*limiter, *memory.Store) {
	st := memory.New(memory.Options{Now: clock.Now})
	return newLimiter(st, "test", limit, time.Minute, clock.Now, testMAC, slog.New(slog.DiscardHandler)), st
}

func mustReserve(t *testing.T, l *limiter, key string) (*reservation, time.Duration) {
	t.Helper()
	res, wait, err := l.Reserve(context.Background(), key)
	if err != nil {
		t.Fatalf("Reserve(%q): %v", key, err)
	}
	return res, wait
}

func mustBlocked(t *testing.T, l *limiter, key string) (bool, time.Duration) {
	t.Helper()
	blocked, wait, err := l.Blocked(context.Background(), key)
	if err != nil {
		t.Fatalf("Blocked(%q): %v", key, err)
	}
	return blocked, wait
}

func TestLimiter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, _ := testLimiter(3, &fakeClock{now: time.Unix(1e9, 0)})
	var held []*reservation
	for i := 1; i <= 3; i++ {
		res, _ := mustReserve(t, l, "a")
		if res == nil {
			t.Fatalf("attempt %d refused under the limit", i)
		}
		held = append(held, res)
	}
	if res, wait := mustReserve(t, l, "a"); res != nil || wait != time.Minute {
		t.Fatalf("4th attempt with 3 in flight: reservation %v wait %v; want refused for a minute", res, wait)
	}
	if blocked, _ := mustBlocked(t, l, "a"); !blocked {
		t.Fatal("Blocked must see attempts in flight")
	}
	held[2].Refund(ctx)
	if blocked, _ := mustBlocked(t, l, "a"); blocked {
		t.Fatal("a refunded attempt must free its place")
	}
	res, _ := mustReserve(t, l, "a")
	if res == nil {
		t.Fatal("the refunded place was not given to the next attempt")
	}
	if !held[0].Commit(ctx) {
		t.Fatal("a failure kept with the window full must report the lockout")
	}
}

// TestLimiterCommit: a committed failure that fills the window reports the
// lockout exactly once; the time left counts from the window's first
// attempt; refunds of another window do not leak into it.
func TestLimiterCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	l, _ := testLimiter(2, clock)
	a, _ := mustReserve(t, l, "k")
	if a.Commit(ctx) {
		t.Fatal("1 of 2 failures reported as a lockout")
	}
	clock.Add(10 * time.Second)
	b, _ := mustReserve(t, l, "k")
	if !b.Commit(ctx) {
		t.Fatal("the failure reaching the limit must report the lockout")
	}
	if b.Commit(ctx) || a.Commit(ctx) {
		t.Fatal("a lockout must be reported once per window")
	}
	if blocked, wait := mustBlocked(t, l, "k"); !blocked || wait != 50*time.Second {
		t.Fatalf("after 2 failures: blocked=%v wait=%v; want 50s left of the window opened by the first", blocked, wait)
	}
	if res, wait := mustReserve(t, l, "k"); res != nil || wait != 50*time.Second {
		t.Fatalf("reserve when locked = %v wait %v; want refused for 50s", res, wait)
	}
	if blocked, _ := mustBlocked(t, l, "other"); blocked {
		t.Fatal("keys must be independent")
	}
	clock.Add(30 * time.Second)
	if _, wait := mustBlocked(t, l, "k"); wait != 20*time.Second {
		t.Fatalf("remaining lockout = %v", wait)
	}
	clock.Add(20 * time.Second)
	if blocked, _ := mustBlocked(t, l, "k"); blocked {
		t.Fatal("lockout must end with the window")
	}
	fresh, _ := mustReserve(t, l, "k")
	a.Refund(ctx) // from the old window: must not free a place in the new one
	other, _ := mustReserve(t, l, "k")
	if fresh == nil || other == nil {
		t.Fatal("a new window must accept attempts")
	}
	if res, _ := mustReserve(t, l, "k"); res != nil {
		t.Fatal("a refund from an ended window freed a place in the new one")
	}
	if !other.Commit(ctx) {
		t.Fatal("the new window's lockout must be reported again")
	}
}

// TestLimiterKeys: every limited key, whatever its encoding, counts on its
// own, and none is written to the store in clear.
func TestLimiterKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	keys := []string{
		"victim@example.com",
		"victim@example.com\x00127.0.0.1",
		"vіctim@example.com", // Cyrillic i: a look-alike is another account
		"VICTIM@EXAMPLE.COM",
		"victim@example.com\n",
		"null",
		"",
		"127.0.0.1",
		"::1",
		"::ffff:127.0.0.1",
		"2001:db8::1",
		"\u202evictim",
	}
	l, st := testLimiter(1, &fakeClock{now: time.Unix(1e9, 0)})
	for _, k := range keys {
		res, _ := mustReserve(t, l, k)
		if res == nil {
			t.Fatalf("first attempt of %q refused: keys are not independent", k)
		}
		res.Commit(ctx)
	}
	for _, k := range keys {
		if blocked, _ := mustBlocked(t, l, k); !blocked {
			t.Errorf("%q not blocked after its one failure", k)
		}
	}
	err := st.Scan(ctx, "", store.ScanOptions{}, func(key string, value []byte) error {
		for _, k := range keys {
			if len(k) > 3 && (strings.Contains(key, k) || strings.Contains(string(value), k)) {
				t.Errorf("store entry %q=%q holds %q in clear", key, value, k)
			}
		}
		if !strings.HasPrefix(key, limiterPrefix+"test/") {
			t.Errorf("store key %q outside the limiter's namespace", key)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLimiterStoreFailureFailsClosed: a limiter whose store fails refuses
// with the error instead of letting the attempt through uncounted.
func TestLimiterStoreFailureFailsClosed(t *testing.T) {
	t.Parallel()
	l, st := testLimiter(3, &fakeClock{now: time.Unix(1e9, 0)})
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if res, _, err := l.Reserve(context.Background(), "k"); res != nil || err == nil {
		t.Fatalf("Reserve on a closed store = %v, %v; want refused with an error", res, err)
	}
	if _, _, err := l.Blocked(context.Background(), "k"); err == nil {
		t.Fatal("Blocked on a closed store: no error")
	}
}

// TestLimiterConcurrentReserve: however many goroutines reserve at once,
// at most limit attempts per key are ever let through without a refund.
func TestLimiterConcurrentReserve(t *testing.T) {
	t.Parallel()
	l := newLimiter(memory.New(memory.Options{}), "test", 10, time.Hour, time.Now, testMAC, slog.New(slog.DiscardHandler))
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
			if res, _, err := l.Reserve(context.Background(), key); err != nil {
				t.Error(err)
			} else if res != nil {
				granted.Add(1)
				res.Commit(context.Background())
			}
		}()
	}
	wg.Wait()
	if g := granted.Load(); g != 20 {
		t.Fatalf("granted %d reservations over 2 keys of limit 10, want 20", g)
	}
}

// TestLimitersShareOneStore: two limiters on one store, as two replicas on
// one database, hammered at once with attempts that fail (kept) or
// succeed (refunded): the failures kept and the attempts in flight never
// exceed the limit together, the lockout is announced once, and once it is
// full both refuse.
func TestLimitersShareOneStore(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		open func(t *testing.T) CounterStore
	}{
		{"memory", func(*testing.T) CounterStore { return memory.New(memory.Options{}) }},
		{"badger", func(t *testing.T) CounterStore {
			s := stores.OpenBadger(t, t.TempDir())
			t.Cleanup(func() { _ = s.Close() })
			return s
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const limit, workers, attempts = 10, 32, 40
			st := tc.open(t)
			log := slog.New(slog.DiscardHandler)
			replicas := []*limiter{
				newLimiter(st, "account-ip", limit, time.Hour, time.Now, testMAC, log),
				newLimiter(st, "account-ip", limit, time.Hour, time.Now, testMAC, log),
			}
			ctx := context.Background()
			var used, committed, announced, granted atomic.Int64
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := range attempts {
						l := replicas[(w+i)%2] // alternate between the replicas
						res, _, err := l.Reserve(ctx, "victim@example.com\x00192.0.2.1")
						if err != nil {
							t.Error(err)
							return
						}
						if res == nil {
							continue
						}
						granted.Add(1)
						if n := used.Add(1); n > limit {
							t.Errorf("%d attempts held or kept at once, limit %d", n, limit)
						}
						if (w+i)%3 == 0 {
							committed.Add(1)
							if res.Commit(ctx) {
								announced.Add(1)
							}
						} else {
							used.Add(-1) // before the store frees the place
							res.Refund(ctx)
						}
					}
				})
			}
			wg.Wait()
			if c := committed.Load(); c != limit {
				t.Fatalf("%d failures kept (of %d attempts granted), want the limit %d", c, granted.Load(), limit)
			}
			if a := announced.Load(); a != 1 {
				t.Errorf("lockout announced %d times, want once", a)
			}
			for i, l := range replicas {
				res, wait, err := l.Reserve(ctx, "victim@example.com\x00192.0.2.1")
				if err != nil || res != nil || wait <= 0 || wait > time.Hour {
					t.Errorf("replica %d after the lockout: %v wait %v err %v; want refused for the rest of the hour", i, res, wait, err)
				}
			}
		})
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

// TestLimitsFailClosed: when the store the limits count in fails, sign-in,
// sign-up and password reset are refused (503) without asking the
// provider, never let through uncounted.
func TestLimitsFailClosed(t *testing.T) {
	t.Parallel()
	broken := memory.New(memory.Options{})
	if err := broken.Close(); err != nil {
		t.Fatal(err)
	}
	h, creds := newCountingHarness(t, func(c *Config) { wideGate(c); c.Counters = broken })
	c := h.client(t)
	for name, r := range map[string]response{
		"sign-in": c.signIn(demoEmail, demoPassword),
		"sign-up": c.signUp("new@example.com", "a-long-password"),
	} {
		if r.status != http.StatusServiceUnavailable || r.json(t)["error"] != "unavailable" {
			t.Errorf("%s with the limits' store down = %d %s, want 503 unavailable", name, r.status, r.body)
		}
	}
	if n := creds.signIns.Load() + creds.signUps.Load(); n != 0 {
		t.Errorf("%d provider calls with the limits' store down, want 0", n)
	}
}

// TestSignInLimitsKeyTheClientNetwork: the per-address limits count an
// IPv6 client by its /64 and an IPv4-mapped address as the IPv4 one, so
// rotating through one's own /64, or spelling an address another way,
// buys no fresh sign-in limits; other networks are counted apart.
func TestSignInLimitsKeyTheClientNetwork(t *testing.T) {
	t.Parallel()
	keys := func(ip string) [2]string {
		ls := (&Server{}).signInLimits("a@example.com", ip)
		var ip4, pair string
		for _, l := range ls {
			switch l.kind {
			case "ip":
				ip4 = l.key
			case "account-ip":
				pair = l.key
			}
		}
		return [2]string{ip4, pair}
	}
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"2001:db8::1", "2001:db8::ffff:ffff:ffff:fffe", true},
		{"2001:db8::1", "2001:db8::1%eth0", true},
		{"2001:DB8:0:0::1", "2001:db8::2", true},
		{"::ffff:192.0.2.7", "192.0.2.7", true},
		{"2001:db8::1", "2001:db8:0:1::1", false},
		{"192.0.2.7", "192.0.2.8", false},
		{"192.0.2.7", "::ffff:192.0.2.8", false},
	} {
		if got := keys(tc.a) == keys(tc.b); got != tc.same {
			t.Errorf("%q and %q counted together = %v, want %v (%v, %v)", tc.a, tc.b, got, tc.same, keys(tc.a), keys(tc.b))
		}
	}
}
