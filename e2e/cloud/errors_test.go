package cloud

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authhost/authhost/internal/testenv/authhostenv"
	"github.com/authhost/authhost/internal/testenv/oidc"
)

var b64 = base64.RawURLEncoding

// TestWrongState checks the callback refuses a state that is not the one
// sealed into this browser's cookie, before the code reaches the plugin:
// the code stays unused and no session starts.
func TestWrongState(t *testing.T) {
	t.Parallel()
	f := start(t, options{})
	for _, tc := range []struct {
		name string
		// callback returns the callback URL the victim/attacker client
		// follows, after a login of a separate browser or its own.
		callback func(t *testing.T, c *authhostenv.Client) string
	}{
		{"another browser's callback", func(t *testing.T, c *authhostenv.Client) string {
			other := f.env.Client()
			return f.authorize(t, other, f.startLogin(t, other, "/"), oidc.TestUser, oidc.TestPassword)
		}},
		{"state altered", func(t *testing.T, c *authhostenv.Client) string {
			cb, _ := url.Parse(f.authorize(t, c, f.startLogin(t, c, "/"), oidc.TestUser, oidc.TestPassword))
			q := cb.Query()
			q.Set("state", q.Get("state")+"x")
			cb.RawQuery = q.Encode()
			return cb.String()
		}},
		{"no state", func(t *testing.T, c *authhostenv.Client) string {
			cb, _ := url.Parse(f.authorize(t, c, f.startLogin(t, c, "/"), oidc.TestUser, oidc.TestPassword))
			q := cb.Query()
			q.Del("state")
			cb.RawQuery = q.Encode()
			return cb.String()
		}},
		{"superseded login", func(t *testing.T, c *authhostenv.Client) string {
			first := f.startLogin(t, c, "/")
			f.startLogin(t, c, "/") // a second login replaces the sealed state
			return f.authorize(t, c, first, oidc.TestUser, oidc.TestPassword)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := f.env.Client()
			cb := tc.callback(t, c)
			if got := callbackError(t, c, cb); got != "invalid_state" {
				t.Fatalf("error = %q, want invalid_state", got)
			}
			wantNoSession(t, c)
		})
	}
}

// TestReplayedCode replays a callback URL whose code was already
// exchanged, with the sealed state cookie the browser had at the time: the
// issuer refuses the code, authhost redirects with an error and starts no
// session. Replaying it in the same browser fails earlier (the state
// cookie is single use).
func TestReplayedCode(t *testing.T) {
	t.Parallel()
	f := start(t, options{})
	c := f.env.Client()
	cb := f.authorize(t, c, f.startLogin(t, c, "/dashboard"), oidc.TestUser, oidc.TestPassword)
	stateCookie := f.stateCookie(c)
	if stateCookie == "" {
		t.Fatal("no state cookie after sso/login")
	}
	if r := c.Do(t, "GET", cb, nil); r.Status != http.StatusFound || strings.Contains(r.Location(), "error=") {
		t.Fatalf("first callback = %d %q", r.Status, r.Location())
	}
	mustMe(t, c, oidc.UserID)

	t.Run("with the captured state cookie", func(t *testing.T) {
		replay := f.env.Client()
		f.setStateCookie(replay, stateCookie)
		if got := callbackError(t, replay, cb); got != "invalid_credentials" {
			t.Fatalf("error = %q, want invalid_credentials (code already used)", got)
		}
		wantNoSession(t, replay)
	})
	t.Run("same browser", func(t *testing.T) {
		before := c.Cookie("authhost_cloud")
		if got := callbackError(t, c, cb); got != "invalid_state" {
			t.Fatalf("error = %q, want invalid_state", got)
		}
		if after := c.Cookie("authhost_cloud"); after != before {
			t.Fatal("the replay changed the session")
		}
	})
	if live := f.op.LiveRefreshTokens(oidc.UserID); len(live) != 1 {
		t.Fatalf("live refresh tokens %d, want only the first sign-in's", len(live))
	}
}

