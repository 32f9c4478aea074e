package invalidation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/auth/sessioncache"
	pgtest "github.com/authhost/authhost/internal/testenv/postgres"
	"github.com/authhost/authhost/store"
	"github.com/authhost/authhost/store/memory"
	pgstore "github.com/authhost/authhost/store/postgres"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var quiet = slog.New(slog.DiscardHandler)

// idp is an identity service every process asks: its sessions are
// "<user>/<n>" until destroyed. It counts validations per session.
type idp struct {
	mu        sync.Mutex
	destroyed map[string]bool
	asked     map[string]int
}

func newIDP() *idp { return &idp{destroyed: map[string]bool{}, asked: map[string]int{}} }

func (p *idp) ValidateSession(_ context.Context, id string) (*auth.Session, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked[id]++
	if p.destroyed[id] {
		return nil, nil
	}
	user, _, _ := strings.Cut(id, "/")
	return &auth.Session{ID: id, UserID: user, ExpiresAt: time.Now().Add(time.Hour), CacheSeconds: 300}, nil
}

func (p *idp) DestroySession(_ context.Context, id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.destroyed[id] = true
	return nil
}

func (p *idp) RefreshSession(ctx context.Context, id string) (*auth.Session, error) {
	return p.ValidateSession(ctx, id)
}

func (p *idp) times(id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.asked[id]
}

func (p *idp) CreateSession(context.Context, string, map[string]any) (*auth.Session, error) {
	return nil, nil
}
func (p *idp) SessionIDFromRequest(context.Context, *http.Request) (string, error) { return "", nil }
func (p *idp) SessionCookies(context.Context, *auth.Session) ([]string, error)     { return nil, nil }
func (p *idp) ClearCookies(context.Context) ([]string, error)                      { return nil, nil }

// recorder is a Sink that records what it was told (a permission cache).
type recorder struct {
	mu      sync.Mutex
	users   []string
	flushes int
}

func (r *recorder) InvalidateUser(u string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.users = append(r.users, u)
}

func (r *recorder) Flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushes++
}

func (r *recorder) state() ([]string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.users...), r.flushes
}

// replica is one process: a session cache over the shared identity
// service, a permission cache, and its bus.
type replica struct {
	cache *sessioncache.Cache
	perms *recorder
	bus   *Bus
	sp    auth.SessionProvider // the cache as the server sees it
}

func newReplica(t *testing.T, st store.Store, p *idp) *replica {
	t.Helper()
	r := &replica{cache: sessioncache.New(p, sessioncache.Options{Cap: time.Hour}), perms: &recorder{}}
	bus, err := New(t.Context(), st, func() []Sink { return []Sink{r.cache, r.perms} }, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bus.Close)
	r.bus, r.sp = bus, bus.WrapSession(r.cache)
	return r
}

