package workos

import (
	"net/http"
	"testing"
)

// TestSessionCache checks that the plugin vouches for its sessions, so the
// host serves a repeated /me from memory (session and roles: no plugin
// call at all), and that a logout through authhost still ends the session
// at once, also for another client replaying the same cookie.
func TestSessionCache(t *testing.T) {
	t.Parallel()
	env := start(t, options{})
	p := env.App.Plugins.Plugin("workos")
	u := newUser("cache", orgID, "admin")
	c := signedIn(t, env, u.Email)
	if status, m := getMe(t, c); status != http.StatusOK || m.ID != u.ID || len(m.Roles) != 1 || m.Roles[0] != "admin" {
		t.Fatalf("first /me = %d %+v", status, m)
	}
	before := p.Stats().Calls
	for range 5 {
		if status, m := getMe(t, c); status != http.StatusOK || m.ID != u.ID || len(m.Permissions) == 0 {
			t.Fatalf("cached /me = %d %+v", status, m)
		}
	}
	if n := p.Stats().Calls - before; n != 0 {
		t.Fatalf("5 repeated /me made %d plugin calls, want 0 (session and roles cached)", n)
	}

	replay := env.Client()
	replay.SetCookie("wos_session", c.Cookie("wos_session"))
	if status, _ := getMe(t, replay); status != http.StatusOK {
		t.Fatalf("/me with the copied cookie = %d", status)
	}
	if r := c.Do(t, "POST", "/api/auth/logout", nil); r.Status != http.StatusOK {
		t.Fatalf("logout = %d %s", r.Status, r.Body)
	}
	if status, _ := getMe(t, replay); status != http.StatusUnauthorized {
		t.Fatalf("/me with the cookie of a logged-out session = %d, want 401 at once", status)
	}
}
