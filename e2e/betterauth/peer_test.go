package betterauth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/authhost/authhost/internal/testenv/authhostenv"
	"github.com/authhost/authhost/internal/testenv/betterauth"
)

// wantNoLeak fails t when an error body shows internals: a stack, the
// plugin, the peer's address or the transport error.
func wantNoLeak(t *testing.T, what string, body []byte) {
	t.Helper()
	for _, leak := range []string{"goroutine", "panic", "betterauth", "127.0.0.1", "dial", "connection refused", "deadline", ".go:"} {
		if strings.Contains(strings.ToLower(string(body)), leak) {
			t.Errorf("%s body leaks %q: %s", what, leak, body)
		}
	}
}

// TestPeerDown stops Better Auth under a running authhost: sign-in and
// /me answer a clean 503 (no 500, nothing internal in the body), the
// failure is audited, and everything works again once Better Auth is back.
func TestPeerDown(t *testing.T) {
	t.Parallel()
	peer := betterauth.StartDedicated(t, betterauth.Options{})
	// Without the host's session cache: a cached session keeps answering
	// /me through an outage for up to session_cache_seconds.
	env := startAuthhostWith(t, peer, []string{"session_cache_seconds: 0"})
	email := uniqueEmail(t)
	c := env.Client()
	signUp(t, c, email, "Outage")
	if status, _, r := me(t, c); status != http.StatusOK {
		t.Fatalf("me before the outage = %d %s", status, r.Body)
	}

	leaving := env.Client()
	if r := signIn(t, leaving, email, password); r.Status != http.StatusOK {
		t.Fatalf("second sign-in = %d %s", r.Status, r.Body)
	}

	if err := peer.Stop(); err != nil {
		t.Fatal(err)
	}
	// Logging out cannot end the session at Better Auth: the browser is
	// signed out anyway, and the answer says the session survives.
	r := leaving.Do(t, "POST", "/api/auth/logout", nil)
	wantError(t, "logout while Better Auth is down", r, http.StatusServiceUnavailable, "unavailable")
	if leaving.Cookie(sessionCookie) != "" {
		t.Fatal("logout during the outage left the session cookie in the browser")
	}
	r = signIn(t, env.Client(), email, password)
	wantError(t, "sign-in while Better Auth is down", r, http.StatusServiceUnavailable, "unavailable")
	wantNoLeak(t, "sign-in", r.Body)

	_, _, r = me(t, c)
	wantError(t, "me while Better Auth is down", r, http.StatusServiceUnavailable, "unavailable")
	wantNoLeak(t, "me", r.Body)

	r = c.Do(t, "POST", "/api/auth/credentials/sign-up", map[string]string{"email": "new-" + email, "password": password})
	wantError(t, "sign-up while Better Auth is down", r, http.StatusServiceUnavailable, "unavailable")
	wantNoLeak(t, "sign-up", r.Body)
	// The login options still load (the page that shows the error).
	if r := c.Do(t, "GET", "/api/auth/capabilities", nil); r.Status != http.StatusOK {
		t.Fatalf("capabilities while Better Auth is down = %d %s", r.Status, r.Body)
	}

	if err := peer.Restart(); err != nil {
		t.Fatal(err)
	}
	// The session from before the outage is still good; sign-in works.
	if status, _, r := me(t, c); status != http.StatusOK {
		t.Fatalf("me after restart = %d %s", status, r.Body)
	}
	c2 := env.Client()
	if r := signIn(t, c2, email, password); r.Status != http.StatusOK {
		t.Fatalf("sign-in after restart = %d %s", r.Status, r.Body)
	}

	// The audit log has the provider error and the failed sign-in.
	var list struct {
		Events []struct {
			Action   string         `json:"action"`
			Outcome  string         `json:"outcome"`
			Actor    map[string]any `json:"actor"`
			Resource map[string]any `json:"resource"`
			Metadata map[string]any `json:"metadata"`
		} `json:"events"`
	}
	ar := c2.Do(t, "GET", "/api/audit?actorId=unknown&outcome=failure&limit=50", nil)
	if ar.Status != http.StatusOK {
		t.Fatalf("audit = %d %s", ar.Status, ar.Body)
	}
	ar.Decode(t, &list)
	var providerError, signInFailure bool
	for _, e := range list.Events {
		if e.Actor["email"] != email || e.Metadata["code"] != "unavailable" {
			continue
		}
		switch e.Action {
		case "provider.error":
			providerError = e.Resource["id"] == "credentials"
		case "auth.sign-in":
			signInFailure = true
		}
	}
	if !providerError || !signInFailure {
		t.Fatalf("audit lacks the outage (provider.error %v, auth.sign-in failure %v): %s", providerError, signInFailure, ar.Body)
	}
	// Requests during the outage could not resolve their session: recorded
	// (throttled, not once per request).
	ar = c2.Do(t, "GET", "/api/audit?action=provider.error&resourceType=capability&resourceId=session", nil)
	if ar.Status != http.StatusOK || strings.Count(string(ar.Body), `"during":"resolving the current user"`) != 1 {
		t.Fatalf("audit should hold the failed session lookup once: %d %s", ar.Status, ar.Body)
	}
	// The actor is anonymous: the session could not be resolved either.
	ar = c2.Do(t, "GET", "/api/audit?action=auth.logout&outcome=failure", nil)
	if ar.Status != http.StatusOK || !strings.Contains(string(ar.Body), `"action":"auth.logout"`) {
		t.Fatalf("audit lacks the failed logout: %d %s", ar.Status, ar.Body)
	}
}

