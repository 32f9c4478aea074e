package sessioncache

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authhost/authhost/auth"
)

var ctx = context.Background()

// fake is a session provider whose sessions are "<user>/<n>"; it counts
// validations and can hold one until released.
type fake struct {
	validations atomic.Int64
	cacheSecs   int
	expires     time.Time
	hold        chan struct{} // when set, ValidateSession waits on it
	entered     chan struct{}
	mu          sync.Mutex
	destroyed   map[string]bool
}

func newFake(cacheSecs int, expires time.Time) *fake {
	return &fake{cacheSecs: cacheSecs, expires: expires, destroyed: map[string]bool{}}
}

func userOf(id string) string {
	for i := range id {
		if id[i] == '/' {
			return id[:i]
		}
	}
	return id
}

func (f *fake) ValidateSession(_ context.Context, id string) (*auth.Session, error) {
	f.validations.Add(1)
	if f.entered != nil {
		f.entered <- struct{}{}
	}
	if f.hold != nil {
		<-f.hold
	}
	switch {
	case id == "err":
		return nil, auth.Errorf(auth.CodeUnavailable, "down")
	case strings.HasPrefix(id, "bad"):
		return nil, nil
	}
	f.mu.Lock()
	gone := f.destroyed[id]
	f.mu.Unlock()
	if gone {
		return nil, nil
	}
	return &auth.Session{ID: id, UserID: userOf(id), ExpiresAt: f.expires, CacheSeconds: f.cacheSecs,
		Metadata: map[string]any{"roles": []any{"member"}}}, nil
}

func (f *fake) DestroySession(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.destroyed[id] = true
	return nil
}

func (f *fake) RefreshSession(_ context.Context, id string) (*auth.Session, error) {
	return &auth.Session{ID: id + "+", UserID: userOf(id), ExpiresAt: f.expires, CacheSeconds: f.cacheSecs}, nil
}

func (f *fake) CreateSession(context.Context, string, map[string]any) (*auth.Session, error) {
	return nil, nil
}
func (f *fake) SessionIDFromRequest(context.Context, *http.Request) (string, error) { return "", nil }
func (f *fake) SessionCookies(context.Context, *auth.Session) ([]string, error)     { return nil, nil }
func (f *fake) ClearCookies(context.Context) ([]string, error)                      { return nil, nil }

type listingFake struct{ *fake }

func (l listingFake) ListSessions(_ context.Context, userID string) ([]auth.Session, error) {
	return []auth.Session{{ID: userID + "/1", UserID: userID}}, nil
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func validate(t *testing.T, sp auth.SessionProvider, id string) *auth.Session {
	t.Helper()
	s, err := sp.ValidateSession(ctx, id)
	if err != nil {
		t.Fatalf("ValidateSession(%q): %v", id, err)
	}
	return s
}

func TestCacheLifetime(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name      string
		cacheSecs int
		cap       time.Duration
		expires   time.Time
		fresh     time.Duration // still a hit after this long
		stale     time.Duration // a miss after this long
	}{
		{"provider's vouching", 10, time.Minute, t0.Add(time.Hour), 9 * time.Second, 10 * time.Second},
		{"operator's cap", 600, 30 * time.Second, t0.Add(time.Hour), 29 * time.Second, 30 * time.Second},
		{"session expiry", 600, time.Hour, t0.Add(5 * time.Second), 4 * time.Second, 5 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			clk := &clock{t: t0}
			f := newFake(c.cacheSecs, c.expires)
			sp := Wrap(f, Options{Cap: c.cap, Now: clk.Now})
			validate(t, sp, "u1/1")
			clk.add(c.fresh)
			if s := validate(t, sp, "u1/1"); s == nil || s.UserID != "u1" || f.validations.Load() != 1 {
				t.Fatalf("after %s: %+v, %d provider calls; want a hit", c.fresh, s, f.validations.Load())
			}
			clk.add(c.stale - c.fresh)
			validate(t, sp, "u1/1")
			if f.validations.Load() != 2 {
				t.Fatalf("after %s: %d provider calls, want a miss", c.stale, f.validations.Load())
			}
		})
	}
}

