// Package authtest holds behavioural conformance suites for the auth
// capability interfaces. They use only the interfaces, so the same suites
// run against the built-in providers and against Wasm plugin adapters.
// Each suite takes a constructor returning a fresh, empty provider and runs
// its cases as parallel subtests. Providers backed by an external service
// whose sessions only a sign-in creates (e.g. Better Auth) run the session
// suites with WithSessionFactory; their constructor may return the same
// provider every time, since the factory gives every test accounts of its
// own.
package authtest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authhost/authhost/auth"
)

// SessionOption adjusts what the session suites expect of a provider.
type SessionOption func(*sessionConfig)

type sessionConfig struct {
	stateless       bool
	factory         SessionFactory
	ignoresCallerMD bool
}

// Stateless declares a provider whose sessions live only in the cookie:
// DestroySession cannot revoke them, so the suite does not require a
// destroyed session to be rejected.
func Stateless() SessionOption { return func(c *sessionConfig) { c.stateless = true } }

// SessionFactory makes a session for user, a name local to the test t
// (e.g. "alice"), for providers that cannot create a session for a given
// user id (CreateSession answers not_supported): it signs in through the
// provider's own peer and returns the session as p.ValidateSession reports
// it. Within one t the factory maps each name to one account of its own,
// the same on every call, and the session's UserID is that account's id.
// It is called from several goroutines at once and must not call t.Fatal;
// it reports failures as errors.
type SessionFactory func(t *testing.T, ctx context.Context, p auth.SessionProvider, user string, metadata map[string]any) (*auth.Session, error)

// WithSessionFactory makes the suites create sessions with f instead of
// CreateSession, and compare user ids with the accounts f maps names to.
func WithSessionFactory(f SessionFactory) SessionOption {
	return func(c *sessionConfig) { c.factory = f }
}

// IgnoresCallerMetadata declares a provider whose sessions carry its own
// metadata, not the metadata the caller passed when the session was made
// (a session minted by a sign-in on the provider's side has nowhere to
// keep it), so the suites do not expect it back.
func IgnoresCallerMetadata() SessionOption {
	return func(c *sessionConfig) { c.ignoresCallerMD = true }
}

