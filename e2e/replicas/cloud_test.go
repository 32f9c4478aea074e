package replicas

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authhost/authhost/internal/testenv/authhostenv"
	"github.com/authhost/authhost/internal/testenv/oidc"
	pgtest "github.com/authhost/authhost/internal/testenv/postgres"
)

// cloudConfig is two replicas on one Postgres signing users in with the
// cloud (OIDC) plugin, which serves sessions and RBAC too: a sign-in on
// one replica primes that replica's session and role caches (the
// callback reports the session and its RBAC answers), for up to five
// minutes, so only the cross-replica invalidation can make a logout on
// the other replica take effect there.
const cloudConfig = `
store:
  driver: postgres
  dsn: "${AUTHHOST_STORE_DSN}"
capabilities:
  user: cloud
  session: cloud
  sso: cloud
  rbac: cloud
  audit: [builtin]
plugins:
  cloud:
    allowed_hosts: ["${OP_HOST}"]
    allow_private_networks: true   # the OP listens on 127.0.0.1
    session_cache_seconds: 300
    config:
      issuer: "${ISSUER}"
      client_id: "${CLIENT_ID}"
      client_secret: "${CLIENT_SECRET}"
      scopes: [openid, profile, email, offline_access]
      role_claim: roles
      role_mapping:
        admin: ["*"]
`

// cloudCookie is the cloud plugin's session cookie.
const cloudCookie = "authhost_cloud"

// TestReplicasPrimedSession: a session primed at its sign-in on A (no
// plugin call for its first /me there) ends on A at once when it logs out
// on B.
func TestReplicasPrimedSession(t *testing.T) {
	t.Parallel()
	op := oidc.New(t)
	op.SetUserClaims(oidc.UserID, map[string]any{"roles": []any{"admin"}})
	env := map[string]string{"AUTHHOST_STORE_DSN": pgtest.NewDatabase(t), "OP_HOST": op.Host(),
		"ISSUER": op.Issuer, "CLIENT_ID": op.ClientID, "CLIENT_SECRET": op.ClientSecret}
	opts := authhostenv.Options{Plugins: []string{"plugins/cloud"}, Config: cloudConfig, Env: env}
	a, b := authhostenv.Start(t, opts), authhostenv.Start(t, opts)
	op.RegisterRedirect(a.URL + "/api/auth/sso/callback")

	// Sign in on A, as a browser without JavaScript.
	c := a.Client()
	r := c.Do(t, "GET", "/api/auth/sso/login?redirect_uri=%2Fdashboard", nil)
	var login struct {
		URL string `json:"url"`
	}
	r.Decode(t, &login)
	cb, err := op.Login(c.HTTP, login.URL, oidc.TestUser, oidc.TestPassword)
	if err != nil {
		t.Fatalf("login at the provider: %v", err)
	}
	if r := c.Do(t, "GET", cb.String(), nil); r.Status != http.StatusFound || !strings.HasSuffix(r.Location(), "/dashboard") {
		t.Fatalf("callback = %d %s", r.Status, r.Location())
	}
	cookie := c.Cookie(cloudCookie)
	if cookie == "" {
		t.Fatal("no session cookie")
	}
	onA := a.Client()
	onA.SetCookie(cloudCookie, cookie)
	p := a.App.Plugins.Plugin("cloud")
	calls := p.Stats().Calls
	if status, m := getMe(t, onA); status != http.StatusOK || m.ID != oidc.UserID {
		t.Fatalf("/me on A = %d %+v", status, m)
	}
	if n := p.Stats().Calls - calls; n != 0 {
		t.Fatalf("the first /me on A made %d plugin calls; want the primed session and roles", n)
	}

	// Log out on B (the load balancer sent the browser there).
	onB := b.Client()
	onB.SetCookie(cloudCookie, cookie)
	if r := onB.Do(t, "POST", "/api/auth/logout", nil); r.Status != http.StatusOK {
		t.Fatalf("logout on B = %d %s", r.Status, r.Body)
	}
	since := time.Now()
	for {
		status, _ := getMe(t, onA)
		if status == http.StatusUnauthorized {
			t.Logf("A refused the session %v after its logout on B", time.Since(since))
			return
		}
		if status != http.StatusOK {
			t.Fatalf("/me on A = %d, want 200 or 401", status)
		}
		if time.Since(since) > refuseBound {
			t.Fatalf("A still accepted the primed session %v after its logout on B", refuseBound)
		}
	}
}
