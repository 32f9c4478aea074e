// Package proxy tests authhost behind a reverse proxy, end to end: the
// whole server (internal/testenv/authhostenv) with trusted_proxies set,
// the test client playing the proxy from 127.0.0.1.
package proxy

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/authhost/authhost/internal/testenv/authhostenv"
)

const (
	adminEmail    = "admin@example.com"
	adminPassword = "proxy-pass-1"
	// adminHash is a deliberately cheap argon2id (m=64 KiB, t=1) of
	// adminPassword: unknown emails verify a dummy hash of the same cost,
	// so the hundred failed sign-ins below take milliseconds each.
	adminHash = "$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$Na2T2cV3oId94+rUnkHkZAPRjixmAhhAGgAM+CbKCpA"
	// ipLimit is the server's default per-IP sign-in limit.
	ipLimit = 100
)

func config(proxies string) string {
	return `
capabilities: {user: static-users, credentials: static-users, session: builtin, rbac: builtin, audit: [builtin]}
audit: {collapse_window: 0s}  # these tests count each failure's audit event and its IP
security:
  trusted_proxies: [` + proxies + `]
plugins:
  static-users:
    config:
      users:
        - {email: ` + adminEmail + `, name: Admin, password_hash: "` + adminHash + `", roles: [owner]}
`
}

func signIn(t *testing.T, c *authhostenv.Client, email, password string) int {
	t.Helper()
	return c.Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": email, "password": password}).Status
}

// failFrom makes n failed sign-ins, each for a different unknown account
// (so no per-account lock interferes), and fails t unless each is a 401.
func failFrom(t *testing.T, c *authhostenv.Client, n int, header func(i int) (string, string)) {
	t.Helper()
	for i := range n {
		k, v := header(i)
		c.Header.Set(k, v)
		if st := signIn(t, c, fmt.Sprintf("nobody%d@example.com", i), "wrong-password"); st != http.StatusUnauthorized {
			t.Fatalf("failed sign-in %d = %d, want 401", i, st)
		}
	}
}

// TestPerIPLimitSeesForwardedClient: behind a trusted proxy, each
// forwarded client has its own per-IP sign-in limit and its own address in
// the audit log, although every request comes from the same TCP peer.
func TestPerIPLimitSeesForwardedClient(t *testing.T) {
	env := authhostenv.Start(t, authhostenv.Options{Plugins: []string{"examples/static-users"}, Config: config(`"127.0.0.1", "::1"`)})
	attacker := env.Client()
	failFrom(t, attacker, ipLimit, func(int) (string, string) { return "X-Forwarded-For", "198.51.100.1, 203.0.113.7" })
	if st := signIn(t, attacker, adminEmail, adminPassword); st != http.StatusTooManyRequests {
		t.Fatalf("forwarded client past the per-IP limit = %d, want 429", st)
	}
	// Changing the part of the header the client wrote does not help: the
	// proxy's own hop is the right-most one.
	attacker.Header.Set("X-Forwarded-For", "198.51.100.99, 203.0.113.7")
	if st := signIn(t, attacker, adminEmail, adminPassword); st != http.StatusTooManyRequests {
		t.Fatalf("spoofed left-hand hop = %d, want 429", st)
	}

	// Another client behind the same proxy is not locked out, through
	// either header.
	other := env.Client()
	other.Header.Set("Forwarded", `for="[2001:db8::8]:4711";proto=https`)
	if st := signIn(t, other, adminEmail, adminPassword); st != http.StatusOK {
		t.Fatalf("another forwarded client = %d, want 200", st)
	}
	admin := env.Client()
	admin.Header.Set("X-Forwarded-For", "203.0.113.8")
	if st := signIn(t, admin, adminEmail, adminPassword); st != http.StatusOK {
		t.Fatalf("admin from 203.0.113.8 = %d, want 200", st)
	}

	var list struct {
		Events []struct {
			Outcome string `json:"outcome"`
			Actor   struct {
				IP string `json:"ip"`
			} `json:"actor"`
		} `json:"events"`
	}
	r := admin.Do(t, "GET", "/api/audit?action=auth.sign-in&limit=500", nil)
	r.Decode(t, &list)
	ips := map[string]map[string]int{}
	for _, e := range list.Events {
		if ips[e.Outcome] == nil {
			ips[e.Outcome] = map[string]int{}
		}
		ips[e.Outcome][e.Actor.IP]++
	}
	if ips["failure"]["203.0.113.7"] != ipLimit || len(ips["failure"]) != 1 {
		t.Errorf("failed sign-ins by IP = %v, want %d from 203.0.113.7 only", ips["failure"], ipLimit)
	}
	if ips["success"]["2001:db8::8"] != 1 || ips["success"]["203.0.113.8"] != 1 {
		t.Errorf("successful sign-ins by IP = %v, want one from 2001:db8::8 and one from 203.0.113.8", ips["success"])
	}
}