// TestPeerHung makes Better Auth hang (it accepts connections but does
// not answer): sign-in and /me answer 503 instead of hanging, and once Better
// Auth answers again so does authhost. With http_timeout_ms below the call
// deadline the plugin sees the timeout as a transport error and returns
// unavailable itself, so no instance is discarded; with the defaults
// (http 10 s, call 5 s) the call deadline kills the instance instead (see
// the report on host limits), which must still be a clean 503.
func TestPeerHung(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		entry        []string
		keepInstance bool
	}{
		{"default limits", nil, false},
		{"http timeout below the call deadline", []string{"limits: {timeout_ms: 5000, http_timeout_ms: 1500}"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			peer := betterauth.StartDedicated(t, betterauth.Options{})
			env := startAuthhostWith(t, peer, tt.entry)
			email := uniqueEmail(t)
			c := env.Client()
			signUp(t, c, email, "Hung")

			if err := peer.Pause(t.Context()); err != nil {
				t.Fatal(err)
			}
			resumed := false
			t.Cleanup(func() {
				if !resumed {
					_ = peer.Resume(context.Background())
				}
			})
			r := signIn(t, env.Client(), email, password)
			wantError(t, "sign-in while Better Auth hangs", r, http.StatusServiceUnavailable, "unavailable")
			wantNoLeak(t, "sign-in", r.Body)
			_, _, r = me(t, c)
			wantError(t, "me while Better Auth hangs", r, http.StatusServiceUnavailable, "unavailable")
			wantNoLeak(t, "me", r.Body)
			if st := env.App.Plugins.Plugin("betterauth").Stats(); tt.keepInstance && (st.Discards != 0 || !st.Healthy) {
				t.Errorf("plugin stats after timeouts = %+v, want no instance discarded", st)
			}

			if err := peer.Resume(t.Context()); err != nil {
				t.Fatal(err)
			}
			resumed = true
			if status, _, r := me(t, c); status != http.StatusOK {
				t.Fatalf("me after Better Auth recovered = %d %s", status, r.Body)
			}
			if r := signIn(t, env.Client(), email, password); r.Status != http.StatusOK {
				t.Fatalf("sign-in after Better Auth recovered = %d %s", r.Status, r.Body)
			}
		})
	}
}

// TestDirectSession: a session made on Better Auth itself (the app's own
// sign-in page, say) is recognised by authhost, as a cookie and as a
// bearer token, and authhost's logout ends it on Better Auth too.
func TestDirectSession(t *testing.T) {
	t.Parallel()
	peer := betterauth.Start(t)
	env := startAuthhost(t, peer)
	email := uniqueEmail(t)
	if st, _, body := peerCall(t, peer, "POST", "/sign-up/email", map[string]string{"email": email, "password": password, "name": "Direct"}, nil); st != http.StatusOK {
		t.Fatalf("peer sign-up = %d %s", st, body)
	}
	st, hdr, body := peerCall(t, peer, "POST", "/sign-in/email", map[string]string{"email": email, "password": password}, nil)
	if st != http.StatusOK {
		t.Fatalf("peer sign-in = %d %s", st, body)
	}
	var cookie string
	for _, ck := range (&http.Response{Header: hdr}).Cookies() {
		if ck.Name == sessionCookie {
			cookie = ck.Value
		}
	}
	bearer := hdr.Get("Set-Auth-Token")
	if cookie == "" || bearer == "" {
		t.Fatalf("peer sign-in gave cookie %q, set-auth-token %q", cookie, bearer)
	}

	c := env.Client()
	c.SetCookie(sessionCookie, cookie)
	status, u, r := me(t, c)
	if status != http.StatusOK || u.Email != email || u.Name != "Direct" {
		t.Fatalf("me with Better Auth's cookie = %d %s", status, r.Body)
	}

	b := env.Client()
	b.Header.Set("Authorization", "Bearer "+bearer)
	if status, u2, r := me(t, b); status != http.StatusOK || u2.ID != u.ID {
		t.Fatalf("me with Better Auth's bearer token = %d %s", status, r.Body)
	}
	// The raw token (before the signature) works as a bearer token too,
	// as it does on Better Auth's bearer plugin.
	raw, _, _ := strings.Cut(bearer, ".")
	rb := env.Client()
	rb.Header.Set("Authorization", "Bearer "+raw)
	if status, u3, r := me(t, rb); status != http.StatusOK || u3.ID != u.ID {
		t.Fatalf("me with the raw session token = %d %s", status, r.Body)
	}

	// Logout through authhost signs the session out on Better Auth.
	if r := c.Do(t, "POST", "/api/auth/logout", nil); r.Status != http.StatusOK {
		t.Fatalf("logout = %d %s", r.Status, r.Body)
	}
	if st, _, body := peerCall(t, peer, "GET", "/get-session", nil, http.Header{"Authorization": {"Bearer " + bearer}}); st != http.StatusOK || string(body) != "null" {
		t.Fatalf("peer get-session after authhost logout = %d %s, want null", st, body)
	}
	if status, _, r := me(t, b); status != http.StatusUnauthorized {
		t.Fatalf("me with the bearer token after logout = %d %s, want 401", status, r.Body)
	}
}

