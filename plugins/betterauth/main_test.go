package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/internal/testenv/betterauth"
	"github.com/authhost/authhost/internal/testenv/wasmbuild"
	"github.com/authhost/authhost/pdk/pdktest"
)

// The tests run against a real Better Auth server (internal/testenv/betterauth)
// through pdktest with a real HTTP transport. pdktest environments are
// process-wide, so these tests do not run in parallel.

const password = "correct-horse-battery"

func newEnv(t *testing.T, srv *betterauth.Server, extra map[string]any) *pdktest.Env {
	t.Helper()
	cfg := map[string]any{"base_url": srv.URL}
	for k, v := range extra {
		cfg[k] = v
	}
	return pdktest.New(t, pdktest.WithConfig(cfg), pdktest.WithTransport(http.DefaultTransport))
}

func uniqueEmail(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())) + "-" + hex.EncodeToString(b) + "@example.com"
}

func signUp(t *testing.T, env *pdktest.Env, email, name string) abi.CredentialsResult {
	t.Helper()
	var res abi.CredentialsResult
	if err := env.Invoke(abi.ExportCredentialsSignUp, abi.SignUpRequest{Email: email, Password: password, Name: name,
		Request: abi.Request{RemoteAddr: "203.0.113.7:5555", Headers: map[string][]string{"User-Agent": {"authhost-test"}}}}, &res); err != nil {
		t.Fatalf("sign-up %s: %v", email, err)
	}
	return res
}

func signIn(env *pdktest.Env, email, pw string) (abi.CredentialsResult, error) {
	var res abi.CredentialsResult
	err := env.Invoke(abi.ExportCredentialsSignIn, abi.SignInRequest{Email: email, Password: pw}, &res)
	return res, err
}

// cookieHeader turns Set-Cookie values into a Cookie request header.
func cookieHeader(setCookies []string) string {
	var parts []string
	for _, sc := range setCookies {
		nv, _, _ := strings.Cut(sc, ";")
		parts = append(parts, strings.TrimSpace(nv))
	}
	return strings.Join(parts, "; ")
}

func currentUser(t *testing.T, env *pdktest.Env, headers map[string][]string) (*abi.User, error) {
	t.Helper()
	var res abi.UserResult
	err := env.Invoke(abi.ExportUserCurrent, abi.UserCurrentRequest{Request: abi.Request{Method: "GET", URL: "http://authhost.test/api/auth/me", Headers: headers}}, &res)
	return res.User, err
}

func validate(t *testing.T, env *pdktest.Env, id string) (*abi.Session, error) {
	t.Helper()
	var res abi.SessionResult
	err := env.Invoke(abi.ExportSessionValidate, abi.SessionIDRequest{SessionID: id}, &res)
	return res.Session, err
}

func wantCode(t *testing.T, what string, err error, code abi.Code) {
	t.Helper()
	if !abi.IsCode(err, code) {
		t.Fatalf("%s: got %v, want code %s", what, err, code)
	}
}

func TestDescribe(t *testing.T) {
	env := pdktest.New(t)
	d := env.Describe()
	if d.Name != "betterauth" || d.Version != version || !d.ManagesSessions {
		t.Fatalf("describe = %+v", d)
	}
	want := []abi.Capability{abi.CapUser, abi.CapSession, abi.CapCredentials}
	if !slices.Equal(d.Capabilities, want) {
		t.Fatalf("capabilities = %v, want %v", d.Capabilities, want)
	}
	var schema map[string]any
	if err := json.Unmarshal(d.ConfigSchema, &schema); err != nil {
		t.Fatalf("config schema: %v", err)
	}
}