// TestTamperedIDToken alters the token endpoint's answer on its way out of
// the real issuer (signature, claims, algorithm, access token): every
// alteration is refused, the callback redirects with invalid_credentials,
// and no session starts.
func TestTamperedIDToken(t *testing.T) {
	t.Parallel()
	f := start(t, options{})
	part := func(fn func(p []string) []string) func(map[string]any) {
		return func(m map[string]any) {
			parts := strings.Split(m["id_token"].(string), ".")
			m["id_token"] = strings.Join(fn(parts), ".")
		}
	}
	claims := func(edit func(map[string]any)) func(map[string]any) {
		return part(func(p []string) []string {
			raw, _ := b64.DecodeString(p[1])
			var c map[string]any
			_ = json.Unmarshal(raw, &c)
			edit(c)
			raw, _ = json.Marshal(c)
			return []string{p[0], b64.EncodeToString(raw), p[2]}
		})
	}
	for _, tc := range []struct {
		name    string
		rewrite func(map[string]any)
	}{
		{"signature byte flipped", part(func(p []string) []string {
			sig, _ := b64.DecodeString(p[2])
			sig[len(sig)/2] ^= 0x01
			return []string{p[0], p[1], b64.EncodeToString(sig)}
		})},
		{"subject swapped", claims(func(c map[string]any) { c["sub"] = oidc.OtherUserID })},
		{"audience swapped", claims(func(c map[string]any) { c["aud"] = []string{"another-client"} })},
		{"expiry extended", claims(func(c map[string]any) { c["exp"] = time.Now().Add(24 * time.Hour).Unix() })},
		{"alg none", part(func(p []string) []string {
			return []string{b64.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)), p[1], ""}
		})},
		{"alg HS256", part(func(p []string) []string {
			hdr, _ := b64.DecodeString(p[0])
			hdr = bytes.Replace(hdr, []byte(`"RS256"`), []byte(`"HS256"`), 1)
			return []string{b64.EncodeToString(hdr), p[1], p[2]}
		})},
		{"access token swapped", func(m map[string]any) { m["access_token"] = "not-the-issued-token" }},
		{"no id token", func(m map[string]any) { delete(m, "id_token") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			restore := f.op.RewriteTokenResponses(tc.rewrite)
			defer restore()
			c := f.env.Client()
			cb := f.authorize(t, c, f.startLogin(t, c, "/"), oidc.TestUser, oidc.TestPassword)
			if got := callbackError(t, c, cb); got != "invalid_credentials" {
				t.Fatalf("error = %q, want invalid_credentials", got)
			}
			wantNoSession(t, c)
		})
	}
	// Untampered, the same server signs in.
	c := f.env.Client()
	f.signIn(t, c, oidc.TestUser, oidc.TestPassword)
	mustMe(t, c, oidc.UserID)
}

// TestExpiredIDToken has the issuer sign ID tokens that are already
// expired: refused beyond the plugin's clock skew, accepted within it.
func TestExpiredIDToken(t *testing.T) {
	t.Parallel()
	f := start(t, options{})
	for _, tc := range []struct {
		lifetime time.Duration
		wantErr  string // "" signs in
	}{
		{-5 * time.Minute, "invalid_credentials"},
		{-10 * time.Second, ""}, // within clock_skew_seconds (60)
		{time.Hour, ""},
	} {
		t.Run(tc.lifetime.String(), func(t *testing.T) {
			restore := f.op.SetIDTokenLifetime(tc.lifetime)
			defer restore()
			c := f.env.Client()
			if tc.wantErr == "" {
				f.signIn(t, c, oidc.TestUser, oidc.TestPassword)
				mustMe(t, c, oidc.UserID)
				return
			}
			cb := f.authorize(t, c, f.startLogin(t, c, "/"), oidc.TestUser, oidc.TestPassword)
			if got := callbackError(t, c, cb); got != tc.wantErr {
				t.Fatalf("error = %q, want %s", got, tc.wantErr)
			}
			wantNoSession(t, c)
		})
	}
}

// TestKeyRotation rotates the issuer's signing key between sign-ins (to a
// new RS256 key, then to an EdDSA key): the plugin meets an unknown key id
// right after it cached the JWKS, re-fetches it and signs in, with no
// restart and no waiting.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	f := start(t, options{})
	first := f.env.Client()
	f.signIn(t, first, oidc.TestUser, oidc.TestPassword) // JWKS cached
	for _, rotate := range []struct {
		alg string
		fn  func() (string, error)
	}{
		{"RS256", f.op.RotateKey},
		{"EdDSA", f.op.RotateKeyEdDSA},
	} {
		t.Run(rotate.alg, func(t *testing.T) {
			kid, err := rotate.fn()
			if err != nil {
				t.Fatal(err)
			}
			c := f.env.Client()
			f.signIn(t, c, oidc.TestUser, oidc.TestPassword)
			mustMe(t, c, oidc.UserID)
			// The session's ID token (the logout hint) is signed with the new key.
			r := c.Do(t, "POST", "/api/auth/logout", nil)
			var out struct {
				RedirectTo string `json:"redirectTo"`
			}
			r.Decode(t, &out)
			u, _ := url.Parse(out.RedirectTo)
			hdr, _ := b64.DecodeString(strings.Split(u.Query().Get("id_token_hint"), ".")[0])
			var h struct{ Alg, Kid string }
			_ = json.Unmarshal(hdr, &h)
			if h.Kid != kid || h.Alg != rotate.alg {
				t.Fatalf("id token header %+v, want kid %s alg %s", h, kid, rotate.alg)
			}
		})
	}
	mustMe(t, first, oidc.UserID) // sessions from before the rotation live on
}

