// Package replicas runs two authhost servers on one PostgreSQL database,
// as two replicas behind a load balancer: whatever one of them writes
// (sessions, role assignments, audit events, plugin KV) the other sees at
// once.
package replicas

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"

	"golang.org/x/crypto/argon2"

	"github.com/authhost/authhost/internal/testenv/authhostenv"
	pgtest "github.com/authhost/authhost/internal/testenv/postgres"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	adminEmail    = "admin@example.com"
	adminPassword = "authhost-demo"
	cookieName    = "authhost_session"
)

// config is the quick start's setup (static-users for credentials, the
// built-in sessions, roles and audit store) on the shared Postgres store,
// with a low lockout so it can be reached across the replicas.
const config = `
throttle:
  sign_in_per_account_ip: 4
store:
  driver: postgres
  dsn: "${AUTHHOST_STORE_DSN}"
capabilities:
  user: static-users
  credentials: static-users
  session: builtin
  rbac: builtin
  sso: none
  audit: [builtin]
plugins:
  static-users:
    allowed_hosts: []
    limits: { timeout_ms: 30000 }
    config:
      allow_sign_up: true
      default_role: viewer
      min_password_length: 8
      users:
        - email: admin@example.com
          name: Ada Admin
          password_hash: "${ADMIN_HASH}"
          roles: [owner]
`

// adminHash is a deliberately cheap argon2id hash of adminPassword, so
// sign-ins take milliseconds in the sandbox.
var adminHash = func() string {
	salt := []byte("e2e-replicas-salt")
	key := argon2.IDKey([]byte(adminPassword), salt, 1, 64, 1, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=64,t=1,p=1$%s$%s", argon2.Version, b64.EncodeToString(salt), b64.EncodeToString(key))
}()

// startPair starts two servers on one fresh database.
func startPair(t *testing.T) (a, b *authhostenv.Env) {
	t.Helper()
	env := map[string]string{"AUTHHOST_STORE_DSN": pgtest.NewDatabase(t), "ADMIN_HASH": adminHash}
	opts := authhostenv.Options{Plugins: []string{"examples/static-users"}, Config: config, Env: env}
	return authhostenv.Start(t, opts), authhostenv.Start(t, opts)
}

type me struct {
	ID    string   `json:"id"`
	Email string   `json:"email"`
	Roles []string `json:"roles"`
}

func getMe(t *testing.T, c *authhostenv.Client) (int, me) {
	t.Helper()
	var m me
	r := c.Do(t, "GET", "/api/auth/me", nil)
	if r.Status == http.StatusOK {
		r.Decode(t, &m)
	}
	return r.Status, m
}

func signIn(t *testing.T, c *authhostenv.Client, email, password string) {
	t.Helper()
	if r := c.Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": email, "password": password}); r.Status != http.StatusOK {
		t.Fatalf("sign-in as %s = %d %s", email, r.Status, r.Body)
	}
}

// onB returns a client of b holding the session cookie a's client got, as
// a load balancer sending the browser's next request to the other replica.
func onB(a *authhostenv.Client, b *authhostenv.Env) *authhostenv.Client {
	c := b.Client()
	c.SetCookie(cookieName, a.Cookie(cookieName))
	return c
}

