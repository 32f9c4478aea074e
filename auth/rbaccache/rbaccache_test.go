package rbaccache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authhost/authhost/auth"
)

// provider answers from a role table it can change behind the cache and
// counts its calls; gate, when set, holds every call until closed.
type provider struct {
	mu    sync.Mutex
	roles map[string][]string
	fail  error
	calls atomic.Int64
	gate  chan struct{}
}

func (p *provider) set(userID string, roles ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.roles[userID] = roles
}

func (p *provider) Roles(ctx context.Context, u auth.User) ([]string, error) {
	p.calls.Add(1)
	if p.gate != nil {
		<-p.gate
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return nil, p.fail
	}
	if r, ok := p.roles[u.ID]; ok {
		return slices.Clone(r), nil
	}
	return slices.Clone(u.Roles), nil
}

func (p *provider) Permissions(ctx context.Context, u auth.User) ([]string, error) {
	roles, err := p.Roles(ctx, u)
	for i, r := range roles {
		roles[i] = r + ":*"
	}
	return roles, err
}

type clock struct{ t atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.t.Load()) }
func (c *clock) advance(d time.Duration) { c.t.Add(int64(d)) }
func newCache(p *provider, c *clock) *Cache {
	return New(p, Options{TTL: 30 * time.Second, Now: c.now})
}

func TestWrapDisabled(t *testing.T) {
	t.Parallel()
	p := &provider{roles: map[string][]string{}}
	if got := Wrap(p, Options{TTL: 0}); got != auth.RBACProvider(p) {
		t.Fatalf("TTL 0: Wrap = %T, want the provider itself", got)
	}
	if got := Wrap(p, Options{TTL: -time.Second}); got != auth.RBACProvider(p) {
		t.Fatalf("negative TTL: Wrap = %T, want the provider itself", got)
	}
	if _, ok := Wrap(p, Options{TTL: time.Second}).(*Cache); !ok {
		t.Fatal("TTL 1s: Wrap returned no cache")
	}
}

// TestAnswers walks one user through the cache's life: hits while fresh,
// expiry, another snapshot of the user, invalidation, flush, errors.
func TestAnswers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	alice := auth.User{ID: "alice", Roles: []string{"member"}}
	type step struct {
		name      string
		do        func(c *Cache, p *provider, clk *clock)
		user      auth.User
		wantRoles []string
		wantCalls int64 // provider calls so far
	}
	steps := []step{
		{"first ask", nil, alice, []string{"member"}, 1},
		{"fresh: no call", nil, alice, []string{"member"}, 1},
		{"changed at the provider, still fresh", func(_ *Cache, p *provider, _ *clock) { p.set("alice", "admin") }, alice, []string{"member"}, 1},
		{"expired: asks again", func(_ *Cache, _ *provider, clk *clock) { clk.advance(30 * time.Second) }, alice, []string{"admin"}, 2},
		{"another snapshot of the user asks again", nil, auth.User{ID: "alice", Roles: []string{"owner"}}, []string{"admin"}, 3},
		{"role change through the host", func(c *Cache, p *provider, _ *clock) { p.set("alice", "viewer"); c.InvalidateUser("alice") }, auth.User{ID: "alice", Roles: []string{"owner"}}, []string{"viewer"}, 4},
		{"other user invalidated: kept", func(c *Cache, p *provider, _ *clock) { p.set("alice", "owner"); c.InvalidateUser("bob") }, auth.User{ID: "alice", Roles: []string{"owner"}}, []string{"viewer"}, 4},
		{"flush", func(c *Cache, _ *provider, _ *clock) { c.Flush() }, auth.User{ID: "alice", Roles: []string{"owner"}}, []string{"owner"}, 5},
	}
	p := &provider{roles: map[string][]string{}}
	clk := &clock{}
	c := newCache(p, clk)
	for _, s := range steps {
		if s.do != nil {
			s.do(c, p, clk)
		}
		got, err := c.Roles(ctx, s.user)
		if err != nil || !slices.Equal(got, s.wantRoles) || p.calls.Load() != s.wantCalls {
			t.Fatalf("%s: Roles = %v, %v after %d calls; want %v after %d", s.name, got, err, p.calls.Load(), s.wantRoles, s.wantCalls)
		}
	}
	// Permissions are cached beside the roles, on their own.
	before := p.calls.Load()
	u := auth.User{ID: "alice", Roles: []string{"owner"}}
	for range 3 {
		if got, err := c.Permissions(ctx, u); err != nil || !slices.Equal(got, []string{"owner:*"}) {
			t.Fatalf("Permissions = %v, %v", got, err)
		}
	}
	if n := p.calls.Load() - before; n != 1 {
		t.Fatalf("3 permission questions made %d provider calls, want 1", n)
	}
	// A caller changing the answer it got does not change the cache.
	got, _ := c.Roles(ctx, u)
	got[0] = "tampered"
	if again, _ := c.Roles(ctx, u); again[0] != "owner" {
		t.Fatalf("cached answer changed through a returned slice: %v", again)
	}
	// Errors are never cached.
	p.mu.Lock()
	p.fail = auth.Errorf(auth.CodeUnavailable, "down")
	p.mu.Unlock()
	c.Flush()
	if _, err := c.Roles(ctx, u); auth.CodeOf(err) != auth.CodeUnavailable {
		t.Fatalf("provider down: err = %v", err)
	}
	p.mu.Lock()
	p.fail = nil
	p.mu.Unlock()
	if got, err := c.Roles(ctx, u); err != nil || !slices.Equal(got, []string{"owner"}) {
		t.Fatalf("after the outage: %v, %v (an error was cached)", got, err)
	}
	if st := c.Stats(); st.Entries != 1 || st.Hits == 0 || st.Misses == 0 {
		t.Fatalf("stats = %+v", st)
	}
}

