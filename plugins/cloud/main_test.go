//go:build !wasip1

package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/internal/testenv/oidc"
	"github.com/authhost/authhost/pdk"
	"github.com/authhost/authhost/pdk/pdktest"
)

const (
	redirectURI   = "http://127.0.0.1:1/api/auth/sso/callback" // never served: Login stops there
	postLogoutURI = "http://127.0.0.1:1/login"
)

// transport counts requests per path and may rewrite token responses.
type transport struct {
	rt      http.RoundTripper
	jwks    atomic.Int32
	rewrite func(tokenJSON map[string]any) // applied to token endpoint answers
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == "/keys" {
		t.jwks.Add(1)
	}
	resp, err := t.rt.RoundTrip(r)
	if err != nil || t.rewrite == nil || r.URL.Path != "/oauth/token" || resp.StatusCode != 200 {
		return resp, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err == nil {
		t.rewrite(m)
		body, _ = json.Marshal(m)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
	return resp, nil
}

type fixture struct {
	env *pdktest.Env
	op  *oidc.Provider
	tr  *transport
	cfg map[string]any
}

func baseConfig(op *oidc.Provider) map[string]any {
	return map[string]any{
		"issuer":        op.Issuer,
		"client_id":     op.ClientID,
		"client_secret": op.ClientSecret,
		"scopes":        []string{"openid", "profile", "email", "offline_access"},
		"role_mapping": map[string][]string{
			"admin":    {"agents:*", "users:read"},
			"staff":    {"workflows:read"},
			"_default": {"agents:read"},
		},
	}
}

// setup serves the plugin with op (the shared provider when nil) and the
// base configuration changed by mutate.
func setup(t *testing.T, op *oidc.Provider, mutate func(map[string]any)) *fixture {
	t.Helper()
	if op == nil {
		op = oidc.Start(t)
	}
	op.RegisterRedirect(redirectURI)
	op.RegisterPostLogoutRedirect(postLogoutURI)
	cfg := baseConfig(op)
	if mutate != nil {
		mutate(cfg)
	}
	tr := &transport{rt: http.DefaultTransport}
	env := pdktest.New(t, pdktest.WithConfig(cfg), pdktest.WithTransport(tr))
	t.Cleanup(func() { now = time.Now })
	return &fixture{env: env, op: op, tr: tr, cfg: cfg}
}

func random(t *testing.T) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// authorize gets the login URL and signs in at the provider; it returns the
// code, the PKCE verifier and the login URL.
type authz struct {
	code, state, nonce, verifier, loginURL string
}

func (f *fixture) authorize(t *testing.T, nonce string) authz {
	t.Helper()
	a := authz{state: random(t), nonce: nonce, verifier: random(t)}
	sum := sha256.Sum256([]byte(a.verifier))
	var res abi.URLResult
	if err := f.env.Invoke(abi.ExportSSOLoginURL, abi.SSOLoginURLRequest{RedirectURI: redirectURI, State: a.state, Nonce: nonce,
		CodeChallenge: base64.RawURLEncoding.EncodeToString(sum[:]), CodeChallengeMethod: "S256"}, &res); err != nil {
		t.Fatalf("sso_login_url: %v", err)
	}
	a.loginURL = res.URL
	cb, err := f.op.Login(nil, res.URL, oidc.TestUser, oidc.TestPassword)
	if err != nil {
		t.Fatalf("login at the provider: %v", err)
	}
	if !strings.HasPrefix(cb.String(), redirectURI+"?") || cb.Query().Get("state") != a.state {
		t.Fatalf("callback %s: want %s with state %s", cb, redirectURI, a.state)
	}
	a.code = cb.Query().Get("code")
	return a
}

func (f *fixture) callback(a authz, nonce string) (*abi.SSOCallbackResult, error) {
	var res abi.SSOCallbackResult
	err := f.env.Invoke(abi.ExportSSOCallback, abi.SSOCallbackRequest{Code: a.code, State: a.state, Nonce: nonce,
		CodeVerifier: a.verifier, RedirectURI: redirectURI, Request: abi.Request{Method: "GET", URL: redirectURI}}, &res)
	return &res, err
}

// signIn runs the whole flow and fails the test on error.
func (f *fixture) signIn(t *testing.T) *abi.SSOCallbackResult {
	t.Helper()
	n := random(t)
	res, err := f.callback(f.authorize(t, n), n)
	if err != nil {
		t.Fatalf("sso_callback: %v", err)
	}
	return res
}

func cookieRequest(setCookie string) abi.Request {
	c, _, _ := strings.Cut(setCookie, ";")
	return abi.Request{Method: "GET", URL: "http://127.0.0.1:1/api/auth/me", Headers: map[string][]string{"Cookie": {"other=1; " + c}}}
}

func wantCode(t *testing.T, err error, code abi.Code, contains string) {
	t.Helper()
	if !abi.IsCode(err, code) {
		t.Fatalf("err = %v, want code %s", err, code)
	}
	if contains != "" && !strings.Contains(err.Error(), contains) {
		t.Fatalf("err = %v, want it to mention %q", err, contains)
	}
}

func TestDescribe(t *testing.T) {
	f := setup(t, nil, nil)
	d := f.env.Describe()
	if d.Name != "cloud" || !d.ManagesSessions || d.Login == nil || d.Login.Provider != "cloud" || d.Login.Text != "Sign in with SSO" {
		t.Fatalf("describe = %+v", d)
	}
	if want := []abi.Capability{abi.CapUser, abi.CapSession, abi.CapSSO, abi.CapRBAC}; !slices.Equal(d.Capabilities, want) {
		t.Fatalf("capabilities = %v", d.Capabilities)
	}
	// The session cookie is where the session travels, and the only way
	// the user capability knows a request.
	if tr := d.SessionTransport; tr == nil || !slices.Equal(tr.Cookies, []string{"authhost_cloud"}) || !tr.Exclusive || tr.Bearer || tr.Header != "" {
		t.Fatalf("session_transport = %+v", tr)
	}
	// The button comes from the configuration an instance starts with.
	f.cfg["login"] = map[string]string{"provider": "acme", "text": "Sign in with Acme", "icon": "https://acme.example/i.svg"}
	f.env.SetConfig(f.cfg)
	loadButton()
	t.Cleanup(func() { f.env.SetConfig(nil); loadButton() })
	if d := f.env.Describe(); *d.Login != (abi.LoginButton{Provider: "acme", Text: "Sign in with Acme", Icon: "https://acme.example/i.svg"}) {
		t.Fatalf("login = %+v", d.Login)
	}
}

func TestConfigValidation(t *testing.T) {
	op := oidc.Start(t)
	for name, mutate := range map[string]func(map[string]any){
		"no issuer": func(c map[string]any) { delete(c, "issuer") },
		"HS256":     func(c map[string]any) { c["allowed_algorithms"] = []string{"RS256", "HS256"} },
		"none":      func(c map[string]any) { c["allowed_algorithms"] = []string{"none"} },
		"typo":      func(c map[string]any) { c["clientid"] = "x" },
		"post alone": func(c map[string]any) {
			c["token_endpoint_auth_method"] = "client_secret_post"
			delete(c, "client_secret")
		},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := baseConfig(op)
			mutate(cfg)
			env := pdktest.New(t, pdktest.WithConfig(cfg))
			err := env.Invoke(abi.ExportSSOLoginURL, abi.SSOLoginURLRequest{RedirectURI: redirectURI, State: "s", CodeChallenge: "c"}, nil)
			wantCode(t, err, abi.CodeInternal, "cloud config")
		})
	}
}