func TestBuildsForWasm(t *testing.T) {
	if testing.Short() {
		t.Skip("wasm build skipped in -short mode")
	}
	wasmbuild.Build(t, ".")
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []string{`{}`, `{"base_url":"ftp://x"}`, `{"base_url":"http://x","bogus":1}`, `{"base_url":"http://x","base_path":"api"}`, `{"base_url":"http://x","origin":"nope"}`} {
		env := pdktest.New(t, pdktest.WithConfig(cfg))
		_, err := signIn(env, "a@example.com", "x")
		wantCode(t, "config "+cfg, err, abi.CodeInternal)
	}
}

// TestFlow: sign-up → sign-in → current user via cookie and bearer → list
// → refresh → sign-out → old cookie rejected.
func TestFlow(t *testing.T) {
	srv := betterauth.Start(t)
	env := newEnv(t, srv, nil)
	email := uniqueEmail(t)

	up := signUp(t, env, email, "Alice")
	if up.User.ID == "" || up.User.Email != email || up.User.Name != "Alice" || up.User.Metadata["emailVerified"] != false {
		t.Fatalf("sign-up user = %+v", up.User)
	}
	if up.Token == "" || up.Session == nil || up.Session.UserID != up.User.ID || !up.Session.ExpiresAt.After(up.Session.CreatedAt) {
		t.Fatalf("sign-up session = %+v token %q", up.Session, up.Token)
	}
	if len(up.SetCookie) == 0 || !strings.HasPrefix(up.SetCookie[0], "better-auth.session_token=") {
		t.Fatalf("sign-up set_cookie = %q", up.SetCookie)
	}

	in, err := signIn(env, email, password)
	if err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	if in.User.ID != up.User.ID || in.Token == "" || in.Token == up.Token || len(in.SetCookie) == 0 {
		t.Fatalf("sign-in = %+v", in)
	}
	for _, k := range []string{"createdAt", "updatedAt"} {
		if _, ok := in.User.Metadata[k].(string); !ok {
			t.Errorf("user metadata %s missing: %v", k, in.User.Metadata)
		}
	}

	// Current user via the cookie Better Auth set, and via bearer.
	cookies := map[string][]string{"Cookie": {"theme=dark; " + cookieHeader(in.SetCookie)}}
	u, err := currentUser(t, env, cookies)
	if err != nil || u == nil || u.ID != up.User.ID || u.Email != email {
		t.Fatalf("current user (cookie) = %+v, %v", u, err)
	}
	u, err = currentUser(t, env, map[string][]string{"Authorization": {"Bearer " + up.Token}})
	if err != nil || u == nil || u.ID != up.User.ID {
		t.Fatalf("current user (bearer) = %+v, %v", u, err)
	}
	if u, err := currentUser(t, env, map[string][]string{"Cookie": {"other=1"}}); err != nil || u != nil {
		t.Fatalf("current user (anonymous) = %+v, %v", u, err)
	}

	// Session id from the request is the (decoded) cookie value.
	var sid abi.SessionIDResult
	if err := env.Invoke(abi.ExportSessionIDFromRequest, abi.SessionIDFromRequestRequest{Request: abi.Request{Headers: cookies}}, &sid); err != nil {
		t.Fatal(err)
	}
	if sid.SessionID != in.Token {
		t.Fatalf("session id = %q, want %q", sid.SessionID, in.Token)
	}
	s, err := validate(t, env, sid.SessionID)
	if err != nil || s == nil || s.UserID != up.User.ID || s.Metadata["email"] != email || s.Metadata["name"] != "Alice" || s.Metadata["source"] != "better-auth" {
		t.Fatalf("validate = %+v, %v", s, err)
	}

	// user_get answers from what the provider has seen.
	var ug abi.UserResult
	if err := env.Invoke(abi.ExportUserGet, abi.UserGetRequest{ID: up.User.ID}, &ug); err != nil || ug.User == nil || ug.User.Email != email {
		t.Fatalf("user_get = %+v, %v", ug.User, err)
	}
	if err := env.Invoke(abi.ExportUserGet, abi.UserGetRequest{ID: "nobody"}, &ug); err != nil || ug.User != nil {
		t.Fatalf("user_get(nobody) = %+v, %v", ug.User, err)
	}

	// Both sessions are listed.
	var list abi.SessionListResult
	if err := env.Invoke(abi.ExportSessionList, abi.SessionListRequest{UserID: up.User.ID}, &list); err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(list.Sessions) != 2 {
		t.Fatalf("list = %+v, want 2 sessions", list.Sessions)
	}
	for _, ls := range list.Sessions {
		if ls.UserID != up.User.ID || ls.Metadata["betterAuthSessionId"] == "" {
			t.Fatalf("listed session = %+v", ls)
		}
		if v, err := validate(t, env, ls.ID); err != nil || v == nil {
			t.Fatalf("listed session id does not validate: %+v, %v", v, err)
		}
	}

	var ref abi.SessionResult
	if err := env.Invoke(abi.ExportSessionRefresh, abi.SessionIDRequest{SessionID: in.Token}, &ref); err != nil || ref.Session == nil || ref.Session.UserID != up.User.ID {
		t.Fatalf("refresh = %+v, %v", ref.Session, err)
	}

	// Cookies the host would re-issue round-trip through the request.
	var hdrs abi.HeadersResult
	if err := env.Invoke(abi.ExportSessionHeaders, abi.SessionHeadersRequest{Session: *ref.Session}, &hdrs); err != nil || len(hdrs.SetCookie) != 1 {
		t.Fatalf("session headers = %v, %v", hdrs.SetCookie, err)
	}
	if u, err := currentUser(t, env, map[string][]string{"Cookie": {cookieHeader(hdrs.SetCookie)}}); err != nil || u == nil || u.ID != up.User.ID {
		t.Fatalf("current user (re-issued cookie) = %+v, %v", u, err)
	}

	// Sign-out; the old cookie is rejected, the other session lives on.
	if err := env.Invoke(abi.ExportSessionDestroy, abi.SessionIDRequest{SessionID: in.Token}, nil); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	if u, err := currentUser(t, env, cookies); err != nil || u != nil {
		t.Fatalf("current user after sign-out = %+v, %v", u, err)
	}
	if s, err := validate(t, env, in.Token); err != nil || s != nil {
		t.Fatalf("validate after sign-out = %+v, %v", s, err)
	}
	if err := env.Invoke(abi.ExportSessionDestroy, abi.SessionIDRequest{SessionID: in.Token}, nil); err != nil {
		t.Fatalf("destroy twice: %v", err)
	}
	if s, err := validate(t, env, up.Token); err != nil || s == nil {
		t.Fatalf("other session after sign-out = %+v, %v", s, err)
	}

	var clr abi.HeadersResult
	if err := env.Invoke(abi.ExportSessionClearHeaders, nil, &clr); err != nil || len(clr.SetCookie) != 3 || !strings.Contains(clr.SetCookie[0], "Max-Age=0") {
		t.Fatalf("clear headers = %v, %v", clr.SetCookie, err)
	}
	wantCode(t, "session_create", env.Invoke(abi.ExportSessionCreate, abi.SessionCreateRequest{UserID: up.User.ID}, nil), abi.CodeNotSupported)
}