// TestUserIDsAreExact checks that user ids that look alike, differ only
// by control characters or are empty never share an entry.
func TestUserIDsAreExact(t *testing.T) {
	t.Parallel()
	ids := []string{"admin", "аdmin" /* Cyrillic а */, "admin\x00", "admin\n", "ADMIN", "admin ", "", "null", "127.0.0.1", "[::1]", "ａｄｍｉｎ"}
	p := &provider{roles: map[string][]string{}}
	for i, id := range ids {
		p.set(id, fmt.Sprintf("r%d", i))
	}
	c := newCache(p, &clock{})
	for round := range 2 {
		for i, id := range ids {
			got, err := c.Roles(context.Background(), auth.User{ID: id})
			if want := fmt.Sprintf("r%d", i); err != nil || len(got) != 1 || got[0] != want {
				t.Fatalf("round %d, id %q: %v, %v; want [%s]", round, id, got, err, want)
			}
		}
	}
	if n := p.calls.Load(); n != int64(len(ids)) {
		t.Fatalf("%d provider calls for %d distinct ids asked twice, want %d", n, len(ids), len(ids))
	}
	c.InvalidateUser("аdmin")
	if _, err := c.Roles(context.Background(), auth.User{ID: "admin"}); err != nil || p.calls.Load() != int64(len(ids)) {
		t.Fatalf("invalidating a look-alike dropped %q's entry", "admin")
	}
}

func TestBounded(t *testing.T) {
	t.Parallel()
	p := &provider{roles: map[string][]string{}}
	c := New(p, Options{TTL: time.Minute, MaxEntries: 3, Now: (&clock{}).now})
	ask := func(id string) {
		if _, err := c.Roles(context.Background(), auth.User{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"a", "b", "c", "a", "d"} { // b is the least recently used when d arrives
		ask(id)
	}
	if n := c.Stats().Entries; n != 3 {
		t.Fatalf("entries = %d, want 3", n)
	}
	before := p.calls.Load()
	ask("a")
	ask("c")
	ask("d")
	if p.calls.Load() != before {
		t.Fatal("a recently used entry was evicted")
	}
	ask("b")
	if p.calls.Load() != before+1 {
		t.Fatal("the least recently used entry was kept")
	}
}

// TestConcurrentMissesShareOneCall checks that concurrent questions about
// one user while nothing is cached make one provider call.
func TestConcurrentMissesShareOneCall(t *testing.T) {
	t.Parallel()
	p := &provider{roles: map[string][]string{"alice": {"admin"}}, gate: make(chan struct{})}
	c := newCache(p, &clock{})
	const n = 32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			got, err := c.Roles(context.Background(), auth.User{ID: "alice"})
			if err == nil && !slices.Equal(got, []string{"admin"}) {
				err = fmt.Errorf("roles %v", got)
			}
			errs <- err
		})
	}
	for p.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the others join the flight
	close(p.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := p.calls.Load(); got != 1 {
		t.Fatalf("%d concurrent misses made %d provider calls, want 1", n, got)
	}
}