func TestCodeFlow(t *testing.T) {
	f := setup(t, nil, nil)
	t0 := time.Now()
	n := random(t)
	a := f.authorize(t, n)
	res, err := f.callback(a, n)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("native login round trip (login URL, authorize, login form, callback with token exchange, JWKS, userinfo): %v", time.Since(t0))

	q := mustURL(t, a.loginURL).Query()
	for k, v := range map[string]string{"response_type": "code", "client_id": oidc.ClientID, "redirect_uri": redirectURI,
		"state": a.state, "nonce": n, "code_challenge_method": "S256", "scope": "openid profile email offline_access"} {
		if q.Get(k) != v {
			t.Errorf("login url %s = %q, want %q", k, q.Get(k), v)
		}
	}
	u := res.User
	if u.ID != oidc.UserID || u.Email != oidc.UserEmail || u.Name != oidc.UserName || !slices.Equal(u.Roles, []string{"admin", "staff"}) {
		t.Fatalf("user = %+v", u)
	}
	if u.Metadata["email_verified"] != true || u.Metadata["issuer"] != f.op.Issuer {
		t.Fatalf("metadata = %v", u.Metadata)
	}
	// The issuer's tokens stay in the plugin's KV: the host gets their
	// expiry only.
	if res.Tokens != (abi.Tokens{ExpiresAt: res.Tokens.ExpiresAt}) || res.Tokens.ExpiresAt.IsZero() {
		t.Fatalf("tokens = %+v, want the expiry only", res.Tokens)
	}
	if tk := tokensOf(t, f, res); tk.AccessToken == "" || tk.RefreshToken == "" || tk.IDToken == "" {
		t.Fatalf("stored tokens = %+v", tk)
	}
	// The session it started, as session_validate answers it, vouched for.
	var v abi.SessionResult
	if err := f.env.Invoke(abi.ExportSessionValidate, abi.SessionIDRequest{SessionID: sessionOf(t, f, res)}, &v); err != nil || v.Session == nil {
		t.Fatalf("session_validate = %+v, %v", v.Session, err)
	}
	if res.Session == nil || res.Session.CacheSeconds <= 0 || !reflect.DeepEqual(jsonOf(t, res.Session), jsonOf(t, v.Session)) {
		t.Fatalf("callback session %+v, want what session_validate answers: %+v", res.Session, v.Session)
	}
	// And its RBAC answers about the user as the session describes them.
	su := abi.User{ID: res.Session.UserID, Roles: anyStrings(res.Session.Metadata["roles"])}
	var sr abi.RolesResult
	var sp abi.PermissionsResult
	if err := f.env.Invoke(abi.ExportRBACRoles, abi.UserRequest{User: su}, &sr); err != nil {
		t.Fatal(err)
	}
	if err := f.env.Invoke(abi.ExportRBACPermissions, abi.UserRequest{User: su}, &sp); err != nil {
		t.Fatal(err)
	}
	if res.Access == nil || !slices.Equal(res.Access.Roles, sr.Roles) || !slices.Equal(res.Access.Permissions, sp.Permissions) || len(sp.Permissions) == 0 {
		t.Fatalf("callback access %+v, want rbac_roles %v and rbac_permissions %v", res.Access, sr.Roles, sp.Permissions)
	}
	if len(res.SetCookie) != 1 || !strings.Contains(res.SetCookie[0], "authhost_cloud=") || !strings.Contains(res.SetCookie[0], "HttpOnly") ||
		!strings.Contains(res.SetCookie[0], "SameSite=Lax") || strings.Contains(res.SetCookie[0], "Secure") {
		t.Fatalf("set_cookie = %v", res.SetCookie)
	}

	// The cookie resolves to the user; user_get and rbac know the user.
	var cur abi.UserResult
	if err := f.env.Invoke(abi.ExportUserCurrent, abi.UserCurrentRequest{Request: cookieRequest(res.SetCookie[0])}, &cur); err != nil || cur.User == nil || cur.User.ID != oidc.UserID {
		t.Fatalf("user_current = %+v, %v", cur.User, err)
	}
	if err := f.env.Invoke(abi.ExportUserCurrent, abi.UserCurrentRequest{Request: abi.Request{Headers: map[string][]string{"Cookie": {"authhost_cloud=" + random(t)}}}}, &cur); err != nil || cur.User != nil {
		t.Fatalf("user_current with an unknown session = %+v, %v", cur.User, err)
	}
	var got abi.UserResult
	if err := f.env.Invoke(abi.ExportUserGet, abi.UserGetRequest{ID: oidc.UserID}, &got); err != nil || got.User == nil || got.User.Email != oidc.UserEmail {
		t.Fatalf("user_get = %+v, %v", got.User, err)
	}
	var perms abi.PermissionsResult
	if err := f.env.Invoke(abi.ExportRBACPermissions, abi.UserRequest{User: abi.User{ID: oidc.UserID}}, &perms); err != nil ||
		!slices.Equal(perms.Permissions, []string{"agents:*", "users:read", "workflows:read"}) {
		t.Fatalf("permissions = %v, %v", perms.Permissions, err)
	}
	sid := strings.SplitN(strings.SplitN(res.SetCookie[0], "=", 2)[1], ";", 2)[0]
	for k, v := range f.env.KV() {
		if strings.Contains(k, sid) || bytes.Contains(v, []byte(sid)) {
			t.Fatalf("KV entry %s contains the session id", k)
		}
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestClientAuthMethods(t *testing.T) {
	op := oidc.Start(t)
	for name, mutate := range map[string]func(map[string]any){
		"client_secret_post": func(c map[string]any) { c["token_endpoint_auth_method"] = "client_secret_post" },
		"public client":      func(c map[string]any) { c["client_id"] = op.PublicClientID; delete(c, "client_secret") },
	} {
		t.Run(name, func(t *testing.T) {
			f := setup(t, op, mutate)
			if res := f.signIn(t); res.User.ID != oidc.UserID {
				t.Fatalf("user = %+v", res.User)
			}
		})
	}
	t.Run("wrong secret", func(t *testing.T) {
		f := setup(t, op, func(c map[string]any) { c["client_secret"] = "wrong" })
		n := random(t)
		_, err := f.callback(f.authorize(t, n), n)
		wantCode(t, err, abi.CodeInternal, "invalid_client")
	})
}

func TestNonce(t *testing.T) {
	f := setup(t, nil, nil)
	a := f.authorize(t, random(t))
	_, err := f.callback(a, random(t))
	wantCode(t, err, abi.CodeInvalidCredentials, "nonce mismatch")

	// No nonce in the authorization request, one expected at the callback.
	a = f.authorize(t, "")
	_, err = f.callback(a, random(t))
	wantCode(t, err, abi.CodeInvalidCredentials, "nonce missing")
}

func TestReplayedCode(t *testing.T) {
	f := setup(t, nil, nil)
	n := random(t)
	a := f.authorize(t, n)
	if _, err := f.callback(a, n); err != nil {
		t.Fatal(err)
	}
	_, err := f.callback(a, n)
	wantCode(t, err, abi.CodeInvalidCredentials, "invalid_grant")

	// A wrong PKCE verifier is rejected the same way.
	a = f.authorize(t, n)
	a.verifier = random(t)
	_, err = f.callback(a, n)
	wantCode(t, err, abi.CodeInvalidCredentials, "token")
}

func TestTamperedIDToken(t *testing.T) {
	b64 := base64.RawURLEncoding
	tamper := map[string]func(parts []string) []string{
		"payload": func(p []string) []string {
			claims, _ := b64.DecodeString(p[1])
			claims = bytes.Replace(claims, []byte(oidc.UserID), []byte("user-mallory"), 1)
			return []string{p[0], b64.EncodeToString(claims), p[2]}
		},
		"signature": func(p []string) []string {
			sig, _ := b64.DecodeString(p[2])
			sig[10] ^= 1
			return []string{p[0], p[1], b64.EncodeToString(sig)}
		},
		"alg none": func(p []string) []string {
			return []string{b64.EncodeToString([]byte(`{"alg":"none"}`)), p[1], ""}
		},
		"alg HS256": func(p []string) []string {
			return []string{b64.EncodeToString([]byte(`{"alg":"HS256"}`)), p[1], p[2]}
		},
	}
	for name, fn := range tamper {
		t.Run(name, func(t *testing.T) {
			f := setup(t, nil, nil)
			f.tr.rewrite = func(m map[string]any) {
				parts := strings.Split(m["id_token"].(string), ".")
				m["id_token"] = strings.Join(fn(parts), ".")
			}
			n := random(t)
			_, err := f.callback(f.authorize(t, n), n)
			wantCode(t, err, abi.CodeInvalidCredentials, "id token")
		})
	}
	t.Run("access token swapped (at_hash)", func(t *testing.T) {
		f := setup(t, nil, func(c map[string]any) { c["userinfo"] = false })
		f.tr.rewrite = func(m map[string]any) { m["access_token"] = "not-the-issued-token" }
		n := random(t)
		_, err := f.callback(f.authorize(t, n), n)
		wantCode(t, err, abi.CodeInvalidCredentials, "at_hash")
	})
}

func TestExpiredIDToken(t *testing.T) {
	op := oidc.New(t)
	f := setup(t, op, nil)
	op.SetIDTokenLifetime(-5 * time.Minute)
	n := random(t)
	_, err := f.callback(f.authorize(t, n), n)
	wantCode(t, err, abi.CodeInvalidCredentials, "expired")

	// Within the configured clock skew the token is still accepted.
	op.SetIDTokenLifetime(-10 * time.Second)
	f.signIn(t)
}

func TestKeyRotation(t *testing.T) {
	op := oidc.New(t)
	f := setup(t, op, nil)
	f.signIn(t)
	f.signIn(t)
	if n := f.tr.jwks.Load(); n != 1 {
		t.Fatalf("JWKS fetched %d times for two sign-ins, want 1 (cached)", n)
	}

	// A key id never seen before gets one re-fetch at once, however
	// recently the set was fetched: sign-in works right after a rotation.
	if _, err := op.RotateKey(); err != nil {
		t.Fatal(err)
	}
	f.signIn(t)
	if n := f.tr.jwks.Load(); n != 2 {
		t.Fatalf("JWKS fetched %d times after rotation, want 2", n)
	}

	// A key id the re-fetch did not find is not fetched for again within
	// jwks_min_refresh_seconds, later it is.
	f.tr.rewrite = func(m map[string]any) {
		parts := strings.Split(m["id_token"].(string), ".")
		parts[0] = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"no-such-key"}`))
		m["id_token"] = strings.Join(parts, ".")
	}
	for i, want := range []int32{3, 3} {
		n := random(t)
		_, err := f.callback(f.authorize(t, n), n)
		wantCode(t, err, abi.CodeInvalidCredentials, "unknown signing key")
		if got := f.tr.jwks.Load(); got != want {
			t.Fatalf("attempt %d: JWKS fetched %d times, want %d", i, got, want)
		}
	}
	now = func() time.Time { return time.Now().Add(time.Minute) }
	n := random(t)
	_, err := f.callback(f.authorize(t, n), n)
	wantCode(t, err, abi.CodeInvalidCredentials, "unknown signing key")
	if got := f.tr.jwks.Load(); got != 4 {
		t.Fatalf("JWKS fetched %d times after the interval, want 4", got)
	}
	f.tr.rewrite = nil

	// An EdDSA key is fetched and verified (at_hash with SHA-512).
	if _, err := op.RotateKeyEdDSA(); err != nil {
		t.Fatal(err)
	}
	if res := f.signIn(t); res.User.ID != oidc.UserID {
		t.Fatalf("user = %+v", res.User)
	}

	// An operator who allows only RS256 refuses the EdDSA token.
	f.cfg["allowed_algorithms"] = []string{"RS256"}
	f.env.SetConfig(f.cfg)
	n = random(t)
	_, err = f.callback(f.authorize(t, n), n)
	wantCode(t, err, abi.CodeInvalidCredentials, `algorithm "EdDSA" is not allowed`)
}

func TestIssuerDown(t *testing.T) {
	op := oidc.New(t)
	f := setup(t, op, nil)
	n := random(t)
	a := f.authorize(t, n) // discovery now cached
	op.Stop(t)

	_, err := f.callback(a, n)
	wantCode(t, err, abi.CodeUnavailable, "token")

	// Without a cached discovery document even the login URL fails (a
	// new KV; this process's instance memory forgets its copy, as a new
	// instance has none).
	forgetDiscovery()
	env := pdktest.New(t, pdktest.WithConfig(f.cfg), pdktest.WithTransport(http.DefaultTransport))
	err = env.Invoke(abi.ExportSSOLoginURL, abi.SSOLoginURLRequest{RedirectURI: redirectURI, State: "s", CodeChallenge: "c", CodeChallengeMethod: "S256"}, nil)
	wantCode(t, err, abi.CodeUnavailable, "discovery")
}

func TestRefreshRotationAndLogout(t *testing.T) {
	f := setup(t, nil, nil)
	res := f.signIn(t)
	req := cookieRequest(res.SetCookie[0])
	oldRefresh := tokensOf(t, f, res).RefreshToken

	// After the access token expired, resolving the session rotates it.
	now = func() time.Time { return time.Now().Add(10 * time.Minute) }
	var cur abi.UserResult
	if err := f.env.Invoke(abi.ExportUserCurrent, abi.UserCurrentRequest{Request: req}, &cur); err != nil || cur.User == nil {
		t.Fatalf("user_current after expiry = %+v, %v", cur.User, err)
	}
	s, err := sessions(mustConfig(t)).Secret(sessionIDFromRequest(mustConfig(t), req))
	if err != nil || s == nil || s.RefreshToken == "" || s.RefreshToken == oldRefresh {
		t.Fatalf("session tokens after refresh = %+v, %v", s, err)
	}
	if code := refreshAtOP(t, f, oldRefresh); code == http.StatusOK {
		t.Fatal("the old refresh token still works after rotation")
	}

	// Logout: tokens revoked, session gone, end_session URL with the hint.
	var lo abi.URLResult
	if err := f.env.Invoke(abi.ExportSSOLogoutURL, abi.SSOLogoutURLRequest{RedirectURI: postLogoutURI, Request: req}, &lo); err != nil {
		t.Fatal(err)
	}
	q := mustURL(t, lo.URL).Query()
	if !strings.HasPrefix(lo.URL, f.op.Issuer+"/end_session?") || q.Get("id_token_hint") != s.IDToken || q.Get("post_logout_redirect_uri") != postLogoutURI {
		t.Fatalf("logout url = %s", lo.URL)
	}
	if code := refreshAtOP(t, f, s.RefreshToken); code == http.StatusOK {
		t.Fatal("the refresh token still works after logout")
	}
	if err := f.env.Invoke(abi.ExportUserCurrent, abi.UserCurrentRequest{Request: req}, &cur); err != nil || cur.User != nil {
		t.Fatalf("user_current after logout = %+v, %v", cur.User, err)
	}
	// The issuer accepts the logout request and sends the browser back.
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(lo.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != postLogoutURI {
		t.Fatalf("end_session answered %d Location %q", resp.StatusCode, loc)
	}
}

func TestRefreshRejectedEndsSession(t *testing.T) {
	f := setup(t, nil, nil)
	res := f.signIn(t)
	req := cookieRequest(res.SetCookie[0])
	if code := refreshAtOP(t, f, tokensOf(t, f, res).RefreshToken); code != http.StatusOK { // rotates it away behind the plugin's back
		t.Fatalf("refresh at the provider: %d", code)
	}
	now = func() time.Time { return time.Now().Add(10 * time.Minute) }
	var cur abi.UserResult
	if err := f.env.Invoke(abi.ExportUserCurrent, abi.UserCurrentRequest{Request: req}, &cur); err != nil || cur.User != nil {
		t.Fatalf("user_current with a revoked refresh token = %+v, %v", cur.User, err)
	}
}

func mustConfig(t *testing.T) *config {
	cfg, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func refreshAtOP(t *testing.T, f *fixture, refresh string) int {
	t.Helper()
	r, _ := http.NewRequest("POST", f.op.Issuer+"/oauth/token", strings.NewReader(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(f.op.ClientID, f.op.ClientSecret)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestRoleMapping(t *testing.T) {
	cfg := &config{RoleClaim: "realm_access.roles"}
	claims := map[string]any{"realm_access": map[string]any{"roles": []any{"b", "a", "b"}}, "groups": "x, y"}
	if got := rolesFromClaims(cfg, claims); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("nested roles = %v", got)
	}
	cfg.RoleClaim = "groups"
	if got := rolesFromClaims(cfg, claims); !slices.Equal(got, []string{"x", "y"}) {
		t.Errorf("string roles = %v", got)
	}

	// Through the real provider: a different claim and another user's roles.
	mapping := map[string][]string{"admin": {"*"}, "dev": {"agents:read", "agents:execute"}, "_default": {"logs:read"}}
	op := oidc.New(t)
	op.SetUserClaims(oidc.UserID, map[string]any{"app": map[string]any{"roles": []any{"dev"}}})
	f := setup(t, op, func(c map[string]any) {
		c["role_claim"] = "app.roles"
		c["role_mapping"] = mapping
	})
	res := f.signIn(t)
	if !slices.Equal(res.User.Roles, []string{"dev"}) {
		t.Fatalf("roles = %v", res.User.Roles)
	}
	var roles abi.RolesResult
	if err := f.env.Invoke(abi.ExportRBACRoles, abi.UserRequest{User: abi.User{ID: oidc.UserID}}, &roles); err != nil || !slices.Equal(roles.Roles, []string{"dev"}) {
		t.Fatalf("rbac_roles = %v, %v", roles.Roles, err)
	}
	var perms abi.PermissionsResult
	if err := f.env.Invoke(abi.ExportRBACPermissions, abi.UserRequest{User: abi.User{ID: "someone-else", Roles: []string{"admin"}}}, &perms); err != nil || !slices.Equal(perms.Permissions, []string{"*"}) {
		t.Fatalf("rbac_permissions for a user the plugin does not know = %v, %v", perms.Permissions, err)
	}
	var defs abi.RoleDefinitionsResult
	if err := f.env.Invoke(abi.ExportRBACRoleDefinitions, nil, &defs); err != nil || len(defs.Roles) != 2 || defs.Roles[0].ID != "admin" {
		t.Fatalf("role definitions = %+v, %v", defs.Roles, err)
	}
}

// tokensOf returns the issuer's tokens the plugin keeps for the session
// the callback started.
func tokensOf(t *testing.T, f *fixture, res *abi.SSOCallbackResult) *tokens {
	t.Helper()
	tk, err := sessions(mustConfig(t)).Secret(sessionOf(t, f, res))
	if err != nil || tk == nil {
		t.Fatalf("session tokens = %+v, %v", tk, err)
	}
	return tk
}

// jsonOf is v as JSON, to compare values as they cross the ABI.
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sessionOf returns the session id the callback's cookie carries.
func sessionOf(t *testing.T, f *fixture, res *abi.SSOCallbackResult) string {
	t.Helper()
	var sid abi.SessionIDResult
	if err := f.env.Invoke(abi.ExportSessionIDFromRequest, abi.SessionIDFromRequestRequest{Request: cookieRequest(res.SetCookie[0])}, &sid); err != nil || sid.SessionID == "" {
		t.Fatalf("session_id_from_request = %q, %v", sid.SessionID, err)
	}
	return sid.SessionID
}

func TestSessionCapability(t *testing.T) {
	op := oidc.New(t)
	op.SetIDTokenLifetime(48 * time.Hour) // the test's clock moves 20 hours
	f := setup(t, op, func(c map[string]any) { c["session_absolute_ttl_seconds"] = 36 * 3600 })
	res := f.signIn(t)
	id := sessionOf(t, f, res)
	first := tokensOf(t, f, res)

	// session_validate carries the user snapshot the host reads.
	var v abi.SessionResult
	if err := f.env.Invoke(abi.ExportSessionValidate, abi.SessionIDRequest{SessionID: id}, &v); err != nil || v.Session == nil {
		t.Fatalf("session_validate = %+v, %v", v.Session, err)
	}
	s := v.Session
	md := s.Metadata
	if s.ID != id || s.UserID != oidc.UserID || md["email"] != oidc.UserEmail || md["name"] != oidc.UserName || md["source"] != "sso" || md["userMetadata"].(map[string]any)["email_verified"] != true ||
		!slices.Equal(anyStrings(md["roles"]), []string{"admin", "staff"}) || !s.ExpiresAt.After(time.Now().Add(23*time.Hour)) {
		t.Fatalf("session = %+v", s)
	}
	// The access token is fresh (minutes), so the plugin vouches for the
	// provider default.
	if s.CacheSeconds != maxCacheSeconds {
		t.Fatalf("cache_seconds = %d, want %d", s.CacheSeconds, maxCacheSeconds)
	}
	var none abi.SessionResult
	if err := f.env.Invoke(abi.ExportSessionValidate, abi.SessionIDRequest{SessionID: random(t)}, &none); err != nil || none.Session != nil {
		t.Fatalf("unknown session = %+v, %v", none.Session, err)
	}
	var sid abi.SessionIDResult
	if err := f.env.Invoke(abi.ExportSessionIDFromRequest, abi.SessionIDFromRequestRequest{Request: abi.Request{}}, &sid); err != nil || sid.SessionID != "" {
		t.Fatalf("no cookie: session id %q, %v", sid.SessionID, err)
	}

	// session_refresh: nothing to do while most of the TTL is left; later
	// the tokens are rotated and the session extended up to the absolute cap.
	var r abi.SessionResult
	if err := f.env.Invoke(abi.ExportSessionRefresh, abi.SessionIDRequest{SessionID: id}, &r); err != nil || r.Session == nil || !r.Session.ExpiresAt.Equal(s.ExpiresAt) {
		t.Fatalf("early refresh = %+v, %v", r.Session, err)
	}
	now = func() time.Time { return time.Now().Add(20 * time.Hour) }
	if err := f.env.Invoke(abi.ExportSessionRefresh, abi.SessionIDRequest{SessionID: id}, &r); err != nil || r.Session == nil {
		t.Fatalf("refresh = %+v, %v", r.Session, err)
	}
	if want := s.CreatedAt.Add(36 * time.Hour); !r.Session.ExpiresAt.Equal(want) {
		t.Fatalf("refreshed expiry %v, want the absolute cap %v", r.Session.ExpiresAt, want)
	}
	stored, err := sessions(mustConfig(t)).Secret(id)
	if err != nil || stored == nil || stored.RefreshToken == first.RefreshToken {
		t.Fatalf("tokens not rotated: %+v, %v", stored, err)
	}
	var h abi.HeadersResult
	if err := f.env.Invoke(abi.ExportSessionHeaders, abi.SessionHeadersRequest{Session: *r.Session}, &h); err != nil || len(h.SetCookie) != 1 ||
		!strings.HasPrefix(h.SetCookie[0], "authhost_cloud="+id+";") || !strings.Contains(h.SetCookie[0], "HttpOnly") || strings.Contains(h.SetCookie[0], "Secure") {
		t.Fatalf("session_headers = %v, %v", h.SetCookie, err)
	}

	// session_destroy revokes at the issuer and ends the session.
	if err := f.env.Invoke(abi.ExportSessionDestroy, abi.SessionIDRequest{SessionID: id}, nil); err != nil {
		t.Fatal(err)
	}
	if code := refreshAtOP(t, f, stored.RefreshToken); code == http.StatusOK {
		t.Fatal("the refresh token still works after session_destroy")
	}
	if err := f.env.Invoke(abi.ExportSessionValidate, abi.SessionIDRequest{SessionID: id}, &v); err != nil || v.Session != nil {
		t.Fatalf("destroyed session = %+v, %v", v.Session, err)
	}
	for k := range f.env.KV() {
		if strings.HasPrefix(k, sessionKey(mustConfig(t), id)) {
			t.Fatalf("KV key %s left after session_destroy", k)
		}
	}
	if err := f.env.Invoke(abi.ExportSessionDestroy, abi.SessionIDRequest{SessionID: id}, nil); err != nil {
		t.Fatalf("destroying an unknown session: %v", err)
	}
	if err := f.env.Invoke(abi.ExportSessionClearHeaders, abi.Empty{}, &h); err != nil || len(h.SetCookie) != 1 ||
		!strings.HasPrefix(h.SetCookie[0], "authhost_cloud=;") || !strings.Contains(h.SetCookie[0], "Max-Age=0") {
		t.Fatalf("session_clear_headers = %v, %v", h.SetCookie, err)
	}
	err = f.env.Invoke(abi.ExportSessionCreate, abi.SessionCreateRequest{UserID: oidc.UserID}, nil)
	wantCode(t, err, abi.CodeNotSupported, "SSO callback")
}

func anyStrings(v any) []string {
	var out []string
	switch x := v.(type) {
	case []string:
		return x
	case []any:
		for _, s := range x {
			str, _ := s.(string)
			out = append(out, str)
		}
	}
	return out
}

// TestSecureCookie checks the Secure attribute is fixed at sign-in (https
// callback) and kept when the host re-issues the cookie.
func TestSecureCookie(t *testing.T) {
	f := setup(t, nil, nil)
	n := random(t)
	a := f.authorize(t, n)
	var res abi.SSOCallbackResult
	if err := f.env.Invoke(abi.ExportSSOCallback, abi.SSOCallbackRequest{Code: a.code, State: a.state, Nonce: n, CodeVerifier: a.verifier,
		RedirectURI: redirectURI, Request: abi.Request{Method: "GET", URL: "https://auth.example/api/auth/sso/callback"}}, &res); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.SetCookie[0], "Secure") {
		t.Fatalf("callback cookie over https = %s", res.SetCookie[0])
	}
	var h abi.HeadersResult
	if err := f.env.Invoke(abi.ExportSessionHeaders, abi.SessionHeadersRequest{Session: abi.Session{ID: sessionOf(t, f, &res), ExpiresAt: time.Now().Add(time.Hour)}}, &h); err != nil ||
		!strings.Contains(h.SetCookie[0], "Secure") {
		t.Fatalf("session_headers = %v, %v", h.SetCookie, err)
	}
}

// TestConcurrentRotation checks that a browser's requests racing to
// rotate one session do not end it: a rotation in progress holds the
// others off, and a refresh the issuer rejects because a concurrent call
// rotated the token first keeps the session.
func TestConcurrentRotation(t *testing.T) {
	f := setup(t, nil, nil)
	res := f.signIn(t)
	id := sessionOf(t, f, res)
	cfg := mustConfig(t)
	head, err := sessions(cfg).Get(id)
	if err != nil || head == nil {
		t.Fatal(err)
	}
	stale, err := sessions(cfg).Secret(id)
	if err != nil || stale == nil {
		t.Fatal(err)
	}
	now = func() time.Time { return time.Now().Add(10 * time.Minute) }

	// A rotation in progress: the session is used as it is.
	if err := f.env.Invoke(abi.ExportSessionValidate, abi.SessionIDRequest{SessionID: id}, nil); err != nil {
		t.Fatal(err)
	}
	rotated, _ := sessions(cfg).Secret(id)
	if rotated.RefreshToken == stale.RefreshToken {
		t.Fatal("not rotated")
	}
	if err := pdk.KV.Set(rotationLockKey(cfg, rotated.RefreshToken), []byte{1}, time.Minute); err != nil {
		t.Fatal(err)
	}
	now = func() time.Time { return time.Now().Add(20 * time.Minute) }
	var v abi.SessionResult
	if err := f.env.Invoke(abi.ExportSessionValidate, abi.SessionIDRequest{SessionID: id}, &v); err != nil || v.Session == nil {
		t.Fatalf("validate during a rotation = %+v, %v", v.Session, err)
	}
	if cur, _ := sessions(cfg).Secret(id); cur.RefreshToken != rotated.RefreshToken {
		t.Fatal("rotated although a rotation was in progress")
	}

	// The loser of a race wrote its stale tokens back: its refresh token is
	// rejected, and the winner's remembered result is restored.
	if err := pdk.KV.Delete(rotationLockKey(cfg, rotated.RefreshToken)); err != nil {
		t.Fatal(err)
	}
	if err := sessions(cfg).Save(head, stale); err != nil {
		t.Fatal(err)
	}
	got, err := rotateTokens(t.Context(), cfg, head)
	if err != nil || got == nil {
		t.Fatalf("losing rotation = %+v, %v; want the concurrent result", got, err)
	}
	if cur, _ := sessions(cfg).Secret(id); cur == nil || cur.RefreshToken != rotated.RefreshToken {
		t.Fatalf("tokens after the losing rotation = %+v", cur)
	}
}

// TestSessionRecordSplit checks the head read on every request is small
// and holds no token; the tokens live in their own record.
func TestSessionRecordSplit(t *testing.T) {
	f := setup(t, nil, nil)
	res := f.signIn(t)
	id := sessionOf(t, f, res)
	cfg := mustConfig(t)
	kv := f.env.KV()
	head, toks := kv[sessionKey(cfg, id)], kv[tokensKey(cfg, id)]
	tk := tokensOf(t, f, res)
	for _, tok := range []string{tk.AccessToken, tk.RefreshToken, tk.IDToken} {
		if bytes.Contains(head, []byte(tok)) || !bytes.Contains(toks, []byte(tok)) {
			t.Fatalf("token %.20s… in the head %q or missing from the tokens record", tok, head)
		}
	}
	if len(head) > len(toks)/2 {
		t.Fatalf("head %d bytes, tokens %d bytes", len(head), len(toks))
	}
}

// sessionKey mirrors pdk/kvsession's KV key of session id; tokensKey its
// secret record; rotationLockKey its rotation lock of refresh token rt.
func sessionKey(cfg *config, id string) string {
	sum := sha256.Sum256([]byte(id))
	return cfg.prefix + "session/" + hex.EncodeToString(sum[:])
}

func tokensKey(cfg *config, id string) string { return sessionKey(cfg, id) + "/secret" }

func rotationLockKey(cfg *config, rt string) string {
	sum := sha256.Sum256([]byte(rt))
	return cfg.prefix + "rotating/" + hex.EncodeToString(sum[:])
}

// TestCacheSeconds checks how long the plugin vouches for a session: the
// provider default, cut short for a refreshable session so the host asks
// again (and the tokens rotate) once the access token is due, and nothing
// once it is due or past.
func TestCacheSeconds(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now = func() time.Time { return t0 }
	t.Cleanup(func() { now = time.Now })
	for _, tc := range []struct {
		name        string
		refreshable bool
		accessIn    time.Duration // 0: no access expiry known
		want        int
	}{
		{"no refresh token", false, 10 * time.Second, maxCacheSeconds},
		{"no access expiry", true, 0, maxCacheSeconds},
		{"access token valid long", true, time.Hour, maxCacheSeconds},
		{"due within the default", true, refreshLeeway + 20*time.Second, 20},
		{"due now", true, refreshLeeway, 0},
		{"inside the leeway", true, 10 * time.Second, 0},
		{"expired", true, -time.Minute, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &session{Head: sessionHead{Refreshable: tc.refreshable}}
			if tc.accessIn != 0 {
				s.Head.AccessExpiry = t0.Add(tc.accessIn)
			}
			if got := cacheSeconds(s); got != tc.want {
				t.Fatalf("cacheSeconds = %d, want %d", got, tc.want)
			}
		})
	}
}
