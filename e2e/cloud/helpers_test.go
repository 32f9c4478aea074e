// Package cloud holds authhost's end-to-end tests of the cloud (OpenID
// Connect) provider: the real server (internal/app, through authhostenv)
// runs the compiled plugins/cloud Wasm provider against a real OpenID
// provider (zitadel/oidc's example OP, internal/testenv/oidc) started in the
// test process, and every test drives authhost's HTTP API the way a browser
// without JavaScript would: /api/auth/sso/login, the provider's login form,
// /api/auth/sso/callback, /api/auth/me, /api/auth/logout.
//
// Each test owns its provider (oidc.New) and its server, so tests that
// rotate keys, shorten token lifetimes, tamper with token responses or stop
// the issuer run in parallel with the others.
package cloud

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/authhost/authhost/internal/testenv/authhostenv"
	"github.com/authhost/authhost/internal/testenv/oidc"
)

// baseConfig selects the cloud provider for every capability it offers;
// ${…} are filled from fixture.vars. rbac maps the provider's roles claim.
const baseConfig = `
capabilities:
  user: ${USER_CAP}
  session: cloud
  sso: cloud
  rbac: cloud
  audit: [builtin]
session:
  ttl: ${HOST_SESSION_TTL}   # the host's sliding TTL (the plugin reports its own, session_ttl_seconds)
plugins:
  cloud:
    allowed_hosts: ["${ALLOWED_HOST}", "${OTHER_ALLOWED_HOST}"]
    allow_private_networks: true   # the OP listens on 127.0.0.1
    config:
      issuer: "${ISSUER}"
      client_id: "${CLIENT_ID}"
      client_secret: "${CLIENT_SECRET}"
      scopes: [openid, profile, email, offline_access]
      role_claim: roles
      role_mapping:
        admin: ["*"]
        staff: ["agents:read", "workflows:read"]
        _default: ["agents:read"]
      login: {provider: acme, text: "Sign in with Acme", icon: "https://acme.example/icon.svg"}
`

// alicePicture is the picture claim the tests give alice.
const alicePicture = "https://avatars.example/alice.png"

// fixture is one OpenID provider and one authhost server using it.
type fixture struct {
	op  *oidc.Provider
	env *authhostenv.Env
}

// options change a fixture's configuration.
type options struct {
	// op is the provider; nil starts a private one (oidc.New).
	op *oidc.Provider
	// vars override the ${…} values of baseConfig.
	vars map[string]string
	// cloudSettings are lines added to the cloud plugin's settings (beside
	// allowed_hosts), e.g. "session_cache_seconds: 0".
	cloudSettings []string
}

// start starts a provider (alice gets roles admin and staff and a
// picture) and an authhost server whose cloud plugin uses it, with the
// callback and post-logout URIs registered at the provider.
func start(t testing.TB, o options) *fixture {
	t.Helper()
	op := o.op
	if op == nil {
		op = oidc.New(t)
		op.SetUserClaims(oidc.UserID, map[string]any{"roles": []any{"admin", "staff"}, "picture": alicePicture})
	}
	vars := map[string]string{"ISSUER": op.Issuer, "CLIENT_ID": op.ClientID, "CLIENT_SECRET": op.ClientSecret,
		"ALLOWED_HOST": op.Host(), "OTHER_ALLOWED_HOST": "login.example.com", "USER_CAP": "cloud",
		"HOST_SESSION_TTL": "168h"} // the default
	for k, v := range o.vars {
		vars[k] = v
	}
	cfg := baseConfig
	for _, l := range o.cloudSettings {
		cfg = strings.Replace(cfg, "\n    config:\n", "\n    "+l+"\n    config:\n", 1)
	}
	env := authhostenv.Start(t, authhostenv.Options{Plugins: []string{"plugins/cloud"}, Config: cfg, Env: vars})
	op.RegisterRedirect(env.URL + "/api/auth/sso/callback")
	op.RegisterPostLogoutRedirect(env.URL)
	return &fixture{op: op, env: env}
}

// startLogin asks authhost for the authorization URL (JSON API) and
// returns it; returnTo is the redirect_uri query (where the browser ends).
func (f *fixture) startLogin(t testing.TB, c *authhostenv.Client, returnTo string) string {
	t.Helper()
	r := c.Do(t, "GET", "/api/auth/sso/login?redirect_uri="+url.QueryEscape(returnTo), nil)
	var body struct {
		URL string `json:"url"`
	}
	r.Decode(t, &body)
	if r.Status != http.StatusOK || !strings.HasPrefix(body.URL, f.op.Issuer+"/auth?") {
		t.Fatalf("sso/login = %d %s", r.Status, r.Body)
	}
	return body.URL
}

// authorize signs user in at the provider's login form, starting at
// loginURL, and returns the callback URL the provider sends the browser to.
func (f *fixture) authorize(t testing.TB, c *authhostenv.Client, loginURL, user, pass string) string {
	t.Helper()
	cb, err := f.op.Login(c.HTTP, loginURL, user, pass)
	if err != nil {
		t.Fatalf("login at the provider: %v", err)
	}
	if want := f.env.URL + "/api/auth/sso/callback"; !strings.HasPrefix(cb.String(), want+"?") {
		t.Fatalf("the provider redirected to %s, want %s", cb, want)
	}
	return cb.String()
}