func TestCacheDoesNotKeep(t *testing.T) {
	t.Parallel()
	exp := time.Now().Add(time.Hour)
	f := newFake(0, exp)
	sp := Wrap(f, Options{Cap: time.Minute})
	validate(t, sp, "u1/1")
	validate(t, sp, "u1/1")
	if f.validations.Load() != 2 {
		t.Errorf("cache_seconds 0 cached: %d calls", f.validations.Load())
	}
	f = newFake(60, exp)
	sp = Wrap(f, Options{Cap: time.Minute})
	for _, id := range []string{"bad", "bad", "err", "err"} {
		_, _ = sp.ValidateSession(ctx, id)
	}
	if f.validations.Load() != 4 {
		t.Errorf("invalid sessions or errors cached: %d calls, want 4", f.validations.Load())
	}
	if got := Wrap(f, Options{Cap: 0}); got != auth.SessionProvider(f) {
		t.Error("cap 0 must turn the cache off")
	}
	// A caller changing the returned metadata does not change the cache.
	validate(t, sp, "u1/1").Metadata["roles"] = "owner"
	if s := validate(t, sp, "u1/1"); s.Metadata["roles"] == "owner" {
		t.Error("the cache shares metadata with its callers")
	}
}

// TestInvalidation: each event the host sees drops the entry at once.
func TestInvalidation(t *testing.T) {
	t.Parallel()
	exp := time.Now().Add(time.Hour)
	cases := []struct {
		name  string
		event func(sp auth.SessionProvider)
		id    string // the cached id that must be dropped
		all   bool   // every entry must be dropped
	}{
		{"logout/destroy", func(sp auth.SessionProvider) { _ = sp.DestroySession(ctx, "u1/1") }, "u1/1", false},
		{"destroy of an id the cache does not hold", func(sp auth.SessionProvider) { _ = sp.DestroySession(ctx, "listed-id") }, "u2/1", true},
		{"refresh", func(sp auth.SessionProvider) { _, _ = sp.RefreshSession(ctx, "u1/1") }, "u1/1", false},
		{"another process's logout, by hash", func(sp auth.SessionProvider) {
			if !sp.(*listerCache).InvalidateHash(sha256.Sum256([]byte("u1/1"))) {
				t.Error("InvalidateHash of a cached session reported it not held")
			}
			if sp.(*listerCache).InvalidateHash(sha256.Sum256([]byte("u1/9"))) {
				t.Error("InvalidateHash of an uncached session reported it held")
			}
		}, "u1/1", false},
		{"sign out everywhere (lister)", func(sp auth.SessionProvider) { _, _ = auth.EndUserSessions(ctx, sp, "u1") }, "u1/2", false},
		{"user deleted, provider cannot list", func(sp auth.SessionProvider) {
			_, _ = auth.EndUserSessions(ctx, sp.(*listerCache).Cache, "u1")
		}, "u1/2", false},
		{"role change", func(sp auth.SessionProvider) {
			m := auth.InvalidatingRBAC(roles{}, sp.(auth.SessionInvalidator))
			_ = m.SetUserRoles(ctx, "u1", []string{"admin"})
		}, "u1/2", false},
		{"role assignment cleared", func(sp auth.SessionProvider) {
			m := auth.InvalidatingRBAC(roles{}, sp.(auth.SessionInvalidator))
			_ = m.ClearUserRoles(ctx, "u1")
		}, "u1/2", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(60, exp)
			sp := Wrap(listingFake{f}, Options{Cap: time.Minute})
			for _, id := range []string{"u1/1", "u1/2", "u2/1"} {
				validate(t, sp, id)
			}
			c.event(sp)
			before := f.validations.Load()
			validate(t, sp, c.id)
			if f.validations.Load() != before+1 {
				t.Errorf("%s still cached after the event", c.id)
			}
			if c.all {
				return
			}
			validate(t, sp, "u2/1")
			if f.validations.Load() != before+1 {
				t.Error("another user's session was dropped")
			}
		})
	}
}

