package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/authhost/authhost/internal/testenv/authhostenv"
)

// rolesConfig is the quick start's composition (static-users signs users
// in, the host keeps the sessions and the RBAC) with a one-second role
// cache, so a test can wait it out.
const rolesConfig = `
capabilities:
  user: static-users
  credentials: static-users
  session: builtin
  rbac: builtin
  audit: [builtin]
rbac:
  default_role: member   # the host's, for users the provider gives no role
plugins:
  static-users:
    role_cache_seconds: 1
    config:
      allow_sign_up: true
      default_role: viewer
      min_password_length: 8
`

// TestRolesChangedAtTheProviderReachSessions: a host session keeps the
// roles static-users returned at sign-in only as a snapshot; once the
// provider reports other roles for the user (here its stored record is
// changed behind the host), the existing session gets them within
// role_cache_seconds, without a new sign-in.
func TestRolesChangedAtTheProviderReachSessions(t *testing.T) {
	env := authhostenv.Start(t, authhostenv.Options{Plugins: []string{"examples/static-users"}, Config: rolesConfig})
	const email = "roles@example.com"
	c := env.Client()
	if r := c.Do(t, "POST", "/api/auth/credentials/sign-up", map[string]string{"email": email, "password": "password-roles"}); r.Status != http.StatusCreated {
		t.Fatalf("sign-up = %d %s", r.Status, r.Body)
	}
	rolesNow := func() []string {
		t.Helper()
		r := c.Do(t, "GET", "/api/auth/me", nil)
		var me struct {
			Roles []string `json:"roles"`
		}
		if r.Status != http.StatusOK {
			t.Fatalf("/me = %d %s", r.Status, r.Body)
		}
		r.Decode(t, &me)
		return me.Roles
	}
	if got := rolesNow(); !slices.Equal(got, []string{"viewer"}) {
		t.Fatalf("roles after sign-up = %v, want [viewer]", got)
	}

	setStoredRoles(t, env, email, []string{"admin"})
	deadline := time.Now().Add(1100 * time.Millisecond) // role_cache_seconds and a little
	time.Sleep(time.Until(deadline))
	if got := rolesNow(); !slices.Equal(got, []string{"admin"}) {
		t.Fatalf("roles %v after the provider's changed, want [admin]: the sign-in snapshot froze", got)
	}
	setStoredRoles(t, env, email, nil)
	time.Sleep(1100 * time.Millisecond)
	if got := rolesNow(); !slices.Equal(got, []string{"member"}) {
		t.Fatalf("roles %v after the provider's were removed, want the host's default [member]", got)
	}
}

// setStoredRoles rewrites the roles of a signed-up user in static-users'
// KV record, as an administrator of the provider would.
func setStoredRoles(t *testing.T, env *authhostenv.Env, email string, roles []string) {
	t.Helper()
	key := "plugin/static-users/kv/" + emailKey(email)
	b, err := env.App.Store.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	var rec map[string]any
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	rec["roles"] = roles
	if b, err = json.Marshal(rec); err != nil {
		t.Fatal(err)
	}
	if err := env.App.Store.Put(t.Context(), key, b, 0); err != nil {
		t.Fatal(err)
	}
}