// TestInvalidationDuringCall checks that an answer the provider gave while
// the user's roles changed through the host is neither cached nor shared
// with a question asked after the change.
func TestInvalidationDuringCall(t *testing.T) {
	t.Parallel()
	p := &provider{roles: map[string][]string{"alice": {"admin"}}, gate: make(chan struct{})}
	c := newCache(p, &clock{})
	first := make(chan []string)
	go func() {
		got, _ := c.Roles(context.Background(), auth.User{ID: "alice"})
		first <- got
	}()
	for p.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	// The role is revoked through the host while the provider answers.
	p.mu.Lock()
	p.roles["alice"] = []string{"viewer"}
	p.mu.Unlock()
	c.InvalidateUser("alice")
	second := make(chan []string)
	go func() {
		got, _ := c.Roles(context.Background(), auth.User{ID: "alice"})
		second <- got
	}()
	for p.calls.Load() < 2 { // the second question started its own call
		time.Sleep(time.Millisecond)
	}
	close(p.gate)
	<-first
	if got := <-second; !slices.Equal(got, []string{"viewer"}) {
		t.Fatalf("question after the change = %v, want [viewer]", got)
	}
	if got, _ := c.Roles(context.Background(), auth.User{ID: "alice"}); !slices.Equal(got, []string{"viewer"}) {
		t.Fatalf("cached after the change = %v, want [viewer]", got)
	}
}

// TestConcurrentUse runs lookups, invalidations and flushes together
// (meant for -race): every answer is one the provider gave for that user,
// and the cache stays within its bound.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	p := &provider{roles: map[string][]string{}}
	for i := range 20 {
		p.set(fmt.Sprint("u", i), fmt.Sprint("role", i))
	}
	c := New(p, Options{TTL: time.Minute, MaxEntries: 8})
	var wg sync.WaitGroup
	var bad atomic.Value
	for w := range 8 {
		wg.Go(func() {
			for i := range 500 {
				id := fmt.Sprint("u", (w*7+i)%20)
				switch i % 50 {
				case 17:
					c.InvalidateUser(id)
				case 49:
					c.Flush()
				}
				got, err := c.Permissions(context.Background(), auth.User{ID: id})
				if err != nil || len(got) != 1 || got[0] != "role"+id[1:]+":*" {
					bad.Store(fmt.Sprintf("%s: %v, %v", id, got, err))
				}
			}
		})
	}
	wg.Wait()
	if b := bad.Load(); b != nil {
		t.Fatal(b)
	}
	if n := c.Stats().Entries; n > 8 {
		t.Fatalf("entries = %d, bound 8", n)
	}
}

func TestRoleDefinitions(t *testing.T) {
	t.Parallel()
	c := New(&provider{roles: map[string][]string{}}, Options{TTL: time.Second})
	if _, err := c.RoleDefinitions(context.Background()); auth.CodeOf(err) != auth.CodeNotSupported {
		t.Fatalf("provider without definitions: err = %v, want not_supported", err)
	}
}

// TestByID checks a cache keyed by the user id alone: other snapshots of
// the user share its answer, other ids do not.
func TestByID(t *testing.T) {
	t.Parallel()
	p := &provider{roles: map[string][]string{"alice": {"admin"}, "bob": {"viewer"}}}
	c := New(p, Options{TTL: time.Minute, ByID: true, Now: (&clock{}).now})
	for _, u := range []auth.User{
		{ID: "alice", Roles: []string{"member"}},
		{ID: "alice", Roles: []string{"owner"}, Email: "a@example.com"},
		{ID: "alice", Metadata: map[string]any{"k": func() {}}}, // does not encode: irrelevant by id
	} {
		if got, err := c.Roles(context.Background(), u); err != nil || !slices.Equal(got, []string{"admin"}) {
			t.Fatalf("Roles(%+v) = %v, %v", u.Roles, got, err)
		}
	}
	if n := p.calls.Load(); n != 1 {
		t.Fatalf("3 snapshots of one user made %d calls, want 1", n)
	}
	if got, _ := c.Roles(context.Background(), auth.User{ID: "bob"}); !slices.Equal(got, []string{"viewer"}) || p.calls.Load() != 2 {
		t.Fatalf("bob = %v after %d calls", got, p.calls.Load())
	}
}

// TestWaiterKeepsItsOwnContext checks that a question joining another's
// provider call stops waiting when its own context ends (unavailable,
// wrapping the context's error), while the call goes on for the first.
func TestWaiterKeepsItsOwnContext(t *testing.T) {
	t.Parallel()
	p := &provider{roles: map[string][]string{"alice": {"admin"}}, gate: make(chan struct{})}
	c := newCache(p, &clock{})
	first := make(chan error)
	go func() {
		_, err := c.Roles(context.Background(), auth.User{ID: "alice"})
		first <- err
	}()
	for p.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Roles(ctx, auth.User{ID: "alice"}); !errors.Is(err, context.Canceled) || auth.CodeOf(err) != auth.CodeUnavailable {
		t.Fatalf("cancelled waiter: err = %v, want unavailable wrapping context.Canceled", err)
	}
	close(p.gate)
	if err := <-first; err != nil {
		t.Fatalf("first question: %v", err)
	}
	if got, err := c.Roles(context.Background(), auth.User{ID: "alice"}); err != nil || !slices.Equal(got, []string{"admin"}) || p.calls.Load() != 1 {
		t.Fatalf("after: %v, %v, %d calls", got, err, p.calls.Load())
	}
}