// TestDestroyStaleIDKeepsCache: a logout with a cookie the provider
// already called invalid (validated first by the request) drops nothing
// else, so stale or forged cookies cannot flush the cache.
func TestDestroyStaleIDKeepsCache(t *testing.T) {
	t.Parallel()
	f := newFake(60, time.Now().Add(time.Hour))
	c := New(f, Options{Cap: time.Minute, MaxEntries: 4})
	validate(t, c, "u1/1")
	if s := validate(t, c, "bad"); s != nil {
		t.Fatal("bad is invalid")
	}
	if err := c.DestroySession(ctx, "bad"); err != nil {
		t.Fatal(err)
	}
	if _, _, n := c.Stats(); n != 1 {
		t.Fatalf("entries = %d after destroying a known-invalid id, want 1", n)
	}
	// The invalid set is bounded by MaxEntries.
	for i := range 10 {
		_, _ = c.ValidateSession(ctx, fmt.Sprintf("bad%d", i))
	}
	c.mu.Lock()
	n := len(c.invalid)
	c.mu.Unlock()
	if n == 0 || n > 4 {
		t.Errorf("invalid set holds %d ids, want 1..4", n)
	}
}

type roles struct{ auth.RBACManager }

func (roles) SetUserRoles(context.Context, string, []string) error { return nil }
func (roles) ClearUserRoles(context.Context, string) error         { return nil }

func TestCacheBound(t *testing.T) {
	t.Parallel()
	f := newFake(60, time.Now().Add(time.Hour))
	c := New(f, Options{Cap: time.Minute, MaxEntries: 2})
	validate(t, c, "a/1")
	validate(t, c, "b/1")
	validate(t, c, "a/1") // a is now the most recent
	validate(t, c, "c/1") // evicts b
	if _, _, n := c.Stats(); n != 2 {
		t.Fatalf("entries = %d, want 2", n)
	}
	calls := f.validations.Load()
	validate(t, c, "a/1")
	validate(t, c, "c/1")
	if f.validations.Load() != calls {
		t.Error("recent entries were evicted")
	}
	validate(t, c, "b/1")
	if f.validations.Load() != calls+1 {
		t.Error("the least recently used entry was kept")
	}
	if len(c.byUser) != 2 {
		t.Errorf("user index holds %d users, want 2 (evictions clean it)", len(c.byUser))
	}
}

// TestValidationRacingDestroy: an answer the provider gave before a
// destroy finished is not cached.
func TestValidationRacingDestroy(t *testing.T) {
	t.Parallel()
	f := newFake(60, time.Now().Add(time.Hour))
	f.hold, f.entered = make(chan struct{}), make(chan struct{})
	c := New(f, Options{Cap: time.Minute})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = c.ValidateSession(ctx, "u1/1") // answers "valid" after the destroy
	}()
	<-f.entered
	if err := c.DestroySession(ctx, "u1/1"); err != nil {
		t.Fatal(err)
	}
	close(f.hold)
	<-done
	f.entered = nil
	if s := validate(t, c, "u1/1"); s != nil {
		t.Fatalf("destroyed session still valid: %+v", s)
	}
}

// TestValidationRacingInvalidateHash: a validation answered before another
// process's logout reached this one is not cached after it.
func TestValidationRacingInvalidateHash(t *testing.T) {
	t.Parallel()
	f := newFake(60, time.Now().Add(time.Hour))
	f.hold, f.entered = make(chan struct{}), make(chan struct{})
	c := New(f, Options{Cap: time.Minute})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = c.ValidateSession(ctx, "u1/1")
	}()
	<-f.entered
	c.InvalidateHash(sha256.Sum256([]byte("u1/1")))
	close(f.hold)
	<-done
	f.hold, f.entered = nil, nil
	before := f.validations.Load()
	validate(t, c, "u1/1")
	if f.validations.Load() != before+1 {
		t.Fatal("a validation racing an invalidation by hash was cached")
	}
}