func TestCredentialErrors(t *testing.T) {
	srv := betterauth.Start(t)
	env := newEnv(t, srv, nil)
	email := uniqueEmail(t)
	signUp(t, env, email, "")

	err := env.Invoke(abi.ExportCredentialsSignUp, abi.SignUpRequest{Email: email, Password: password}, nil)
	wantCode(t, "duplicate sign-up", err, abi.CodeAlreadyExists)
	_, err = signIn(env, email, "wrong-horse-battery")
	wantCode(t, "wrong password", err, abi.CodeInvalidCredentials)
	_, err = signIn(env, "nobody-"+email, password)
	wantCode(t, "unknown email", err, abi.CodeInvalidCredentials)
	_, err = signIn(env, "", "")
	wantCode(t, "empty sign-in", err, abi.CodeInvalidRequest)
	err = env.Invoke(abi.ExportCredentialsSignUp, abi.SignUpRequest{Email: "not-an-email", Password: password}, nil)
	wantCode(t, "bad email", err, abi.CodeInvalidRequest)
	err = env.Invoke(abi.ExportCredentialsSignUp, abi.SignUpRequest{Email: "short-" + email, Password: "short"}, nil)
	wantCode(t, "short password", err, abi.CodeInvalidRequest)

	// The default name is the email's local part.
	if res, err := signIn(env, email, password); err != nil || !strings.HasPrefix(email, res.User.Name+"@") {
		t.Fatalf("sign-in = %+v, %v", res.User, err)
	}

	off := newEnv(t, srv, map[string]any{"sign_up_enabled": false})
	var en abi.EnabledResult
	if err := off.Invoke(abi.ExportCredentialsSignUpEnabled, nil, &en); err != nil || en.Enabled {
		t.Fatalf("sign_up_enabled = %v, %v", en.Enabled, err)
	}
	err = off.Invoke(abi.ExportCredentialsSignUp, abi.SignUpRequest{Email: "x-" + email, Password: password}, nil)
	wantCode(t, "sign-up disabled", err, abi.CodeSignUpDisabled)
}

