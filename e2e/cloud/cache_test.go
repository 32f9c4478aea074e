package cloud

import (
	"net/http"
	"testing"

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