// TestBearerToken: the token authhost's sign-in returns authenticates API
// calls in the Authorization header, without cookies; a bearer logout ends
// the session.
func TestBearerToken(t *testing.T) {
	t.Parallel()
	peer := betterauth.Start(t)
	env := startAuthhost(t, peer)
	email := uniqueEmail(t)
	signUp(t, env.Client(), email, "Bearer")
	r := signIn(t, env.Client(), email, password)
	if r.Status != http.StatusOK {
		t.Fatalf("sign-in = %d %s", r.Status, r.Body)
	}
	var in authBody
	r.Decode(t, &in)
	if in.Token == "" {
		t.Fatalf("sign-in returned no token: %s", r.Body)
	}

	c := env.Client()
	c.Header.Set("Authorization", "Bearer "+in.Token)
	if status, u, r := me(t, c); status != http.StatusOK || u.Email != email {
		t.Fatalf("me with bearer = %d %s", status, r.Body)
	}
	if r := c.Do(t, "POST", "/api/auth/logout", nil); r.Status != http.StatusOK {
		t.Fatalf("logout with bearer = %d %s", r.Status, r.Body)
	}
	if status, _, r := me(t, c); status != http.StatusUnauthorized {
		t.Fatalf("me with bearer after logout = %d %s, want 401", status, r.Body)
	}
	bad := env.Client()
	bad.Header.Set("Authorization", "Bearer not-a-session")
	if status, _, r := me(t, bad); status != http.StatusUnauthorized {
		t.Fatalf("me with a bogus bearer = %d %s, want 401", status, r.Body)
	}
}

// TestJWT: with the plugin's jwt option on, a Better Auth JWT (from its
// /token endpoint) is a bearer credential for authhost's API, verified
// against the JWKS; forged or foreign tokens are not. With the option off
// the same JWT is refused.
func TestJWT(t *testing.T) {
	t.Parallel()
	peer := betterauth.Start(t)
	email := uniqueEmail(t)
	st, hdr, body := peerCall(t, peer, "POST", "/sign-up/email", map[string]string{"email": email, "password": password, "name": "Jay"}, nil)
	if st != http.StatusOK {
		t.Fatalf("peer sign-up = %d %s", st, body)
	}
	st, _, body = peerCall(t, peer, "GET", "/token", nil, http.Header{"Authorization": {"Bearer " + hdr.Get("Set-Auth-Token")}})
	var tok struct {
		Token string `json:"token"`
	}
	if st != http.StatusOK || json.Unmarshal(body, &tok) != nil || strings.Count(tok.Token, ".") != 2 {
		t.Fatalf("peer /token = %d %s", st, body)
	}
	parts := strings.Split(tok.Token, ".")
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(claims), `"Jay"`, `"Mallory"`, 1))) + "." + parts[2]
	expired, err := peer.SignJWT(t.Context(), map[string]any{"sub": "u1", "email": email, "exp": 1000})
	if err != nil {
		t.Fatal(err)
	}

	on := startAuthhost(t, peer, "jwt: {enabled: true}")
	off := startAuthhost(t, peer)
	tests := []struct {
		name   string
		env    *authhostenv.Env
		token  string
		status int
	}{
		{"jwt on, valid", on, tok.Token, http.StatusOK},
		{"jwt on, forged claims", on, forged, http.StatusUnauthorized},
		{"jwt on, expired", on, expired, http.StatusUnauthorized},
		{"jwt off, valid", off, tok.Token, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.env.Client()
			c.Header.Set("Authorization", "Bearer "+tt.token)
			status, u, r := me(t, c)
			if status != tt.status {
				t.Fatalf("me = %d %s, want %d", status, r.Body, tt.status)
			}
			if status == http.StatusOK && (u.Email != email || u.Name != "Jay") {
				t.Fatalf("me = %+v", u)
			}
		})
	}
}