func TestRequireEmailVerification(t *testing.T) {
	srv := betterauth.Start(t)
	env := newEnv(t, srv, map[string]any{"require_email_verification": true})
	email := uniqueEmail(t)
	up := signUp(t, env, email, "Unverified")
	if up.Session != nil || up.Token != "" || len(up.SetCookie) != 0 || up.User.ID == "" {
		t.Fatalf("sign-up of unverified user = %+v", up)
	}
	_, err := signIn(env, email, password)
	wantCode(t, "sign-in unverified", err, abi.CodeForbidden)
}

// TestDirectSession: a session created directly on Better Auth (its own
// HTTP API, as a browser would) is recognised by the plugin.
func TestDirectSession(t *testing.T) {
	srv := betterauth.Start(t)
	env := newEnv(t, srv, nil)
	email := uniqueEmail(t)
	body, _ := json.Marshal(map[string]string{"email": email, "password": password, "name": "Direct"})
	resp, err := http.Post(srv.AuthURL()+"/sign-up/email", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("direct sign-up: %s", resp.Status)
	}
	u, err := currentUser(t, env, map[string][]string{"Cookie": {cookieHeader(resp.Header.Values("Set-Cookie"))}})
	if err != nil || u == nil || u.Email != email || u.Name != "Direct" {
		t.Fatalf("current user = %+v, %v", u, err)
	}
	u, err = currentUser(t, env, map[string][]string{"Authorization": {"Bearer " + resp.Header.Get("Set-Auth-Token")}})
	if err != nil || u == nil || u.Email != email {
		t.Fatalf("current user (bearer) = %+v, %v", u, err)
	}
}