// TestPrime checks answers given at sign-in: kept for the TTL as if
// asked for the same user value (another snapshot of the user asks),
// never kept when an invalidation overtook them, and dropped by a role
// change.
func TestPrime(t *testing.T) {
	t.Parallel()
	u := auth.User{ID: "u1", Email: "a@example.com", Roles: []string{"admin"}, Metadata: map[string]any{"email_verified": true}}
	for _, tc := range []struct {
		name    string
		between func(c *Cache)
		ask     auth.User
		after   time.Duration
		primed  bool
	}{
		{name: "same user", ask: u, primed: true},
		{name: "just before the TTL", ask: u, after: 30*time.Second - time.Nanosecond, primed: true},
		{name: "at the TTL", ask: u, after: 30 * time.Second},
		{name: "another snapshot of the user", ask: auth.User{ID: "u1", Email: "a@example.com", Roles: []string{"viewer"}}},
		{name: "look-alike id", ask: auth.User{ID: "u１", Email: "a@example.com", Roles: []string{"admin"}, Metadata: map[string]any{"email_verified": true}}},
		{name: "role change meanwhile", between: func(c *Cache) { c.InvalidateUser("u1") }, ask: u},
		{name: "another user's change meanwhile", between: func(c *Cache) { c.InvalidateUser("u2") }, ask: u},
		{name: "flushed meanwhile", between: func(c *Cache) { c.Flush() }, ask: u},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := &provider{roles: map[string][]string{}}
			clk := &clock{}
			c := newCache(p, clk)
			gen := c.Generation()
			if tc.between != nil {
				tc.between(c)
			}
			c.Prime(u, []string{"admin"}, []string{"admin:*"}, gen)
			clk.advance(tc.after)
			roles, err1 := c.Roles(context.Background(), tc.ask)
			perms, err2 := c.Permissions(context.Background(), tc.ask)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			if calls := p.calls.Load(); (calls == 0) != tc.primed {
				t.Fatalf("%d provider calls, primed = %v", calls, tc.primed)
			}
			if tc.primed && (!slices.Equal(roles, []string{"admin"}) || !slices.Equal(perms, []string{"admin:*"})) {
				t.Fatalf("primed answers %v %v", roles, perms)
			}
		})
	}
	// A role change after the sign-in drops the primed answers.
	p := &provider{roles: map[string][]string{"u1": {"viewer"}}}
	c := newCache(p, &clock{})
	c.Prime(u, []string{"admin"}, []string{"admin:*"}, c.Generation())
	c.InvalidateUser("u1")
	if roles, err := c.Roles(context.Background(), u); err != nil || !slices.Equal(roles, []string{"viewer"}) || p.calls.Load() != 1 {
		t.Fatalf("roles after a role change = %v, %v (%d calls)", roles, err, p.calls.Load())
	}
}

// TestPrimeConcurrent primes, asks and invalidates from many goroutines
// (run with -race): answers primed before a user's invalidation are never
// served after it.
func TestPrimeConcurrent(t *testing.T) {
	t.Parallel()
	p := &provider{roles: map[string][]string{}}
	c := New(p, Options{TTL: time.Minute, MaxEntries: 8})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				u := auth.User{ID: fmt.Sprintf("g%d-u%d", g, i%5), Roles: []string{"from-session"}} // this goroutine's users
				c.Prime(u, []string{"primed"}, []string{"primed:*"}, c.Generation())
				if i%3 == 0 {
					c.InvalidateUser(u.ID)
					if roles, err := c.Roles(context.Background(), u); err != nil || !slices.Equal(roles, []string{"from-session"}) {
						t.Errorf("roles of %s after its invalidation = %v, %v; want the provider's", u.ID, roles, err)
						return
					}
					continue
				}
				if roles, err := c.Roles(context.Background(), u); err != nil || len(roles) != 1 {
					t.Errorf("roles of %s = %v, %v", u.ID, roles, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if s := c.Stats(); s.Entries > 8 || s.Hits == 0 {
		t.Errorf("stats %+v (bound 8)", s)
	}
}