// TestConcurrent runs validations, invalidations and evictions together
// (run with -race); every answer is the provider's session for that id.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	f := newFake(60, time.Now().Add(time.Hour))
	c := New(f, Options{Cap: time.Minute, MaxEntries: 8})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				id := fmt.Sprintf("u%d/%d", i%4, i%12)
				switch (g + i) % 10 {
				case 0:
					c.InvalidateUser(fmt.Sprintf("u%d", i%4))
				case 1:
					c.Invalidate(id)
				default:
					s, err := c.ValidateSession(ctx, id)
					if err != nil || s == nil || s.ID != id || s.UserID != userOf(id) {
						t.Errorf("ValidateSession(%q) = %+v, %v", id, s, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	hits, misses, n := c.Stats()
	if n > 8 || hits == 0 || misses == 0 {
		t.Errorf("hits=%d misses=%d entries=%d", hits, misses, n)
	}
}

func TestWrapKeepsLister(t *testing.T) {
	t.Parallel()
	f := newFake(60, time.Now().Add(time.Hour))
	if _, ok := Wrap(f, Options{Cap: time.Minute}).(auth.SessionLister); ok {
		t.Error("a provider that cannot list became a lister")
	}
	sp := Wrap(listingFake{f}, Options{Cap: time.Minute})
	l, ok := sp.(auth.SessionLister)
	if !ok {
		t.Fatal("a lister lost ListSessions")
	}
	if s, err := l.ListSessions(ctx, "u9"); err != nil || len(s) != 1 || s[0].ID != "u9/1" {
		t.Errorf("ListSessions = %+v, %v", s, err)
	}
	if _, ok := sp.(auth.SessionInvalidator); !ok {
		t.Error("the cache is not an auth.SessionInvalidator")
	}
}

// TestPrime checks that a session the provider just started and vouches
// for is answered without a validation, for as long as a validation would
// keep it, and that nothing is primed that a validation would not cache
// or that an invalidation overtook.
func TestPrime(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	exp := t0.Add(time.Hour)
	sess := func(id string, cacheSecs int, expires time.Time) *auth.Session {
		return &auth.Session{ID: id, UserID: userOf(id), ExpiresAt: expires, CacheSeconds: cacheSecs,
			Metadata: map[string]any{"roles": []any{"member"}}}
	}
	tests := []struct {
		name string
		s    *auth.Session
		// between runs between Generation and Prime.
		between func(c *Cache)
		// primed says the first validation needs no provider call.
		primed bool
	}{
		{"vouched", sess("u1/1", 60, exp), nil, true},
		{"not vouched", sess("u1/1", 0, exp), nil, false},
		{"already expired", sess("u1/1", 60, t0.Add(-time.Second)), nil, false},
		{"expires now", sess("u1/1", 60, t0), nil, false},
		{"nil", nil, nil, false},
		{"no id", sess("", 60, exp), nil, false},
		{"user invalidated meanwhile (sign-out everywhere)", sess("u1/1", 60, exp), func(c *Cache) { c.InvalidateUser("u1") }, false},
		{"another user invalidated meanwhile", sess("u1/1", 60, exp), func(c *Cache) { c.InvalidateUser("u2") }, false},
		{"another replica's notice meanwhile", sess("u1/1", 60, exp), func(c *Cache) { c.InvalidateHash(sha256.Sum256([]byte("u9/9"))) }, false},
		{"flushed meanwhile", sess("u1/1", 60, exp), func(c *Cache) { c.Flush() }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(60, exp)
			c := New(f, Options{Cap: 30 * time.Second, Now: func() time.Time { return t0 }})
			gen := c.Generation()
			if tt.between != nil {
				tt.between(c)
			}
			c.Prime(tt.s, gen)
			id := "u1/1"
			if tt.s != nil && tt.s.ID != "" {
				id = tt.s.ID
			}
			got, err := c.ValidateSession(ctx, id)
			if err != nil || got == nil || got.ID != id {
				t.Fatalf("ValidateSession = %+v, %v", got, err)
			}
			if calls := f.validations.Load(); (calls == 0) != tt.primed {
				t.Fatalf("%d provider validations, primed = %v", calls, tt.primed)
			}
		})
	}
}

// TestPrimedLifetime checks that a primed session lasts min(CacheSeconds,
// cap), never past its expiry, and that destroying it (logout) or
// another replica's notice drops it at once.
func TestPrimedLifetime(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := t0
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	set := func(t time.Time) { mu.Lock(); clock = t; mu.Unlock() }
	for _, tc := range []struct {
		name    string
		secs    int
		expires time.Time
		lasts   time.Duration
	}{
		{"cap", 600, t0.Add(time.Hour), 30 * time.Second},
		{"cache_seconds", 10, t0.Add(time.Hour), 10 * time.Second},
		{"expiry", 600, t0.Add(5 * time.Second), 5 * time.Second},
	} {
		set(t0)
		f := newFake(0, tc.expires) // later validations are not cached
		c := New(f, Options{Cap: 30 * time.Second, Now: now})
		c.Prime(&auth.Session{ID: "u1/1", UserID: "u1", ExpiresAt: tc.expires, CacheSeconds: tc.secs}, c.Generation())
		set(t0.Add(tc.lasts - time.Millisecond))
		if _, err := c.ValidateSession(ctx, "u1/1"); err != nil || f.validations.Load() != 0 {
			t.Fatalf("%s: just before %v: %d validations, %v", tc.name, tc.lasts, f.validations.Load(), err)
		}
		set(t0.Add(tc.lasts))
		if _, err := c.ValidateSession(ctx, "u1/1"); err != nil || f.validations.Load() != 1 {
			t.Fatalf("%s: at %v: %d validations, want 1", tc.name, tc.lasts, f.validations.Load())
		}
	}

	set(t0)
	f := newFake(60, t0.Add(time.Hour))
	c := New(f, Options{Cap: 30 * time.Second, Now: now})
	c.Prime(&auth.Session{ID: "u1/1", UserID: "u1", ExpiresAt: t0.Add(time.Hour), CacheSeconds: 60}, c.Generation())
	if err := c.DestroySession(ctx, "u1/1"); err != nil {
		t.Fatal(err)
	}
	if s, err := c.ValidateSession(ctx, "u1/1"); err != nil || s != nil {
		t.Fatalf("a primed session after its logout = %+v, %v", s, err)
	}
	c.Prime(&auth.Session{ID: "u2/1", UserID: "u2", ExpiresAt: t0.Add(time.Hour), CacheSeconds: 60}, c.Generation())
	if !c.InvalidateHash(sha256.Sum256([]byte("u2/1"))) {
		t.Fatal("another replica's notice did not find the primed session")
	}
}

// recordingFake is a fake that remembers which ids it validated.
type recordingFake struct {
	*fake
	seen sync.Map
}

func (r *recordingFake) ValidateSession(ctx context.Context, id string) (*auth.Session, error) {
	r.seen.Store(id, true)
	return r.fake.ValidateSession(ctx, id)
}

// TestPrimeConcurrent primes, validates and invalidates from many
// goroutines (run with -race): a session primed before an invalidation
// of its user is never answered from the cache after it.
func TestPrimeConcurrent(t *testing.T) {
	t.Parallel()
	f := &recordingFake{fake: newFake(60, time.Now().Add(time.Hour))}
	c := New(f, Options{Cap: time.Minute, MaxEntries: 16})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 400 {
				user := fmt.Sprintf("u%d", i%4)
				id := fmt.Sprintf("%s/%d", user, g*1000+i) // validated by this goroutine only
				c.Prime(&auth.Session{ID: id, UserID: user, ExpiresAt: time.Now().Add(time.Hour), CacheSeconds: 60}, c.Generation())
				if i%5 == 0 {
					c.InvalidateUser(user)
				}
				s, err := c.ValidateSession(ctx, id)
				if err != nil || s == nil || s.UserID != user {
					t.Errorf("ValidateSession(%q) = %+v, %v", id, s, err)
					return
				}
				if _, asked := f.seen.Load(id); i%5 == 0 && !asked {
					t.Errorf("%s was answered from the cache after its user was invalidated", id)
					return
				}
			}
		}()
	}
	wg.Wait()
	hits, _, n := c.Stats()
	if n > 16 || hits == 0 {
		t.Errorf("hits=%d entries=%d (bound 16)", hits, n)
	}
}
