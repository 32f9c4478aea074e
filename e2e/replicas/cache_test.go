package replicas

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/authhost/authhost/internal/testenv/authhostenv"
	"github.com/authhost/authhost/internal/testenv/betterauth"
	pgtest "github.com/authhost/authhost/internal/testenv/postgres"
)

// baConfig is two replicas on one Postgres in front of one Better Auth:
// Better Auth's sessions (which it vouches for, cache_seconds) are cached
// by each replica for up to five minutes, so only the cross-replica
// invalidation can make a logout on one replica take effect on the other.
// Every user maps to owner, so they may change roles.
const baConfig = `
store:
  driver: postgres
  dsn: "${AUTHHOST_STORE_DSN}"
capabilities:
  user: betterauth
  credentials: betterauth
  session: betterauth
  rbac: builtin
  audit: [builtin]
rbac:
  role_mapping:
    _default: [owner]
plugins:
  betterauth:
    allowed_hosts: ["${BA_HOST}"]
    allow_private_networks: true   # the Better Auth peer listens on 127.0.0.1
    session_cache_seconds: 300
    config:
      base_url: "${BA_URL}"
`

// baCookie is Better Auth's session cookie name.
const baCookie = "better-auth.session_token"

// baPassword is every Better Auth test user's password.
const baPassword = "correct-horse-battery"

// refuseBound is how long a replica may take to refuse a session another
// replica ended; the measured latency is logged.
const refuseBound = time.Second

// startBAPair starts two replicas on one fresh database in front of peer.
func startBAPair(t *testing.T, peer *betterauth.Server) (a, b *authhostenv.Env) {
	t.Helper()
	u, err := url.Parse(peer.URL)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"AUTHHOST_STORE_DSN": pgtest.NewDatabase(t), "BA_URL": peer.URL, "BA_HOST": u.Hostname()}
	opts := authhostenv.Options{Plugins: []string{"plugins/betterauth"}, Config: baConfig, Env: env}
	return authhostenv.Start(t, opts), authhostenv.Start(t, opts)
}

// withCookie is a client of env carrying the Better Auth session cookie.
func withCookie(env *authhostenv.Env, cookie string) *authhostenv.Client {
	c := env.Client()
	c.SetCookie(baCookie, cookie)
	return c
}

// cachedOn checks that /me with cookie on env answers from env's session
// cache: the second of two requests costs no plugin call.
func cachedOn(t *testing.T, env *authhostenv.Env, cookie string) me {
	t.Helper()
	c := withCookie(env, cookie)
	if status, _ := getMe(t, c); status != http.StatusOK {
		t.Fatalf("/me on %s = %d", env.URL, status)
	}
	p := env.App.Plugins.Plugin("betterauth")
	calls := p.Stats().Calls
	status, m := getMe(t, c)
	if status != http.StatusOK {
		t.Fatalf("/me on %s = %d", env.URL, status)
	}
	if n := p.Stats().Calls - calls; n != 0 {
		t.Fatalf("/me on %s made %d plugin calls; want the session answered from the cache", env.URL, n)
	}
	return m
}

// refusedAfter polls /me on env with cookie until it is refused, at most
// refuseBound after since, and returns how long the session was still
// accepted (zero when the first request was refused) and by how many
// requests.
func refusedAfter(t *testing.T, env *authhostenv.Env, cookie string, since time.Time) (time.Duration, int) {
	t.Helper()
	c := withCookie(env, cookie)
	accepted := 0
	var lastAccepted time.Time
	for {
		status, _ := getMe(t, c)
		if status == http.StatusUnauthorized {
			if accepted == 0 {
				return 0, 0
			}
			return lastAccepted.Sub(since), accepted
		}
		lastAccepted = time.Now()
		if status != http.StatusOK {
			t.Fatalf("/me on %s = %d, want 200 or 401", env.URL, status)
		}
		accepted++
		if time.Since(since) > refuseBound {
			t.Fatalf("/me on %s still accepted the session %v after it ended on the other replica (%d requests)", env.URL, refuseBound, accepted)
		}
	}
}

// TestReplicasSessionCache: with Better Auth sessions cached on each
// replica, a role change on A applies on B, and a logout on B is refused
// by A at once (the measured latency is logged; see BENCHMARKS.md).
func TestReplicasSessionCache(t *testing.T) {
	t.Parallel()
	peer := betterauth.Start(t)
	a, b := startBAPair(t, peer)
	admin, user := a.Client(), a.Client()
	for _, c := range []struct {
		client *authhostenv.Client
		email  string
	}{{admin, "admin-" + randomName() + "@example.com"}, {user, "user-" + randomName() + "@example.com"}} {
		if r := c.client.Do(t, "POST", "/api/auth/credentials/sign-up", map[string]string{"email": c.email, "password": baPassword, "name": "Rep"}); r.Status != http.StatusCreated {
			t.Fatalf("sign-up on A = %d %s", r.Status, r.Body)
		}
	}
	userCookie := user.Cookie(baCookie)

	// A role change on A applies on B, where the user's session is cached.
	u := cachedOn(t, b, userCookie)
	if !slices.Equal(u.Roles, []string{"owner"}) {
		t.Fatalf("roles on B before the change = %v", u.Roles)
	}
	if r := admin.Do(t, "PUT", "/api/admin/users/"+url.PathEscape(u.ID)+"/roles", map[string][]string{"roles": {"viewer"}}); r.Status != http.StatusOK {
		t.Fatalf("role change on A = %d %s", r.Status, r.Body)
	}
	if _, got := getMe(t, withCookie(b, userCookie)); !slices.Equal(got.Roles, []string{"viewer"}) {
		t.Fatalf("roles on B after the change on A = %v, want [viewer]", got.Roles)
	}

	// Logout on B of a session cached on A: A refuses it on its next
	// request. Repeated to measure the latency, against a /me answered
	// from A's cache as the baseline.
	const rounds = 10
	var lags, baseline []time.Duration
	lagging := 0
	for i := range rounds {
		c := a.Client()
		if r := c.Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": u.Email, "password": baPassword}); r.Status != http.StatusOK {
			t.Fatalf("sign-in %d on A = %d %s", i, r.Status, r.Body)
		}
		cookie := c.Cookie(baCookie)
		cachedOn(t, a, cookie)
		start := time.Now()
		getMe(t, withCookie(a, cookie))
		baseline = append(baseline, time.Since(start))
		if r := withCookie(b, cookie).Do(t, "POST", "/api/auth/logout", nil); r.Status != http.StatusOK {
			t.Fatalf("logout on B = %d %s", r.Status, r.Body)
		}
		lag, accepted := refusedAfter(t, a, cookie, time.Now())
		lags = append(lags, lag)
		if accepted > 0 {
			lagging++
		}
	}
	t.Logf("logout on B, then /me on A: refused at the first request in %d of %d logouts; accepted after the logout for at most %v (median %v); cached /me on A (baseline): median %v",
		rounds-lagging, rounds, slices.Max(lags), median(lags), median(baseline))
}

// median returns the median of ds.
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// randomName is a short random name for test accounts.
func randomName() string { return fmt.Sprint(time.Now().UnixNano()) }