// signIn runs the whole browser-less code flow for user and checks that
// the callback lands on returnTo without an error.
func (f *fixture) signIn(t testing.TB, c *authhostenv.Client, user, pass string) {
	t.Helper()
	cb := f.authorize(t, c, f.startLogin(t, c, "/dashboard"), user, pass)
	r := c.Do(t, "GET", cb, nil)
	if loc := r.Location(); r.Status != http.StatusFound || !strings.HasSuffix(loc, "/dashboard") {
		t.Fatalf("callback = %d Location %q, want a redirect to /dashboard\n%s", r.Status, loc, r.Body)
	}
}

// stateCookie returns the sealed SSO state cookie the client holds (its
// path is /api/auth/sso, so Client.Cookie does not see it), or "".
func (f *fixture) stateCookie(c *authhostenv.Client) string {
	u, _ := url.Parse(f.env.URL + "/api/auth/sso/callback")
	for _, ck := range c.HTTP.Jar.Cookies(u) {
		if ck.Name == "authhost_sso" {
			return ck.Value
		}
	}
	return ""
}

// setStateCookie gives the client a sealed SSO state cookie (captured
// from another client).
func (f *fixture) setStateCookie(c *authhostenv.Client, value string) {
	u, _ := url.Parse(f.env.URL + "/api/auth/sso/callback")
	c.HTTP.Jar.SetCookies(u, []*http.Cookie{{Name: "authhost_sso", Value: value, Path: "/api/auth/sso"}})
}

// callbackError follows the callback and returns its ?error= code, failing
// t when the callback did not redirect with one.
func callbackError(t testing.TB, c *authhostenv.Client, cb string) string {
	t.Helper()
	r := c.Do(t, "GET", cb, nil)
	u, err := url.Parse(r.Location())
	if r.Status != http.StatusFound || err != nil || u.Query().Get("error") == "" {
		t.Fatalf("callback = %d Location %q, want a redirect with ?error=", r.Status, r.Location())
	}
	return u.Query().Get("error")
}

// me is the body of GET /api/auth/me.
type me struct {
	ID          string   `json:"id"`
	Email       string   `json:"email"`
	Name        string   `json:"name"`
	AvatarURL   string   `json:"avatarUrl"`
	Roles       []string `json:"roles"`
	Permissions []string `json:"permissions"`
}

// getMe returns GET /api/auth/me's status and body.
func getMe(t testing.TB, c *authhostenv.Client) (int, me) {
	t.Helper()
	r := c.Do(t, "GET", "/api/auth/me", nil)
	var m me
	if r.Status == http.StatusOK {
		r.Decode(t, &m)
	}
	return r.Status, m
}

// mustMe fails t unless the client is signed in as user id.
func mustMe(t testing.TB, c *authhostenv.Client, id string) me {
	t.Helper()
	status, m := getMe(t, c)
	if status != http.StatusOK || m.ID != id {
		t.Fatalf("me = %d %+v, want user %s", status, m, id)
	}
	return m
}

// wantNoSession fails t when the client is signed in or holds a session
// cookie.
func wantNoSession(t testing.TB, c *authhostenv.Client) {
	t.Helper()
	if status, m := getMe(t, c); status != http.StatusUnauthorized {
		t.Fatalf("me = %d %+v, want 401", status, m)
	}
	if v := c.Cookie("authhost_cloud"); v != "" {
		t.Fatalf("session cookie %q set", v)
	}
}

// auditEvent is the part of an audit event the tests read.
type auditEvent struct {
	Action   string         `json:"action"`
	Outcome  string         `json:"outcome"`
	Metadata map[string]any `json:"metadata"`
	Resource *struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"resource"`
}

// audit returns the events with action, read through the audit API by a
// client with audit:read.
func audit(t testing.TB, c *authhostenv.Client, action string) []auditEvent {
	t.Helper()
	r := c.Do(t, "GET", "/api/audit?action="+url.QueryEscape(action), nil)
	var body struct {
		Events []auditEvent `json:"events"`
	}
	r.Decode(t, &body)
	if r.Status != http.StatusOK {
		t.Fatalf("audit = %d %s", r.Status, r.Body)
	}
	return body.Events
}

// revokeAtOP revokes a refresh token at the provider, as an administrator
// disabling the user's grant would.
func revokeAtOP(t testing.TB, op *oidc.Provider, token string) {
	t.Helper()
	form := url.Values{"token": {token}, "token_type_hint": {"refresh_token"}}
	req, _ := http.NewRequest("POST", op.Issuer+"/revoke", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(op.ClientID, op.ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke at the provider: %d", resp.StatusCode)
	}
}

// refreshAtOP runs a refresh grant with token at the provider and returns
// the status (200: the token was still valid).
func refreshAtOP(t testing.TB, op *oidc.Provider, token string) int {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}
	req, _ := http.NewRequest("POST", op.Issuer+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(op.ClientID, op.ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// sorted returns a sorted copy of s.
func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