// TestIssuerDown stops the issuer in the middle of a sign-in: the callback
// redirects with ?error=unavailable, a provider.error audit event records
// it, existing sessions keep working (also when their access token is due
// and cannot be refreshed), logout still ends the session, and a
// server that never reached the issuer answers sso/login with 503
// unavailable. Nothing crashes.
func TestIssuerDown(t *testing.T) {
	t.Parallel()
	f := start(t, options{})
	// Every request finds the access token due: with the issuer down the
	// refresh cannot run, and the session must survive that.
	f.op.SetAccessTokenLifetime(10 * time.Second)
	admin := f.env.Client()
	f.signIn(t, admin, oidc.TestUser, oidc.TestPassword) // alice: admin, "*"
	c := f.env.Client()
	cb := f.authorize(t, c, f.startLogin(t, c, "/dashboard"), oidc.TestUser, oidc.TestPassword)
	f.op.Stop(t)

	if got := callbackError(t, c, cb); got != "unavailable" {
		t.Fatalf("error = %q, want unavailable", got)
	}
	wantNoSession(t, c)
	events := audit(t, admin, "provider.error")
	if len(events) != 1 || events[0].Outcome != "failure" || events[0].Metadata["code"] != "unavailable" ||
		events[0].Resource == nil || events[0].Resource.ID != "sso" {
		t.Fatalf("provider.error events = %+v", events)
	}
	if ev := audit(t, admin, "auth.sso-callback"); len(ev) == 0 || ev[0].Outcome != "failure" || ev[0].Metadata["error"] != "unavailable" {
		t.Fatalf("latest auth.sso-callback event = %+v", ev)
	}

	// The signed-in user is unaffected (a refresh the outage prevents
	// keeps the session), the server is healthy.
	mustMe(t, admin, oidc.UserID)
	if r := admin.Do(t, "GET", "/api/admin/plugins", nil); r.Status != http.StatusOK || !bytes.Contains(r.Body, []byte(`"healthy":true`)) {
		t.Fatalf("admin/plugins = %d %s", r.Status, r.Body)
	}
	// Logout cannot revoke at a dead issuer but still ends the session.
	if r := admin.Do(t, "POST", "/api/auth/logout", nil); r.Status != http.StatusOK {
		t.Fatalf("logout = %d %s", r.Status, r.Body)
	}
	wantNoSession(t, admin)

	// A server without the discovery document cached cannot start a login.
	fresh := start(t, options{op: f.op})
	r := fresh.env.Client().Do(t, "GET", "/api/auth/sso/login", nil)
	var e struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	r.Decode(t, &e)
	if r.Status != http.StatusServiceUnavailable || e.Error != "unavailable" {
		t.Fatalf("sso/login with the issuer down = %d %s", r.Status, r.Body)
	}
	// A browser following the login link goes back to its page with the
	// error instead of a JSON body.
	r = fresh.env.Client().Do(t, "GET", "/api/auth/sso/login?redirect=true&redirect_uri=%2Flogin", nil)
	if r.Status != http.StatusFound || r.Location() != "/login?error=unavailable" {
		t.Fatalf("sso/login?redirect=true with the issuer down = %d to %q, want 302 to /login?error=unavailable", r.Status, r.Location())
	}
}

// TestAllowList runs the plugin with allowed_hosts that omit the issuer or
// one of the endpoints its discovery document names: the host refuses
// every request to an unlisted host, sign-in fails with forbidden, and the
// log names the refused host. With every host listed the same provider
// signs in.
func TestAllowList(t *testing.T) {
	t.Parallel()
	op := oidc.New(t)
	op.SetUserClaims(oidc.UserID, map[string]any{"roles": []any{"admin"}})
	// The JWKS moves to another name of the same provider.
	port := op.Issuer[strings.LastIndex(op.Issuer, ":")+1:]
	op.RewriteDiscovery(func(d map[string]any) { d["jwks_uri"] = "http://localhost:" + port + "/keys" })
	for _, tc := range []struct {
		name, allowed, other string
		refused              string // "" signs in
		atLogin              bool   // refused already at sso/login (discovery)
	}{
		{name: "issuer not listed", allowed: "login.example.com", other: "localhost", refused: op.Host(), atLogin: true},
		{name: "jwks host not listed", allowed: op.Host(), other: "login.example.com", refused: "localhost"},
		{name: "every host listed", allowed: op.Host(), other: "localhost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := start(t, options{op: op, vars: map[string]string{"ALLOWED_HOST": tc.allowed, "OTHER_ALLOWED_HOST": tc.other}})
			c := f.env.Client()
			switch {
			case tc.refused == "":
				f.signIn(t, c, oidc.TestUser, oidc.TestPassword)
				mustMe(t, c, oidc.UserID)
				return
			case tc.atLogin:
				r := c.Do(t, "GET", "/api/auth/sso/login", nil)
				var e struct {
					Error string `json:"error"`
				}
				r.Decode(t, &e)
				if r.Status != http.StatusForbidden || e.Error != "forbidden" {
					t.Fatalf("sso/login = %d %s, want 403 forbidden", r.Status, r.Body)
				}
			default:
				cb := f.authorize(t, c, f.startLogin(t, c, "/"), oidc.TestUser, oidc.TestPassword)
				if got := callbackError(t, c, cb); got != "forbidden" {
					t.Fatalf("error = %q, want forbidden", got)
				}
				wantNoSession(t, c)
			}
			logs := f.env.Logs()
			if !strings.Contains(logs, `host not allowed: \"`+tc.refused+`\" is not in the allow-list of plugin \"cloud\"`) {
				t.Fatalf("the log does not name the refused host %s:\n%s", tc.refused, logs)
			}
		})
	}
}
