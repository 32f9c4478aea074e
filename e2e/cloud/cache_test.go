package cloud

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authhost/authhost/internal/testenv/oidc"
)

// TestSessionCache checks that the plugin vouches for its sessions, so the
// host serves a repeated /me from memory (session and roles: no plugin
// call at all), and that a logout through authhost still ends the session
// at once, also for another client replaying the same cookie.
func TestSessionCache(t *testing.T) {
	t.Parallel()
	f := start(t, options{})
	p := f.env.App.Plugins.Plugin("cloud")
	c := f.env.Client()
	f.signIn(t, c, oidc.TestUser, oidc.TestPassword)
	if m := mustMe(t, c, oidc.UserID); len(m.Permissions) == 0 {
		t.Fatalf("first /me = %+v, want permissions", m)
	}
	before := p.Stats().Calls
	for range 5 {
		mustMe(t, c, oidc.UserID)
	}
	if n := p.Stats().Calls - before; n != 0 {
		t.Fatalf("5 repeated /me made %d plugin calls, want 0 (session and roles cached)", n)
	}

	replay := f.env.Client()
	replay.SetCookie("authhost_cloud", c.Cookie("authhost_cloud"))
	mustMe(t, replay, oidc.UserID)
	if r := c.Do(t, "POST", "/api/auth/logout", nil); r.Status != http.StatusOK {
		t.Fatalf("logout = %d %s", r.Status, r.Body)
	}
	if status, _ := getMe(t, replay); status != http.StatusUnauthorized {
		t.Fatalf("/me with the cookie of a logged-out session = %d, want 401 at once", status)
	}
}

// callsDuring returns how many plugin calls fn made.
func callsDuring(f *fixture, fn func()) int64 {
	p := f.env.App.Plugins.Plugin("cloud")
	before := p.Stats().Calls
	fn()
	return p.Stats().Calls - before
}

// TestLoginPluginCalls counts the plugin calls of a whole sign-in through
// the real server: sso_login_url and sso_callback, and nothing on the two
// anonymous requests (the plugin declares its cookie the only way it
// knows a request, so no user_current); the first /me after it is
// answered from the session the callback primed the session cache with
// (no session_validate), the roles from the RBAC answer cache when the
// user's roles were asked before (else rbac_roles and rbac_permissions).
func TestLoginPluginCalls(t *testing.T) {
	t.Parallel()
	f := start(t, options{})
	for i, wantMe := range []int64{2, 0, 0} {
		c := f.env.Client()
		if n := callsDuring(f, func() { f.signIn(t, c, oidc.TestUser, oidc.TestPassword) }); n != 2 {
			t.Fatalf("sign-in %d made %d plugin calls, want 2 (sso_login_url, sso_callback)", i, n)
		}
		if n := callsDuring(f, func() { mustMe(t, c, oidc.UserID) }); n != wantMe {
			t.Fatalf("first /me after sign-in %d made %d plugin calls, want %d", i, n, wantMe)
		}
	}
	// An anonymous request, or one with a forged or look-alike cookie,
	// costs no user_current either.
	for _, v := range []string{"", strings.Repeat("A", 43), "null", "аААААААААААААААААААААААААААААААААААААААААА", "x\x01y"} {
		c := f.env.Client()
		if v != "" {
			c.SetCookie("authhost_cloud", v)
		}
		n := callsDuring(f, func() {
			if status, _ := getMe(t, c); status != http.StatusUnauthorized {
				t.Fatalf("/me with cookie %q = %d, want 401", v, status)
			}
		})
		if want := int64(0); v != "" && n > 1 || v == "" && n != want {
			t.Fatalf("/me with cookie %q made %d plugin calls, want at most session_validate", v, n)
		}
	}
}

// TestPrimedSessionSecurity checks the session the callback primed the
// cache with: a forged cookie is not it, a copied cookie stops working at
// once when its session logs out (before the cache would have expired),
// and a cookie of a session the plugin does not vouch for is validated by
// the plugin.
func TestPrimedSessionSecurity(t *testing.T) {
	t.Parallel()
	f := start(t, options{})
	c := f.env.Client()
	f.signIn(t, c, oidc.TestUser, oidc.TestPassword)
	cookie := c.Cookie("authhost_cloud")
	forged := []byte(cookie)
	forged[0] ^= 1
	for _, v := range []string{string(forged), cookie[:42], cookie + "A", strings.ToUpper(cookie)} {
		if v == cookie {
			continue
		}
		x := f.env.Client()
		x.SetCookie("authhost_cloud", v)
		if status, _ := getMe(t, x); status != http.StatusUnauthorized {
			t.Fatalf("/me with a forged cookie %q = %d, want 401", v, status)
		}
	}
	replay := f.env.Client()
	replay.SetCookie("authhost_cloud", cookie)
	if n := callsDuring(f, func() { mustMe(t, replay, oidc.UserID) }); n > 2 { // rbac only
		t.Fatalf("/me with the copied cookie made %d plugin calls, want the primed session", n)
	}
	if r := c.Do(t, "POST", "/api/auth/logout", nil); r.Status != http.StatusOK {
		t.Fatalf("logout = %d %s", r.Status, r.Body)
	}
	if status, _ := getMe(t, replay); status != http.StatusUnauthorized {
		t.Fatalf("/me with the copied cookie of a logged-out session = %d, want 401 at once", status)
	}
}

// TestNoPrimeWithoutVouching checks that a session is primed only as
// long as a validation would be cached: with the operator's session
// cache off, or an access token so short-lived that the plugin vouches
// for nothing (it must rotate the tokens on the next request), the first
// /me after sign-in asks the plugin (session_validate; the roles come
// from the RBAC cache filled by an earlier sign-in).
func TestNoPrimeWithoutVouching(t *testing.T) {
	t.Parallel()
	shortLived := oidc.New(t)
	shortLived.SetAccessTokenLifetime(20 * time.Second) // within the plugin's 30 s rotation leeway
	for _, tc := range []struct {
		name string
		o    options
	}{
		{"operator turned the cache off", options{cloudSettings: []string{"session_cache_seconds: 0"}}},
		{"the plugin does not vouch", options{op: shortLived}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := start(t, tc.o)
			for i := range 2 {
				c := f.env.Client()
				f.signIn(t, c, oidc.TestUser, oidc.TestPassword)
				n := callsDuring(f, func() { mustMe(t, c, oidc.UserID) })
				if i == 1 && n != 1 {
					t.Fatalf("first /me after the second sign-in made %d plugin calls, want 1 (session_validate)", n)
				}
			}
		})
	}
}