func newSessionConfig(opts []SessionOption) sessionConfig {
	var cfg sessionConfig
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// sessions is one test's view of a provider: it creates sessions with
// CreateSession or the configured factory and remembers which user id each
// user name stands for.
type sessions struct {
	t   *testing.T
	p   auth.SessionProvider
	cfg sessionConfig

	mu  sync.Mutex
	ids map[string]string // user name -> the provider's user id
}

func newSessions(t *testing.T, p auth.SessionProvider, cfg sessionConfig) *sessions {
	return &sessions{t: t, p: p, cfg: cfg, ids: map[string]string{}}
}

// create makes a session for the user named user.
func (h *sessions) create(ctx context.Context, user string, md map[string]any) (*auth.Session, error) {
	if h.cfg.factory == nil {
		return h.p.CreateSession(ctx, user, md)
	}
	s, err := h.cfg.factory(h.t, ctx, h.p, user, md)
	if err != nil {
		return nil, err
	}
	if s == nil || s.UserID == "" {
		return nil, fmt.Errorf("session factory gave %+v for %q", s, user)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if prev, ok := h.ids[user]; ok && prev != s.UserID {
		return nil, fmt.Errorf("session factory mapped %q to user %q, earlier to %q", user, s.UserID, prev)
	}
	h.ids[user] = s.UserID
	return s, nil
}

// userID is the provider's id of the user named user (the name itself
// without a factory, or for a user never created).
func (h *sessions) userID(user string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if id, ok := h.ids[user]; ok {
		return id
	}
	return user
}

// hasMetadata reports whether s carries md, the metadata it was created
// with (always true for a provider that ignores caller metadata).
func (h *sessions) hasMetadata(s *auth.Session, md map[string]any) bool {
	if h.cfg.ignoresCallerMD {
		return true
	}
	for k, v := range md {
		if s.Metadata[k] != v {
			return false
		}
	}
	return true
}

// cookiePair is one parsed Set-Cookie value.
type cookiePair struct {
	name, value string
	attrs       map[string]string // lower-cased attribute name → value
}

func parseSetCookie(t *testing.T, v string) cookiePair {
	t.Helper()
	parts := strings.Split(v, ";")
	name, value, ok := strings.Cut(strings.TrimSpace(parts[0]), "=")
	if !ok || name == "" {
		t.Fatalf("malformed Set-Cookie %q", v)
	}
	c := cookiePair{name: name, value: value, attrs: map[string]string{}}
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		c.attrs[strings.ToLower(k)] = val
	}
	return c
}

// TestSessionProvider checks an auth.SessionProvider: create, validate,
// refresh, destroy, cookie rendering and reading ids from requests.
func TestSessionProvider(t *testing.T, newProvider func(t *testing.T) auth.SessionProvider, opts ...SessionOption) {
	t.Helper()
	cfg := newSessionConfig(opts)
	run := func(name string, fn func(t *testing.T, ctx context.Context, p auth.SessionProvider, h *sessions)) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := newProvider(t)
			fn(t, t.Context(), p, newSessions(t, p, cfg))
		})
	}

	run("CreateValidate", func(t *testing.T, ctx context.Context, p auth.SessionProvider, h *sessions) {
		before := time.Now().Add(-time.Second)
		md := map[string]any{"role": "admin", "org": "acme"}
		s, err := h.create(ctx, "user-123", md)
		if err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		if s.ID == "" || s.UserID != h.userID("user-123") {
			t.Fatalf("CreateSession = %+v", s)
		}
		if s.CreatedAt.Before(before) || !s.ExpiresAt.After(s.CreatedAt) {
			t.Fatalf("times: created %v expires %v", s.CreatedAt, s.ExpiresAt)
		}
		if !h.hasMetadata(s, md) {
			t.Fatalf("metadata = %v", s.Metadata)
		}
		got, err := p.ValidateSession(ctx, s.ID)
		if err != nil || got == nil {
			t.Fatalf("ValidateSession = %v, %v", got, err)
		}
		if got.ID != s.ID || got.UserID != s.UserID || !h.hasMetadata(got, md) {
			t.Fatalf("ValidateSession = %+v, want %+v", got, s)
		}
		if !got.ExpiresAt.Equal(s.ExpiresAt) || !got.CreatedAt.Equal(s.CreatedAt) {
			t.Fatalf("validated times %v/%v differ from created %v/%v", got.CreatedAt, got.ExpiresAt, s.CreatedAt, s.ExpiresAt)
		}
	})

	run("DistinctIDs", func(t *testing.T, ctx context.Context, p auth.SessionProvider, h *sessions) {
		seen := map[string]bool{}
		for i := range 20 {
			s, err := h.create(ctx, "user-"+strconv.Itoa(i%2), nil)
			if err != nil {
				t.Fatal(err)
			}
			if seen[s.ID] {
				t.Fatalf("duplicate session id %q", s.ID)
			}
			seen[s.ID] = true
		}
	})

	run("Invalid", func(t *testing.T, ctx context.Context, p auth.SessionProvider, h *sessions) {
		s, err := h.create(ctx, "user-1", nil)
		if err != nil {
			t.Fatal(err)
		}
		flipped := []byte(s.ID)
		flipped[len(flipped)/2] ^= 0x01
		if flipped[len(flipped)/2] == '/' || flipped[len(flipped)/2] == ';' {
			flipped[len(flipped)/2] = 'A'
		}
		for _, id := range []string{"", "unknown", "x", strings.Repeat("A", 43), string(flipped), s.ID + "A", s.ID[:len(s.ID)-1], "%E0%A4%A"} {
			if id == s.ID {
				continue
			}
			got, err := p.ValidateSession(ctx, id)
			if err != nil || got != nil {
				t.Errorf("ValidateSession(%q) = %+v, %v; want nil, nil", id, got, err)
			}
			got, err = p.RefreshSession(ctx, id)
			if err != nil || got != nil {
				t.Errorf("RefreshSession(%q) = %+v, %v; want nil, nil", id, got, err)
			}
		}
	})

	run("Destroy", func(t *testing.T, ctx context.Context, p auth.SessionProvider, h *sessions) {
		s, err := h.create(ctx, "user-1", nil)
		if err != nil {
			t.Fatal(err)
		}
		other, err := h.create(ctx, "user-1", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.DestroySession(ctx, s.ID); err != nil {
			t.Fatalf("DestroySession: %v", err)
		}
		if err := p.DestroySession(ctx, s.ID); err != nil {
			t.Fatalf("DestroySession twice: %v", err)
		}
		if err := p.DestroySession(ctx, "unknown"); err != nil {
			t.Fatalf("DestroySession(unknown): %v", err)
		}
		if !cfg.stateless {
			if got, err := p.ValidateSession(ctx, s.ID); err != nil || got != nil {
				t.Fatalf("ValidateSession after destroy = %+v, %v", got, err)
			}
			if got, err := p.RefreshSession(ctx, s.ID); err != nil || got != nil {
				t.Fatalf("RefreshSession after destroy = %+v, %v", got, err)
			}
		}
		if got, err := p.ValidateSession(ctx, other.ID); err != nil || got == nil {
			t.Fatalf("other session after destroy = %+v, %v", got, err)
		}
	})

	run("Refresh", func(t *testing.T, ctx context.Context, p auth.SessionProvider, h *sessions) {
		md := map[string]any{"k": "v"}
		s, err := h.create(ctx, "user-1", md)
		if err != nil {
			t.Fatal(err)
		}
		r, err := p.RefreshSession(ctx, s.ID)
		if err != nil || r == nil {
			t.Fatalf("RefreshSession = %v, %v", r, err)
		}
		if r.UserID != s.UserID || !h.hasMetadata(r, md) || !r.CreatedAt.Equal(s.CreatedAt) {
			t.Fatalf("refreshed = %+v, created %+v", r, s)
		}
		if r.ExpiresAt.Before(s.ExpiresAt) {
			t.Fatalf("refresh moved expiry back: %v < %v", r.ExpiresAt, s.ExpiresAt)
		}
		got, err := p.ValidateSession(ctx, r.ID)
		if err != nil || got == nil || got.UserID != s.UserID {
			t.Fatalf("ValidateSession(refreshed) = %+v, %v", got, err)
		}
		if !got.ExpiresAt.Equal(r.ExpiresAt) {
			t.Fatalf("validated expiry %v, refreshed %v", got.ExpiresAt, r.ExpiresAt)
		}
	})

	run("Cookies", func(t *testing.T, ctx context.Context, p auth.SessionProvider, h *sessions) {
		s, err := h.create(ctx, "user-1", nil)
		if err != nil {
			t.Fatal(err)
		}
		set, err := p.SessionCookies(ctx, s)
		if err != nil || len(set) == 0 {
			t.Fatalf("SessionCookies = %q, %v", set, err)
		}
		// The cookie that carries the session is the one whose value the
		// provider reads back.
		var sess *cookiePair
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		for _, v := range set {
			c := parseSetCookie(t, v)
			req.AddCookie(&http.Cookie{Name: c.name, Value: c.value})
			if c.value != "" && sess == nil {
				sess = &c
			}
		}
		if sess == nil {
			t.Fatalf("no cookie carries a value: %q", set)
		}
		for _, attr := range []string{"httponly", "path", "max-age", "samesite"} {
			if _, ok := sess.attrs[attr]; !ok {
				t.Errorf("session cookie lacks %s: %q", attr, set)
			}
		}
		if !strings.EqualFold(sess.attrs["samesite"], "lax") && !strings.EqualFold(sess.attrs["samesite"], "strict") {
			t.Errorf("SameSite = %q, want Lax or Strict", sess.attrs["samesite"])
		}
		if n, err := strconv.Atoi(sess.attrs["max-age"]); err != nil || n <= 0 {
			t.Errorf("Max-Age = %q, want > 0", sess.attrs["max-age"])
		} else if limit := time.Until(s.ExpiresAt) + time.Minute; time.Duration(n)*time.Second > limit {
			t.Errorf("Max-Age %d outlives the session (expires %v)", n, s.ExpiresAt)
		}
		id, err := p.SessionIDFromRequest(ctx, req)
		if err != nil || id == "" {
			t.Fatalf("SessionIDFromRequest(cookie) = %q, %v", id, err)
		}
		got, err := p.ValidateSession(ctx, id)
		if err != nil || got == nil || got.UserID != s.UserID {
			t.Fatalf("ValidateSession(id from cookie) = %+v, %v", got, err)
		}

		clr, err := p.ClearCookies(ctx)
		if err != nil || len(clr) == 0 {
			t.Fatalf("ClearCookies = %q, %v", clr, err)
		}
		cleared := false
		for _, v := range clr {
			c := parseSetCookie(t, v)
			if c.name == sess.name {
				cleared = true
				if c.value != "" || c.attrs["max-age"] != "0" {
					t.Errorf("clear cookie = %q, want empty value and Max-Age=0", v)
				}
				if c.attrs["path"] != sess.attrs["path"] {
					t.Errorf("clear cookie path %q, session cookie path %q", c.attrs["path"], sess.attrs["path"])
				}
			}
		}
		if !cleared {
			t.Fatalf("ClearCookies %q does not clear %q", clr, sess.name)
		}
	})

	run("SessionIDFromRequest", func(t *testing.T, ctx context.Context, p auth.SessionProvider, h *sessions) {
		s, err := h.create(ctx, "user-1", nil)
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if id, err := p.SessionIDFromRequest(ctx, req); err != nil || id != "" {
			t.Fatalf("no cookie: %q, %v; want empty", id, err)
		}
		req.AddCookie(&http.Cookie{Name: "unrelated", Value: "x"})
		if id, err := p.SessionIDFromRequest(ctx, req); err != nil || id != "" {
			t.Fatalf("unrelated cookie: %q, %v; want empty", id, err)
		}
		req.Header.Set("Authorization", "Bearer "+s.ID)
		id, err := p.SessionIDFromRequest(ctx, req)
		if err != nil || id == "" {
			t.Fatalf("bearer: %q, %v", id, err)
		}
		if got, err := p.ValidateSession(ctx, id); err != nil || got == nil || got.UserID != s.UserID {
			t.Fatalf("ValidateSession(bearer id) = %+v, %v", got, err)
		}
	})

	run("Concurrent", func(t *testing.T, ctx context.Context, p auth.SessionProvider, h *sessions) {
		var wg sync.WaitGroup
		ids := make([]string, 32)
		errs := make([]error, 32)
		for i := range ids {
			wg.Go(func() {
				s, err := h.create(ctx, "user-"+strconv.Itoa(i), nil)
				if err != nil {
					errs[i] = err
					return
				}
				ids[i] = s.ID
				if _, err := p.RefreshSession(ctx, s.ID); err != nil {
					errs[i] = err
				}
			})
		}
		wg.Wait()
		for i, id := range ids {
			if errs[i] != nil {
				t.Fatalf("session %d: %v", i, errs[i])
			}
			if got, err := p.ValidateSession(ctx, id); err != nil || got == nil || got.UserID != h.userID("user-"+strconv.Itoa(i)) {
				t.Fatalf("session %d: %+v, %v", i, got, err)
			}
		}
	})
}