func TestPasswordReset(t *testing.T) {
	srv := betterauth.Start(t)
	env := newEnv(t, srv, nil)
	email := uniqueEmail(t)
	signUp(t, env, email, "Reset")

	if err := env.Invoke(abi.ExportCredentialsPasswordResetReq, abi.PasswordResetRequest{Email: email}, nil); err != nil {
		t.Fatalf("reset request: %v", err)
	}
	if err := env.Invoke(abi.ExportCredentialsPasswordResetReq, abi.PasswordResetRequest{Email: "nobody-" + email}, nil); err != nil {
		t.Fatalf("reset request (unknown email): %v", err)
	}
	token, err := srv.ResetToken(t.Context(), email)
	if err != nil {
		t.Fatal(err)
	}
	err = env.Invoke(abi.ExportCredentialsPasswordResetApply, abi.PasswordResetApply{Token: "bogus", NewPassword: "new-password-123"}, nil)
	wantCode(t, "bad token", err, abi.CodeInvalidCredentials)
	err = env.Invoke(abi.ExportCredentialsPasswordResetApply, abi.PasswordResetApply{Token: token, NewPassword: "short"}, nil)
	wantCode(t, "weak password", err, abi.CodeInvalidRequest)
	if err := env.Invoke(abi.ExportCredentialsPasswordResetApply, abi.PasswordResetApply{Token: token, NewPassword: "new-password-123"}, nil); err != nil {
		t.Fatalf("reset: %v", err)
	}
	if _, err := signIn(env, email, "new-password-123"); err != nil {
		t.Fatalf("sign-in with new password: %v", err)
	}
	_, err = signIn(env, email, password)
	wantCode(t, "old password", err, abi.CodeInvalidCredentials)
}

// countingTransport counts requests whose path ends in suffix.
type countingTransport struct {
	next   http.RoundTripper
	suffix string
	n      atomic.Int32
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, c.suffix) {
		c.n.Add(1)
	}
	return c.next.RoundTrip(r)
}

type downTransport struct{}

func (downTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("connection refused")
}