// cached reports whether id is answered from the cache (validating it).
func (r *replica) cached(t *testing.T, p *idp, id string) bool {
	t.Helper()
	before := p.times(id)
	if _, err := r.sp.ValidateSession(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	return p.times(id) == before
}

// eventually polls cond for up to two seconds.
func eventually(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < 2*time.Second {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%s: not within 2s", what)
	return 0
}

// TestBusLocal: on a store that is not shared (memory, badger) the bus
// reaches this process's sinks only, and leaves session providers as
// they are.
func TestBusLocal(t *testing.T) {
	t.Parallel()
	p := newIDP()
	r := newReplica(t, memory.New(memory.Options{}), p)
	if r.bus.Shared() || r.sp != auth.SessionProvider(r.cache) {
		t.Fatal("a bus on an unshared store must not wrap")
	}
	for _, id := range []string{"u1/1", "u1/2", "u2/1"} {
		r.cached(t, p, id)
	}
	r.bus.InvalidateSession(t.Context(), "u1/1")
	if r.cached(t, p, "u1/1") || !r.cached(t, p, "u1/2") {
		t.Fatal("InvalidateSession must drop that session only")
	}
	r.bus.InvalidateUser("u1")
	if r.cached(t, p, "u1/2") || !r.cached(t, p, "u2/1") {
		t.Fatal("InvalidateUser must drop that user's sessions only")
	}
	if users, _ := r.perms.state(); len(users) != 1 || users[0] != "u1" {
		t.Fatalf("permission cache told %v, want [u1]", users)
	}
	r.bus.Flush(t.Context())
	if _, flushes := r.perms.state(); flushes != 1 || r.cached(t, p, "u2/1") {
		t.Fatal("Flush must empty every sink")
	}
}

// pair opens two stores on one Postgres database: two replicas.
func pair(t *testing.T) (store.Store, store.Store) {
	t.Helper()
	dsn := pgtest.NewDatabase(t)
	open := func() store.Store {
		s, err := pgstore.Open(t.Context(), dsn, pgstore.Options{Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	return open(), open()
}

// TestBusAcrossReplicas: what one replica ends (a logout, a refresh that
// ended the session, sign-out-everywhere, a role change, a flush) the
// other's caches drop, and nothing else.
func TestBusAcrossReplicas(t *testing.T) {
	t.Parallel()
	sa, sb := pair(t)
	p := newIDP()
	a, b := newReplica(t, sa, p), newReplica(t, sb, p)
	for _, id := range []string{"u1/1", "u1/2", "u2/1", "u3/1"} {
		a.cached(t, p, id)
		if !a.cached(t, p, id) {
			t.Fatalf("%s not cached on A", id)
		}
	}
	// Logout on B.
	if err := b.sp.DestroySession(t.Context(), "u1/1"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "logout on B dropped on A", func() bool { _, _, n := a.cache.Stats(); return n == 3 })
	if s, _ := a.sp.ValidateSession(t.Context(), "u1/1"); s != nil {
		t.Fatal("A still accepts the session B logged out")
	}
	if !a.cached(t, p, "u1/2") {
		t.Fatal("another session of the user was dropped by a logout")
	}
	// Sign out everywhere on B (EndUserSessions invalidates the user).
	if _, err := auth.EndUserSessions(t.Context(), b.sp, "u2"); err != auth.ErrCannotListSessions {
		t.Fatalf("EndUserSessions = %v", err)
	}
	eventually(t, "sign-out-everywhere on B reached A", func() bool {
		users, _ := a.perms.state()
		return len(users) == 1 && users[0] == "u2"
	})
	if a.cached(t, p, "u2/1") || !a.cached(t, p, "u1/2") {
		t.Fatal("user invalidation from B: wrong entries dropped on A")
	}
	// A role change on B (the RBAC manager invalidates through the bus).
	rbac := auth.InvalidatingRBAC(noRoles{}, b.bus)
	if err := rbac.SetUserRoles(t.Context(), "u3", []string{"admin"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "role change on B reached A", func() bool { users, _ := a.perms.state(); return len(users) == 2 })
	if a.cached(t, p, "u3/1") {
		t.Fatal("role change on B left u3's session cached on A")
	}
	// A flush on A reaches B, and A does not apply its own message twice.
	a.bus.Flush(t.Context())
	eventually(t, "flush on A reached B", func() bool { _, f := b.perms.state(); return f == 1 })
	b.bus.InvalidateUser("marker") // sent after A's flush: A sees it after its own
	eventually(t, "marker reached A", func() bool { users, _ := a.perms.state(); return len(users) == 3 })
	if _, f := a.perms.state(); f != 1 {
		t.Fatalf("A flushed %d times for its one flush, want 1 (its own message must be skipped)", f)
	}
}

type noRoles struct{ auth.RBACManager }

func (noRoles) SetUserRoles(context.Context, string, []string) error { return nil }

// TestBusWire: sessions travel as hashes, never ids; every encoding of a
// user id arrives as it was sent; a user id too long for a message
// becomes a flush; an unreadable message flushes.
func TestBusWire(t *testing.T) {
	t.Parallel()
	sa, sb := pair(t)
	var mu sync.Mutex
	var seen []string
	cancel, err := sb.(store.Notifier).Subscribe(t.Context(), Channel, func(m store.Message) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, m.Payload)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	p := newIDP()
	a, b := newReplica(t, sa, p), newReplica(t, sb, p)

	const secret = "u1/very-secret-session-token"
	a.bus.InvalidateSession(t.Context(), secret)
	eventually(t, "session message", func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) == 1 })
	h := sha256.Sum256([]byte(secret))
	if mu.Lock(); strings.Contains(seen[0], "secret") || !strings.Contains(seen[0], hex.EncodeToString(h[:])) {
		t.Errorf("session message %q: want the id's SHA-256 and never the id", seen[0])
	}
	mu.Unlock()

	a.bus.InvalidateUser("") // names no user: sends nothing
	users := []string{"null", "a\x00b", "line\nbreak", "\u202eadmin", "аdmin" /* Cyrillic a */, "admin", "127.0.0.1", "::1", `{"all":true}`}
	for _, u := range users {
		a.bus.InvalidateUser(u)
	}
	eventually(t, "every user id on B", func() bool { got, _ := b.perms.state(); return len(got) == len(users) })
	if got, flushes := b.perms.state(); strings.Join(got, "|") != strings.Join(users, "|") || flushes != 0 {
		t.Fatalf("user ids on B = %q (flushes %d), want %q", got, flushes, users)
	}

	a.bus.InvalidateUser(strings.Repeat("x", store.MaxPayload))
	eventually(t, "an oversized user id flushes B", func() bool { _, f := b.perms.state(); return f == 1 })

	for i, payload := range []string{"not json", `{"o":"someone"}`, `{"o":"someone","s":"zz"}`, "null"} {
		if err := sa.(store.Notifier).Publish(t.Context(), Channel, payload); err != nil {
			t.Fatal(err)
		}
		eventually(t, "unreadable message "+payload+" flushes", func() bool { _, f := b.perms.state(); return f == i+2 })
	}
}

// TestBusResync: when a replica's listening connection drops it may have
// missed invalidations, so it flushes every cache.
func TestBusResync(t *testing.T) {
	t.Parallel()
	sa, _ := pair(t)
	p := newIDP()
	a := newReplica(t, sa, p)
	a.cached(t, p, "u1/1")
	pool := sa.(*pgstore.Store).Pool()
	if _, err := pool.Exec(t.Context(), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN authhost' AND datname = current_database()"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "resync flushed A", func() bool { _, f := a.perms.state(); return f >= 1 })
	if a.cached(t, p, "u1/1") {
		t.Fatal("a resync left a session cached")
	}
}

// BenchmarkBusLatency measures an invalidation's trip from one replica's
// bus to another's sink through PostgreSQL (ns/op), against a query round
// trip on the same database (the baseline sub-benchmark).
func BenchmarkBusLatency(b *testing.B) {
	dsn := pgtest.NewDatabase(b)
	open := func() store.Store {
		s, err := pgstore.Open(b.Context(), dsn, pgstore.Options{Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.Close() })
		return s
	}
	sa, sb := open(), open()
	got := make(chan string, 1)
	a, err := New(b.Context(), sa, func() []Sink { return nil }, quiet)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	rb, err := New(b.Context(), sb, func() []Sink { return []Sink{chanSink(got)} }, quiet)
	if err != nil {
		b.Fatal(err)
	}
	defer rb.Close()
	b.Run("select-1", func(b *testing.B) {
		for b.Loop() {
			if _, err := sa.(*pgstore.Store).Pool().Exec(b.Context(), "SELECT 1"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("invalidate-user", func(b *testing.B) {
		for b.Loop() {
			a.InvalidateUser("u")
			<-got
		}
	})
}

// chanSink reports each user it is told about on a channel.
type chanSink chan string

func (c chanSink) InvalidateUser(u string) { c <- u }
func (chanSink) Flush()                    {}