// TestSessionExpiry checks that sessions expire: newProvider returns a
// provider whose sessions live ttl (a provider whose lifetimes are whole
// seconds may round it up to one second). The suite waits for expiry (a
// few seconds at most), never for speed.
func TestSessionExpiry(t *testing.T, newProvider func(t *testing.T, ttl time.Duration) auth.SessionProvider, opts ...SessionOption) {
	t.Helper()
	cfg := newSessionConfig(opts)
	t.Run("Expiry", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		const ttl = 500 * time.Millisecond
		p := newProvider(t, ttl)
		s, err := newSessions(t, p, cfg).create(ctx, "user-1", nil)
		if err != nil {
			t.Fatal(err)
		}
		if !s.ExpiresAt.After(s.CreatedAt) || s.ExpiresAt.Sub(s.CreatedAt) > ttl+time.Second {
			t.Fatalf("session lifetime %v, want about %v", s.ExpiresAt.Sub(s.CreatedAt), ttl)
		}
		deadline := time.Now().Add(ttl + 3*time.Second)
		for {
			got, err := p.ValidateSession(ctx, s.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("session still valid %v after creation (ttl %v)", time.Since(s.CreatedAt), ttl)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if got, err := p.RefreshSession(ctx, s.ID); err != nil || got != nil {
			t.Fatalf("RefreshSession(expired) = %+v, %v; want nil, nil", got, err)
		}
		if got, err := p.ValidateSession(ctx, s.ID); err != nil || got != nil {
			t.Fatalf("ValidateSession(expired) again = %+v, %v", got, err)
		}
	})
}

// SessionListerProvider is a session provider that lists sessions.
type SessionListerProvider interface {
	auth.SessionProvider
	auth.SessionLister
}

// TestSessionLister checks auth.SessionLister: a user's live sessions are
// listed, other users' are not, and the listed ids destroy sessions.
func TestSessionLister(t *testing.T, newProvider func(t *testing.T) SessionListerProvider, opts ...SessionOption) {
	t.Helper()
	cfg := newSessionConfig(opts)
	t.Run("List", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		p := newProvider(t)
		h := newSessions(t, p, cfg)
		users := []string{"alice", "alice/2", "bob", "al"}
		made := map[string][]*auth.Session{}
		for i, u := range users {
			for range i + 1 {
				s, err := h.create(ctx, u, map[string]any{"u": u})
				if err != nil {
					t.Fatal(err)
				}
				made[u] = append(made[u], s)
			}
		}
		for _, u := range users {
			list, err := p.ListSessions(ctx, h.userID(u))
			if err != nil {
				t.Fatalf("ListSessions(%q): %v", u, err)
			}
			if len(list) != len(made[u]) {
				t.Fatalf("ListSessions(%q) has %d sessions, want %d", u, len(list), len(made[u]))
			}
			for _, s := range list {
				if s.UserID != h.userID(u) || !h.hasMetadata(&s, map[string]any{"u": u}) || s.ID == "" || !s.ExpiresAt.After(time.Now()) {
					t.Fatalf("ListSessions(%q) returned %+v", u, s)
				}
			}
		}
		if list, err := p.ListSessions(ctx, h.userID("nobody")); err != nil || len(list) != 0 {
			t.Fatalf("ListSessions(nobody) = %v, %v", list, err)
		}

		// Sign out everywhere, through the listed ids.
		list, _ := p.ListSessions(ctx, h.userID("bob"))
		for _, s := range list {
			if err := p.DestroySession(ctx, s.ID); err != nil {
				t.Fatalf("DestroySession(listed %q): %v", s.ID, err)
			}
		}
		for _, s := range made["bob"] {
			if got, err := p.ValidateSession(ctx, s.ID); err != nil || got != nil {
				t.Fatalf("bob's session survived sign-out everywhere: %+v, %v", got, err)
			}
		}
		if list, _ := p.ListSessions(ctx, h.userID("bob")); len(list) != 0 {
			t.Fatalf("bob still has %d sessions", len(list))
		}
		if list, _ := p.ListSessions(ctx, h.userID("alice/2")); len(list) != 2 {
			t.Fatalf("alice/2 lost sessions: %d", len(list))
		}
		// Destroying one session removes it from the list.
		if err := p.DestroySession(ctx, made["al"][0].ID); err != nil {
			t.Fatal(err)
		}
		if list, _ := p.ListSessions(ctx, h.userID("al")); len(list) != len(made["al"])-1 {
			t.Fatalf("al has %d sessions after destroying one, want %d", len(list), len(made["al"])-1)
		}
		// So does destroying the newest: the older ones stay listed.
		if err := p.DestroySession(ctx, made["al"][len(made["al"])-1].ID); err != nil {
			t.Fatal(err)
		}
		if list, _ := p.ListSessions(ctx, h.userID("al")); len(list) != len(made["al"])-2 {
			t.Fatalf("al has %d sessions after destroying the newest, want %d", len(list), len(made["al"])-2)
		}
	})
}