// TestUntrustedPeerCannotSpoof: when the peer is not a listed proxy,
// forwarding headers are ignored, so rotating them does not escape the
// per-IP limit.
func TestUntrustedPeerCannotSpoof(t *testing.T) {
	env := authhostenv.Start(t, authhostenv.Options{Plugins: []string{"examples/static-users"}, Config: config(`"192.0.2.1"`)})
	c := env.Client()
	failFrom(t, c, ipLimit, func(i int) (string, string) {
		if i%2 == 0 {
			return "X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i)
		}
		return "Forwarded", fmt.Sprintf("for=203.0.113.%d", i)
	})
	c.Header.Set("X-Forwarded-For", "203.0.113.250")
	if st := signIn(t, c, adminEmail, adminPassword); st != http.StatusTooManyRequests {
		t.Fatalf("rotating X-Forwarded-For from an untrusted peer = %d, want 429", st)
	}
}

// TestSecureCookiesBehindTLSProxy plays a proxy that terminates TLS for
// https://auth.example.test and forwards plain HTTP: the session cookie is
// Secure (the public URL is https), HSTS is sent because the trusted proxy
// says the client used HTTPS, and the CSRF check wants the public origin,
// not the address the server listens on.
func TestSecureCookiesBehindTLSProxy(t *testing.T) {
	const public = "https://auth.example.test"
	env := authhostenv.Start(t, authhostenv.Options{Plugins: []string{"examples/static-users"}, Config: config(`"127.0.0.1", "::1"`), PublicURL: public})
	c := env.Client()
	c.Header.Set("X-Forwarded-For", "203.0.113.20")
	c.Header.Set("X-Forwarded-Proto", "https")

	c.Origin = env.URL // the listening address is not the public origin
	if r := c.Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": adminEmail, "password": adminPassword}); r.Status != http.StatusForbidden {
		t.Fatalf("sign-in with the internal origin = %d, want 403", r.Status)
	}
	c.Origin = public
	r := c.Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": adminEmail, "password": adminPassword})
	if r.Status != http.StatusOK {
		t.Fatalf("sign-in = %d %s", r.Status, r.Body)
	}
	var session *http.Cookie
	for _, ck := range (&http.Response{Header: r.Header}).Cookies() {
		if ck.Name == "authhost_session" {
			session = ck
		}
	}
	if session == nil || !session.Secure || !session.HttpOnly {
		t.Errorf("session cookie = %+v, want Secure and HttpOnly", session)
	}
	if r.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS although the trusted proxy says the client used HTTPS")
	}

	// The same claim from a peer that is not a proxy earns no HSTS.
	direct := authhostenv.Start(t, authhostenv.Options{Plugins: []string{"examples/static-users"}, Config: config(`"192.0.2.1"`), PublicURL: public})
	d := direct.Client()
	d.Header.Set("X-Forwarded-Proto", "https")
	if r := d.Do(t, "GET", "/healthz", nil); r.Status != http.StatusOK || r.Header.Get("Strict-Transport-Security") != "" {
		t.Errorf("untrusted X-Forwarded-Proto: %d, HSTS %q; want 200 and none", r.Status, r.Header.Get("Strict-Transport-Security"))
	}
}
