package authhostenv

import (
	"net/http"
	"testing"
)

const staticUsers = `
capabilities:
  user: static-users
  credentials: static-users
  session: builtin
  rbac: builtin
  audit: [builtin]
plugins:
  static-users:
    config:
      allow_sign_up: true
      default_role: viewer
      min_password_length: 8
`

// TestSignUpMeLogout checks the harness serves the real app: a sign-up
// through the API sets a session cookie the next request is known by, and
// the CSRF guard sees the Origin header the client sends.
func TestSignUpMeLogout(t *testing.T) {
	env := Start(t, Options{Plugins: []string{"examples/static-users"}, Config: staticUsers})
	c := env.Client()
	if r := c.Do(t, "POST", "/api/auth/credentials/sign-up", map[string]string{"email": "new@example.com", "password": "long-enough-1", "name": "New"}); r.Status != http.StatusCreated {
		t.Fatalf("sign-up = %d %s", r.Status, r.Body)
	}
	var me struct {
		Email string   `json:"email"`
		Roles []string `json:"roles"`
	}
	r := c.Do(t, "GET", "/api/auth/me", nil)
	r.Decode(t, &me)
	if r.Status != http.StatusOK || me.Email != "new@example.com" || len(me.Roles) != 1 || me.Roles[0] != "viewer" {
		t.Fatalf("me = %d %+v", r.Status, me)
	}
	c.Origin = "https://evil.example"
	if r := c.Do(t, "POST", "/api/auth/logout", nil); r.Status != http.StatusForbidden {
		t.Fatalf("cross-site logout = %d, want 403", r.Status)
	}
	c.Origin = env.URL
	if r := c.Do(t, "POST", "/api/auth/logout", nil); r.Status != http.StatusOK {
		t.Fatalf("logout = %d %s", r.Status, r.Body)
	}
	if r := c.Do(t, "GET", "/api/auth/me", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("me after logout = %d, want 401", r.Status)
	}
}
