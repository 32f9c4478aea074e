package session_test

import (
	"context"
	"encoding/base64"
	"github.com/authhost/authhost/internal/testenv/stores"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/auth/authtest"
	"github.com/authhost/authhost/auth/builtin/session"
	"github.com/authhost/authhost/store"
	"github.com/authhost/authhost/store/memory"
)

const testSecret = "test-secret-that-is-at-least-32-characters-long"

func newCookie(t *testing.T, opts session.CookieOptions) *session.CookieSessions {
	t.Helper()
	if opts.Secret == nil {
		opts.Secret = []byte(testSecret)
	}
	p, err := session.NewCookie(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMemorySessions(t *testing.T) {
	t.Parallel()
	authtest.TestSessionProvider(t, func(*testing.T) auth.SessionProvider { return session.NewMemory(session.Options{}) })
	authtest.TestSessionExpiry(t, func(_ *testing.T, ttl time.Duration) auth.SessionProvider {
		return session.NewMemory(session.Options{TTL: ttl})
	})
	authtest.TestSessionLister(t, func(*testing.T) authtest.SessionListerProvider { return session.NewMemory(session.Options{}) })
}

func TestStoreSessions(t *testing.T) {
	t.Parallel()
	authtest.TestSessionProvider(t, func(t *testing.T) auth.SessionProvider {
		return session.NewStore(stores.Badger(t), session.Options{})
	})
	authtest.TestSessionExpiry(t, func(t *testing.T, ttl time.Duration) auth.SessionProvider {
		return session.NewStore(stores.Badger(t), session.Options{TTL: ttl})
	})
	authtest.TestSessionLister(t, func(t *testing.T) authtest.SessionListerProvider {
		return session.NewStore(stores.Badger(t), session.Options{})
	})
}

func TestCookieSessions(t *testing.T) {
	t.Parallel()
	authtest.TestSessionProvider(t, func(t *testing.T) auth.SessionProvider {
		return newCookie(t, session.CookieOptions{})
	}, authtest.Stateless())
	authtest.TestSessionExpiry(t, func(t *testing.T, ttl time.Duration) auth.SessionProvider {
		return newCookie(t, session.CookieOptions{TTL: ttl})
	})
}

func TestCookieSessionsWithRevocation(t *testing.T) {
	t.Parallel()
	// With a revocation store the suite's full destroy semantics hold.
	authtest.TestSessionProvider(t, func(t *testing.T) auth.SessionProvider {
		return newCookie(t, session.CookieOptions{Revocations: memory.New(memory.Options{})})
	})
}

// TestServerSideIDs checks the id format: 32 random bytes, base64url.
func TestServerSideIDs(t *testing.T) {
	t.Parallel()
	p := session.NewMemory(session.Options{})
	re := regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
	s, err := p.CreateSession(t.Context(), "u", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !re.MatchString(s.ID) {
		t.Fatalf("session id %q is not 43 base64url characters", s.ID)
	}
	raw, err := base64.RawURLEncoding.DecodeString(s.ID)
	if err != nil || len(raw) != 32 {
		t.Fatalf("session id decodes to %d bytes, %v", len(raw), err)
	}
}

// TestStoreKeepsOnlyHashes checks that no stored key or value contains the
// session id, so a copy of the database yields no usable cookie.
func TestStoreKeepsOnlyHashes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := memory.New(memory.Options{})
	p := session.NewStore(st, session.Options{})
	s, err := p.CreateSession(ctx, "user/1", map[string]any{"a": 1})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	err = st.Scan(ctx, "", store.ScanOptions{}, func(k string, v []byte) error {
		keys = append(keys, k)
		if strings.Contains(k, s.ID) || strings.Contains(string(v), s.ID) {
			t.Errorf("stored %q = %q contains the session id", k, v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || !strings.HasPrefix(keys[0], "session-user/user%2F1/") || !strings.HasPrefix(keys[1], "session/") {
		t.Fatalf("keys = %q", keys)
	}
	// A listed handle destroys but does not authenticate.
	list, err := p.ListSessions(ctx, "user/1")
	if err != nil || len(list) != 1 {
		t.Fatalf("ListSessions = %v, %v", list, err)
	}
	h := list[0].ID
	if !strings.HasPrefix(h, session.HandlePrefix) {
		t.Fatalf("handle %q", h)
	}
	if got, _ := p.ValidateSession(ctx, h); got != nil {
		t.Fatal("a handle validated as a session")
	}
	if got, _ := p.ValidateSession(ctx, strings.TrimPrefix(h, session.HandlePrefix)); got != nil {
		t.Fatal("a bare hash validated as a session")
	}
	if _, err := p.SessionCookies(ctx, &list[0]); err == nil {
		t.Fatal("SessionCookies accepted a handle")
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestSlidingAndAbsolute checks the idle TTL and the absolute maximum age
// with an injected clock, for every provider.
func TestSlidingAndAbsolute(t *testing.T) {
	t.Parallel()
	const ttl, maxAge = time.Hour, 3 * time.Hour
	providers := map[string]func(c *clock) auth.SessionProvider{
		"memory": func(c *clock) auth.SessionProvider {
			return session.NewMemory(session.Options{TTL: ttl, MaxAge: maxAge, Now: c.now})
		},
		"store": func(c *clock) auth.SessionProvider {
			return session.NewStore(memory.New(memory.Options{Now: c.now}), session.Options{TTL: ttl, MaxAge: maxAge, Now: c.now})
		},
		"cookie": func(c *clock) auth.SessionProvider {
			return newCookie(t, session.CookieOptions{TTL: ttl, MaxAge: maxAge, Now: c.now})
		},
	}
	for name, mk := range providers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			c := &clock{t: time.Now()}
			p := mk(c)
			s, err := p.CreateSession(ctx, "u", nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.ExpiresAt.Sub(s.CreatedAt); got != ttl {
				t.Fatalf("initial lifetime %v, want %v", got, ttl)
			}
			id := s.ID
			// Refreshing every 50 minutes keeps the session alive...
			for range 3 {
				c.add(50 * time.Minute)
				r, err := p.RefreshSession(ctx, id)
				if err != nil || r == nil {
					t.Fatalf("refresh at %v: %v, %v", c.now().Sub(s.CreatedAt), r, err)
				}
				id = r.ID
			}
			// ...up to the absolute maximum age (3h), which caps the expiry.
			r, err := p.ValidateSession(ctx, id)
			if err != nil || r == nil {
				t.Fatal("session lost before max age", err)
			}
			if want := s.CreatedAt.Add(maxAge); !r.ExpiresAt.Equal(want) {
				t.Fatalf("expiry %v, want capped at %v", r.ExpiresAt, want)
			}
			c.add(30*time.Minute + time.Second) // 3h00m01s after creation
			if got, err := p.ValidateSession(ctx, id); err != nil || got != nil {
				t.Fatalf("session alive past max age: %+v, %v", got, err)
			}
			if got, err := p.RefreshSession(ctx, id); err != nil || got != nil {
				t.Fatalf("refresh past max age: %+v, %v", got, err)
			}

			// Without refresh, the idle TTL ends the session.
			s2, _ := p.CreateSession(ctx, "u", nil)
			c.add(ttl)
			if got, _ := p.ValidateSession(ctx, s2.ID); got != nil {
				t.Fatal("idle session alive after TTL")
			}
		})
	}
}

func TestCookieRendering(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	tests := []struct {
		name string
		cfg  session.CookieConfig
		want string // Set-Cookie after the value
		clr  string
	}{
		{"default", session.CookieConfig{}, "; Path=/; Max-Age=604800; HttpOnly; SameSite=Lax", "authhost_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"},
		{"secure custom", session.CookieConfig{Name: "sid", Path: "/app", Domain: "example.com", Secure: true},
			"; Path=/app; Domain=example.com; Max-Age=604800; HttpOnly; Secure; SameSite=Lax",
			"sid=; Path=/app; Domain=example.com; Max-Age=0; HttpOnly; Secure; SameSite=Lax"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := session.NewMemory(session.Options{Cookie: tc.cfg, Now: c.now})
			s, _ := p.CreateSession(ctx, "u", nil)
			set, err := p.SessionCookies(ctx, s)
			if err != nil || len(set) != 1 {
				t.Fatal(set, err)
			}
			name := tc.cfg.Name
			if name == "" {
				name = session.DefaultCookieName
			}
			if want := name + "=" + s.ID + tc.want; set[0] != want {
				t.Fatalf("Set-Cookie\n got %q\nwant %q", set[0], want)
			}
			clr, _ := p.ClearCookies(ctx)
			if clr[0] != tc.clr {
				t.Fatalf("clear\n got %q\nwant %q", clr[0], tc.clr)
			}
		})
	}
}

func TestSessionIDFromRequest(t *testing.T) {
	t.Parallel()
	p := session.NewMemory(session.Options{})
	tests := []struct {
		name   string
		cookie string
		authz  string
		want   string
	}{
		{"none", "", "", ""},
		{"cookie", "authhost_session=abc", "", "abc"},
		{"cookie wins over bearer", "authhost_session=abc", "Bearer def", "abc"},
		{"bearer", "", "Bearer def", "def"},
		{"bearer lower case", "", "bearer def", "def"},
		{"basic ignored", "", "Basic dXNlcjpwYXNz", ""},
		{"empty bearer", "", "Bearer ", ""},
		{"other cookie", "authhost_session_x=abc; other=1", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.cookie != "" {
				r.Header.Set("Cookie", tc.cookie)
			}
			if tc.authz != "" {
				r.Header.Set("Authorization", tc.authz)
			}
			got, err := p.SessionIDFromRequest(context.Background(), r)
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestCookieSecret(t *testing.T) {
	t.Parallel()
	for _, secret := range []string{"", "short", strings.Repeat("x", 31)} {
		_, err := session.NewCookie(session.CookieOptions{Secret: []byte(secret)})
		if err == nil || !strings.Contains(err.Error(), "at least 32 bytes (256 bits) for AES-256-GCM") {
			t.Errorf("secret of %d bytes: %v", len(secret), err)
		}
	}
	if _, err := session.NewCookie(session.CookieOptions{Secret: []byte(strings.Repeat("x", 32))}); err != nil {
		t.Fatal(err)
	}
}

func TestCookieTamper(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	p := newCookie(t, session.CookieOptions{})
	s, err := p.CreateSession(ctx, "user-123", map[string]any{"role": "admin", "permissions": []any{"read", "write"}})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(s.ID)
	if err != nil {
		t.Fatalf("token is not base64url: %v", err)
	}
	if len(raw) < 12+16 {
		t.Fatalf("token of %d bytes", len(raw))
	}
	// Flip every byte position in turn: nonce, ciphertext and tag.
	for i := range raw {
		b := append([]byte(nil), raw...)
		b[i] ^= 0x80
		if got, err := p.ValidateSession(ctx, base64.RawURLEncoding.EncodeToString(b)); err != nil || got != nil {
			t.Fatalf("flipping byte %d: %+v, %v", i, got, err)
		}
	}
	// Other secret, other cookie name: rejected.
	other := newCookie(t, session.CookieOptions{Secret: []byte("different-secret-that-is-long-enough-32-chars")})
	if got, _ := other.ValidateSession(ctx, s.ID); got != nil {
		t.Fatal("token accepted under another secret")
	}
	renamed := newCookie(t, session.CookieOptions{Cookie: session.CookieConfig{Name: "other"}})
	if got, _ := renamed.ValidateSession(ctx, s.ID); got != nil {
		t.Fatal("token accepted under another cookie name")
	}
	// Same sessions encrypt differently (random nonce).
	s2, _ := p.CreateSession(ctx, "user-123", nil)
	s3, _ := p.CreateSession(ctx, "user-123", nil)
	if s2.ID == s3.ID {
		t.Fatal("two sessions share a token")
	}
	// Metadata survives the round trip.
	got, _ := p.ValidateSession(ctx, s.ID)
	if got == nil || got.Metadata["role"] != "admin" || len(got.Metadata["permissions"].([]any)) != 2 {
		t.Fatalf("round trip = %+v", got)
	}
	// Oversized metadata is refused rather than producing a cookie browsers drop.
	if _, err := p.CreateSession(ctx, "u", map[string]any{"big": strings.Repeat("x", 5000)}); err == nil {
		t.Fatal("oversized cookie session accepted")
	}
}

// TestCookieRevocation checks that with a revocation store, destroying a
// session also rejects tokens refreshed from it.
func TestCookieRevocation(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	p := newCookie(t, session.CookieOptions{Revocations: memory.New(memory.Options{})})
	s, _ := p.CreateSession(ctx, "u", nil)
	r, _ := p.RefreshSession(ctx, s.ID)
	if r == nil || r.ID == s.ID {
		t.Fatalf("refresh = %+v", r)
	}
	if err := p.DestroySession(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{s.ID, r.ID} {
		if got, _ := p.ValidateSession(ctx, id); got != nil {
			t.Fatal("revoked token still valid")
		}
	}
	// Without a revocation store DestroySession is a documented no-op.
	q := newCookie(t, session.CookieOptions{})
	s, _ = q.CreateSession(ctx, "u", nil)
	if err := q.DestroySession(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := q.ValidateSession(ctx, s.ID); got == nil {
		t.Fatal("stateless session without revocation store was revoked")
	}
}

func TestDestroyUserSessions(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	p := session.NewStore(stores.Badger(t), session.Options{})
	var ids []string
	for range 3 {
		s, _ := p.CreateSession(ctx, "u1", nil)
		ids = append(ids, s.ID)
	}
	keep, _ := p.CreateSession(ctx, "u10", nil)
	n, err := p.DestroyUserSessions(ctx, "u1")
	if err != nil || n != 3 {
		t.Fatalf("DestroyUserSessions = %d, %v", n, err)
	}
	for _, id := range ids {
		if got, _ := p.ValidateSession(ctx, id); got != nil {
			t.Fatal("session survived")
		}
	}
	if got, _ := p.ValidateSession(ctx, keep.ID); got == nil {
		t.Fatal("another user's session was destroyed")
	}
}

// TestStoreSessionsSurviveRestart reopens the badger store.
func TestStoreSessionsSurviveRestart(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	st := stores.OpenBadger(t, dir)
	s, err := session.NewStore(st, session.Options{}).CreateSession(ctx, "u", map[string]any{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = stores.OpenBadger(t, dir)
	defer st.Close()
	got, err := session.NewStore(st, session.Options{}).ValidateSession(ctx, s.ID)
	if err != nil || got == nil || got.UserID != "u" || got.Metadata["k"] != "v" {
		t.Fatalf("after restart: %+v, %v", got, err)
	}
}