func TestReplicas(t *testing.T) {
	t.Parallel()
	a, b := startPair(t)

	// Sign in on A, /me on B.
	adminA := a.Client()
	signIn(t, adminA, adminEmail, adminPassword)
	adminB := onB(adminA, b)
	status, admin := getMe(t, adminB)
	if status != http.StatusOK || admin.Email != adminEmail || !slices.Contains(admin.Roles, "owner") {
		t.Fatalf("/me on B with A's session = %d %+v", status, admin)
	}

	// A plugin's KV write on A (sign-up stores the account in the
	// static-users plugin's KV), read on B (sign-in checks it).
	const email, password = "replica-user@example.com", "long-enough-1"
	userA := a.Client()
	if r := userA.Do(t, "POST", "/api/auth/credentials/sign-up", map[string]string{"email": email, "password": password, "name": "Rep"}); r.Status != http.StatusCreated {
		t.Fatalf("sign-up on A = %d %s", r.Status, r.Body)
	}
	userB := b.Client()
	signIn(t, userB, email, password)
	status, user := getMe(t, userB)
	if status != http.StatusOK || user.Email != email || !slices.Equal(user.Roles, []string{"viewer"}) {
		t.Fatalf("/me on B of the account signed up on A = %d %+v", status, user)
	}

	// A role change on A applies on B.
	if r := adminA.Do(t, "PUT", "/api/admin/users/"+url.PathEscape(user.ID)+"/roles", map[string][]string{"roles": {"admin"}}); r.Status != http.StatusOK {
		t.Fatalf("role change on A = %d %s", r.Status, r.Body)
	}
	if _, user = getMe(t, userB); !slices.Equal(user.Roles, []string{"admin"}) {
		t.Fatalf("roles on B after the change on A = %v, want [admin]", user.Roles)
	}

	// Audit from both replicas in one query: the sign-in on A and the one
	// on B, queried on either.
	for _, env := range []*authhostenv.Env{a, b} {
		c := env.Client()
		c.SetCookie(cookieName, adminA.Cookie(cookieName))
		var res struct {
			Events []struct {
				Actor struct {
					Email string `json:"email"`
				} `json:"actor"`
			} `json:"events"`
			Total int `json:"total"`
		}
		r := c.Do(t, "GET", "/api/audit?action=auth.sign-in&outcome=success", nil)
		r.Decode(t, &res)
		var emails []string
		for _, e := range res.Events {
			emails = append(emails, e.Actor.Email)
		}
		slices.Sort(emails)
		if r.Status != http.StatusOK || !slices.Equal(emails, []string{adminEmail, email}) {
			t.Fatalf("sign-ins in the audit log queried on %s = %d %v, want the one on A and the one on B", env.URL, r.Status, emails)
		}
	}

	// Lockout counted across both: wrong guesses alternating between A
	// and B lock the account (for this address) on both after 4 in all,
	// where each replica alone saw only 2.
	for i := range 4 {
		env := []*authhostenv.Env{a, b}[i%2]
		if r := env.Client().Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": email, "password": "wrong-guess-" + fmt.Sprint(i)}); r.Status != http.StatusUnauthorized {
			t.Fatalf("guess %d on %s = %d %s, want 401", i, env.URL, r.Status, r.Body)
		}
	}
	for _, env := range []*authhostenv.Env{a, b} {
		r := env.Client().Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": email, "password": password})
		if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
			t.Fatalf("right password on %s after 4 guesses across A and B = %d %v, want 429 with Retry-After", env.URL, r.Status, r.Header)
		}
	}

	// Concurrent guesses at another account, half on each replica: no
	// more than the limit reach the provider, together.
	const guesses = 24
	statuses := make(chan int, guesses)
	var wg sync.WaitGroup
	for i := range guesses {
		env := []*authhostenv.Env{a, b}[i%2]
		wg.Go(func() {
			statuses <- env.Client().Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": "raced@example.com", "password": "wrong-" + fmt.Sprint(i)}).Status
		})
	}
	wg.Wait()
	close(statuses)
	counts := map[int]int{}
	for s := range statuses {
		counts[s]++
	}
	if counts[http.StatusUnauthorized] != 4 || counts[http.StatusTooManyRequests] != guesses-4 {
		t.Fatalf("%d concurrent guesses across A and B: %v, want 4 checked (401) and the rest refused (429)", guesses, counts)
	}

	// Logout on B: A refuses the session at once.
	if r := adminB.Do(t, "POST", "/api/auth/logout", nil); r.Status != http.StatusOK {
		t.Fatalf("logout on B = %d %s", r.Status, r.Body)
	}
	if status, _ := getMe(t, adminA); status != http.StatusUnauthorized {
		t.Fatalf("/me on A after logout on B = %d, want 401", status)
	}
}