func TestJWT(t *testing.T) {
	srv := betterauth.Start(t)
	env := newEnv(t, srv, map[string]any{"jwt": map[string]any{"enabled": true}})
	email := uniqueEmail(t)
	up := signUp(t, env, email, "Jay")

	// A JWT from Better Auth's /token endpoint.
	req, _ := http.NewRequest(http.MethodGet, srv.AuthURL()+"/token", nil)
	req.Header.Set("Authorization", "Bearer "+up.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct{ Token string }
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok.Token == "" {
		t.Fatalf("/token: %v %q", err, tok.Token)
	}

	ct := &countingTransport{next: http.DefaultTransport, suffix: "/jwks"}
	env.SetTransport(ct)

	s, err := validate(t, env, tok.Token)
	if err != nil || s == nil || s.UserID != up.User.ID || s.Metadata["email"] != email || s.Metadata["tokenType"] != "jwt" {
		t.Fatalf("validate jwt = %+v, %v", s, err)
	}
	if _, ok := env.KV()[jwksKVKey]; !ok {
		t.Fatal("jwks not cached in KV")
	}
	// Verification is local: it works with Better Auth unreachable.
	env.SetTransport(downTransport{})
	u, err := currentUser(t, env, map[string][]string{"Authorization": {"Bearer " + tok.Token}})
	if err != nil || u == nil || u.ID != up.User.ID || u.Name != "Jay" {
		t.Fatalf("current user (jwt, offline) = %+v, %v", u, err)
	}
	env.SetTransport(ct)
	if n := ct.n.Load(); n != 1 {
		t.Fatalf("jwks fetched %d times, want 1", n)
	}

	// Tampered payload: signature no longer matches.
	parts := strings.Split(tok.Token, ".")
	var cl map[string]any
	if payload, err := base64.RawURLEncoding.DecodeString(parts[1]); err != nil {
		t.Fatal(err)
	} else if err := json.Unmarshal(payload, &cl); err != nil {
		t.Fatal(err)
	}
	cl["sub"] = "someone-else"
	raw, _ := json.Marshal(cl)
	tampered := parts[0] + "." + b64(raw) + "." + parts[2]
	if s, err := validate(t, env, tampered); err != nil || s != nil {
		t.Fatalf("tampered jwt = %+v, %v", s, err)
	}

	// Expired, and wrong audience, though validly signed.
	expired, err := srv.SignJWT(t.Context(), map[string]any{"sub": up.User.ID, "email": email, "exp": 1000})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := validate(t, env, expired); err != nil || s != nil {
		t.Fatalf("expired jwt = %+v, %v", s, err)
	}
	fresh, err := srv.SignJWT(t.Context(), map[string]any{"sub": up.User.ID, "email": email})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := validate(t, env, fresh); err != nil || s == nil || s.UserID != up.User.ID {
		t.Fatalf("server-signed jwt = %+v, %v", s, err)
	}
	other := newEnv(t, srv, map[string]any{"jwt": map[string]any{"enabled": true, "audience": "https://elsewhere.example"}})
	if s, err := validate(t, other, fresh); err != nil || s != nil {
		t.Fatalf("wrong-audience jwt = %+v, %v", s, err)
	}

	// Without jwt enabled, a JWT is not a session.
	plain := newEnv(t, srv, nil)
	if s, err := validate(t, plain, tok.Token); err != nil || s != nil {
		t.Fatalf("jwt with verification off = %+v, %v", s, err)
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// TestServerDown: with Better Auth stopped every call answers unavailable
// (an error envelope, never a crash); after a restart sessions still work.
func TestServerDown(t *testing.T) {
	srv := betterauth.Start(t)
	env := newEnv(t, srv, nil)
	email := uniqueEmail(t)
	up := signUp(t, env, email, "Down")

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.EnsureRunning(); err != nil {
			t.Errorf("restart: %v", err)
		}
	})
	_, err := signIn(env, email, password)
	wantCode(t, "sign-in (down)", err, abi.CodeUnavailable)
	err = env.Invoke(abi.ExportCredentialsSignUp, abi.SignUpRequest{Email: "x-" + email, Password: password}, nil)
	wantCode(t, "sign-up (down)", err, abi.CodeUnavailable)
	_, err = currentUser(t, env, map[string][]string{"Authorization": {"Bearer " + up.Token}})
	wantCode(t, "current user (down)", err, abi.CodeUnavailable)
	_, err = validate(t, env, up.Token)
	wantCode(t, "validate (down)", err, abi.CodeUnavailable)
	wantCode(t, "destroy (down)", env.Invoke(abi.ExportSessionDestroy, abi.SessionIDRequest{SessionID: up.Token}, nil), abi.CodeUnavailable)
	wantCode(t, "list (down)", env.Invoke(abi.ExportSessionList, abi.SessionListRequest{UserID: up.User.ID}, nil), abi.CodeUnavailable)

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if s, err := validate(t, env, up.Token); err != nil || s == nil {
		t.Fatalf("validate after restart = %+v, %v", s, err)
	}
}

// TestListAfterLatestSessionEnds: the user's other sessions are still
// listed after the session the plugin saw last is signed out (Better Auth
// lists sessions only for a signed-in caller, so the plugin keeps several
// of the user's tokens to ask with).
func TestListAfterLatestSessionEnds(t *testing.T) {
	srv := betterauth.Start(t)
	env := newEnv(t, srv, nil)
	email := uniqueEmail(t)
	up := signUp(t, env, email, "Lister")
	in, err := signIn(env, email, password)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Invoke(abi.ExportSessionDestroy, abi.SessionIDRequest{SessionID: in.Token}, nil); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	var list abi.SessionListResult
	if err := env.Invoke(abi.ExportSessionList, abi.SessionListRequest{UserID: up.User.ID}, &list); err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(list.Sessions) != 1 {
		t.Fatalf("list = %+v, want the sign-up session only", list.Sessions)
	}
	if v, err := validate(t, env, list.Sessions[0].ID); err != nil || v == nil {
		t.Fatalf("listed session = %+v, %v", v, err)
	}
	// With every session gone the list is empty.
	if err := env.Invoke(abi.ExportSessionDestroy, abi.SessionIDRequest{SessionID: up.Token}, nil); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	if err := env.Invoke(abi.ExportSessionList, abi.SessionListRequest{UserID: up.User.ID}, &list); err != nil || len(list.Sessions) != 0 {
		t.Fatalf("list after signing out everywhere = %+v, %v", list.Sessions, err)
	}
}
