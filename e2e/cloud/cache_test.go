package cloud

import (
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authhost/authhost/auth"
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
// answered from the session and the RBAC answers the callback primed the
// caches with (no session_validate, rbac_roles or rbac_permissions), and
// says what a plugin asked would have.
func TestLoginPluginCalls(t *testing.T) {
	t.Parallel()
	f := start(t, options{})
	for i := range 3 {
		c := f.env.Client()
		if n := callsDuring(f, func() { f.signIn(t, c, oidc.TestUser, oidc.TestPassword) }); n != 2 {
			t.Fatalf("sign-in %d made %d plugin calls, want 2 (sso_login_url, sso_callback)", i, n)
		}
		var m me
		if n := callsDuring(f, func() { m = mustMe(t, c, oidc.UserID) }); n != 0 {
			t.Fatalf("first /me after sign-in %d made %d plugin calls, want 0", i, n)
		}
		if want := []string{"*", "agents:read", "workflows:read"}; !slices.Equal(sorted(m.Roles), []string{"admin", "staff"}) || !slices.Equal(sorted(m.Permissions), want) {
			t.Fatalf("first /me after sign-in %d = %+v, want roles admin, staff and permissions %v", i, m, want)
		}
	}
	// The same answers as the plugin gives once the caches are dropped.
	p := f.env.App.Plugins.Plugin("cloud")
	p.Session().(auth.SessionInvalidator).InvalidateUser(oidc.UserID)
	p.RBAC().(auth.SessionInvalidator).InvalidateUser(oidc.UserID)
	c := f.env.Client()
	f.signIn(t, c, oidc.TestUser, oidc.TestPassword)
	primed := mustMe(t, c, oidc.UserID)
	p.Session().(auth.SessionInvalidator).InvalidateUser(oidc.UserID)
	p.RBAC().(auth.SessionInvalidator).InvalidateUser(oidc.UserID)
	var asked me
	if n := callsDuring(f, func() { asked = mustMe(t, c, oidc.UserID) }); n != 3 {
		t.Fatalf("/me after the caches were dropped made %d plugin calls, want 3 (session_validate, rbac_roles, rbac_permissions)", n)
	}
	if !reflect.DeepEqual(primed, asked) {
		t.Fatalf("/me from the primed caches %+v, from the plugin %+v", primed, asked)
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
