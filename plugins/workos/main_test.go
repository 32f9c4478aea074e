package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/internal/testenv/workos"
	"github.com/authhost/authhost/pdk/pdktest"
	"github.com/workos/workos-go/v4/pkg/usermanagement"
)

const (
	testOrg    = "org_01TEST"
	testSecret = "whsec_test"
	redirect   = "http://localhost:8080/api/auth/sso/callback"
)

type fixture struct {
	emu  *workos.Emulator
	env  *pdktest.Env
	user workos.User
	cfg  map[string]any
}

func setup(t *testing.T, extra map[string]any) *fixture {
	t.Helper()
	emu := workos.Start(t)
	u := emu.AddUser(workos.User{FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com", EmailVerified: true})
	emu.AddMembership(u.ID, testOrg, "admin")
	emu.AddRole(testOrg, workos.Role{Name: "Admin", Slug: "admin", Permissions: []string{"posts:write"}})
	emu.AddRole(testOrg, workos.Role{Name: "Member", Slug: "member"})
	cfg := map[string]any{
		"api_key": emu.APIKey, "client_id": emu.ClientID, "endpoint": emu.URL,
		"organization_id": testOrg, "webhook_secret": testSecret,
		"role_mapping":       map[string][]string{"admin": {"*"}, "member": {"agents:read"}, "_default": {"studio:read"}},
		"group_roles":        map[string]string{"Engineering": "member"},
		"audit_event_prefix": "authhost",
	}
	for k, v := range extra {
		cfg[k] = v
	}
	env := pdktest.New(t, pdktest.WithConfig(cfg), pdktest.WithTransport(emu.Client().Transport))
	return &fixture{emu: emu, env: env, user: u, cfg: cfg}
}

// pkce returns a verifier and its S256 challenge.
func pkce() (string, string) {
	v := "verifier-" + strings.Repeat("x", 40)
	sum := sha256.Sum256([]byte(v))
	return v, base64.RawURLEncoding.EncodeToString(sum[:])
}

// login runs the browser part of the flow: authorization URL, hosted login
// form, redirect with code. It returns the code.
func (f *fixture) login(t *testing.T, state, challenge, email string) string {
	t.Helper()
	var lu abi.URLResult
	if err := f.env.Invoke(abi.ExportSSOLoginURL, abi.SSOLoginURLRequest{
		RedirectURI: redirect, State: state, CodeChallenge: challenge, CodeChallengeMethod: "S256",
	}, &lu); err != nil {
		t.Fatalf("sso_login_url: %v", err)
	}
	u, err := url.Parse(lu.URL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Get("provider") != "authkit" || q.Get("code_challenge") != challenge || q.Get("state") != state || q.Get("code_challenge_method") != "S256" {
		t.Fatalf("authorization url %s lacks authkit/PKCE/state", lu.URL)
	}
	return browserLogin(t, f, lu.URL, email)
}

// browserLogin plays the browser: it opens the authorization URL (the
// hosted login page), posts the form and returns the code of the redirect
// to the callback, after checking the state came back unchanged.
func browserLogin(t *testing.T, f *fixture, authURL, email string) string {
	t.Helper()
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	state := q.Get("state")
	hc := f.emu.Client()
	res, err := hc.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(page), `action="/user_management/authorize/login"`) {
		t.Fatalf("login page: %d %s", res.StatusCode, page)
	}
	form := url.Values{"email": {email}}
	for k, v := range q {
		form[k] = v
	}
	res, err = hc.PostForm(f.emu.URL+"/user_management/authorize/login", form)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		t.Fatalf("login POST: status %d", res.StatusCode)
	}
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirect || loc.Query().Get("state") != state {
		t.Fatalf("redirect %s", loc)
	}
	return loc.Query().Get("code")
}

// signIn runs the whole SSO flow and returns the callback result.
func (f *fixture) signIn(t *testing.T) abi.SSOCallbackResult {
	t.Helper()
	verifier, challenge := pkce()
	code := f.login(t, "st-1", challenge, f.user.Email)
	var cb abi.SSOCallbackResult
	if err := f.env.Invoke(abi.ExportSSOCallback, abi.SSOCallbackRequest{
		Code: code, State: "st-1", CodeVerifier: verifier, RedirectURI: redirect,
		Request: abi.Request{RemoteAddr: "203.0.113.7:5555", Headers: map[string][]string{"User-Agent": {"test"}}},
	}, &cb); err != nil {
		t.Fatalf("sso_callback: %v", err)
	}
	return cb
}

func cookieReq(cb abi.SSOCallbackResult) abi.Request {
	return abi.Request{Headers: map[string][]string{"Cookie": {strings.SplitN(cb.SetCookie[0], ";", 2)[0]}}}
}

func sessionID(cb abi.SSOCallbackResult) string {
	kv := strings.SplitN(strings.SplitN(cb.SetCookie[0], ";", 2)[0], "=", 2)
	return kv[1]
}

func TestDescribe(t *testing.T) {
	f := setup(t, nil)
	d := f.env.Describe()
	if d.Name != "workos" || !d.ManagesSessions || len(d.Capabilities) != 6 {
		t.Fatalf("describe: %+v", d)
	}
}

func TestSSOFlow(t *testing.T) {
	f := setup(t, nil)
	cb := f.signIn(t)
	if cb.User.ID != f.user.ID || cb.User.Email != "ada@example.com" || cb.User.Name != "Ada Lovelace" {
		t.Fatalf("user %+v", cb.User)
	}
	if cb.User.Metadata["workos_role"] != "admin" || cb.User.Metadata["organization_id"] != testOrg {
		t.Fatalf("metadata %+v", cb.User.Metadata)
	}
	if cb.Tokens.AccessToken == "" || cb.Tokens.RefreshToken == "" || cb.Tokens.ExpiresAt.Before(time.Now()) {
		t.Fatalf("tokens %+v", cb.Tokens)
	}
	if len(cb.SetCookie) != 1 || !strings.HasPrefix(cb.SetCookie[0], "wos_session=") || !strings.Contains(cb.SetCookie[0], "HttpOnly") {
		t.Fatalf("set_cookie %v", cb.SetCookie)
	}

	// The code is single use.
	verifier, _ := pkce()
	err := f.env.Invoke(abi.ExportSSOCallback, abi.SSOCallbackRequest{Code: "01BOGUS", CodeVerifier: verifier}, nil)
	if abi.CodeOf(err) != abi.CodeInvalidCredentials {
		t.Fatalf("bogus code: %v", err)
	}

	var cur abi.UserResult
	if err := f.env.Invoke(abi.ExportUserCurrent, abi.UserCurrentRequest{Request: cookieReq(cb)}, &cur); err != nil || cur.User == nil || cur.User.ID != f.user.ID {
		t.Fatalf("user_current by cookie: %+v %v", cur.User, err)
	}
	var sid abi.SessionIDResult
	if err := f.env.Invoke(abi.ExportSessionIDFromRequest, abi.SessionIDFromRequestRequest{Request: cookieReq(cb)}, &sid); err != nil || sid.SessionID != sessionID(cb) {
		t.Fatalf("session_id_from_request: %q %v", sid.SessionID, err)
	}
	var sv abi.SessionResult
	if err := f.env.Invoke(abi.ExportSessionValidate, abi.SessionIDRequest{SessionID: sid.SessionID}, &sv); err != nil || sv.Session == nil || sv.Session.UserID != f.user.ID {
		t.Fatalf("session_validate: %+v %v", sv.Session, err)
	}

	// Logout URL carries the WorkOS sid; destroy revokes it.
	var lo abi.URLResult
	if err := f.env.Invoke(abi.ExportSSOLogoutURL, abi.SSOLogoutURLRequest{RedirectURI: "http://localhost:8080/", Request: cookieReq(cb)}, &lo); err != nil {
		t.Fatal(err)
	}
	lu, _ := url.Parse(lo.URL)
	wsid := lu.Query().Get("session_id")
	if lu.Path != "/user_management/sessions/logout" || !strings.HasPrefix(wsid, "session_") || lu.Query().Get("return_to") != "http://localhost:8080/" {
		t.Fatalf("logout url %s", lo.URL)
	}
	if err := f.env.Invoke(abi.ExportSessionDestroy, abi.SessionIDRequest{SessionID: sid.SessionID}, nil); err != nil {
		t.Fatal(err)
	}
	if !f.emu.SessionEnded(wsid) {
		t.Fatal("WorkOS session not revoked")
	}
	if err := f.env.Invoke(abi.ExportSessionValidate, abi.SessionIDRequest{SessionID: sid.SessionID}, &sv); err != nil || sv.Session != nil {
		t.Fatalf("destroyed session still valid: %+v %v", sv.Session, err)
	}
}

func TestPKCEMismatch(t *testing.T) {
	f := setup(t, nil)
	_, challenge := pkce()
	code := f.login(t, "s", challenge, f.user.Email)
	err := f.env.Invoke(abi.ExportSSOCallback, abi.SSOCallbackRequest{Code: code, CodeVerifier: "wrong-verifier"}, nil)
	if abi.CodeOf(err) != abi.CodeInvalidCredentials {
		t.Fatalf("wrong verifier: %v", err)
	}
}

func TestTokenVerificationAndRefresh(t *testing.T) {
	f := setup(t, nil)
	cb := f.signIn(t)
	bearer := func(tok string) abi.Request {
		return abi.Request{Headers: map[string][]string{"Authorization": {"Bearer " + tok}}}
	}
	var cur abi.UserResult
	if err := f.env.Invoke(abi.ExportUserCurrent, abi.UserCurrentRequest{Request: bearer(cb.Tokens.AccessToken)}, &cur); err != nil || cur.User == nil || cur.User.Metadata["workos_role"] != "admin" {
		t.Fatalf("bearer user: %+v %v", cur.User, err)
	}
	// Expired, wrong-issuer and tampered tokens identify nobody.
	now := time.Now()
	expired, _ := f.emu.SignJWT(map[string]any{"iss": f.emu.Issuer(), "sub": f.user.ID, "exp": now.Add(-time.Hour).Unix(), "iat": now.Add(-2 * time.Hour).Unix()})
	wrongIss, _ := f.emu.SignJWT(map[string]any{"iss": "https://evil.example", "sub": f.user.ID, "exp": now.Add(time.Hour).Unix()})
	tampered := cb.Tokens.AccessToken[:len(cb.Tokens.AccessToken)-4] + "AAAA"
	for name, tok := range map[string]string{"expired": expired, "issuer": wrongIss, "tampered": tampered, "garbage": "x.y"} {
		cur = abi.UserResult{}
		if err := f.env.Invoke(abi.ExportUserCurrent, abi.UserCurrentRequest{Request: bearer(tok)}, &cur); err != nil || cur.User != nil {
			t.Fatalf("%s token: %+v %v", name, cur.User, err)
		}
	}

	// A validated session is vouched for the provider default (the
	// emulator's access tokens live minutes).
	id := sessionID(cb)
	var sr abi.SessionResult
	if err := f.env.Invoke(abi.ExportSessionValidate, abi.SessionIDRequest{SessionID: id}, &sr); err != nil || sr.Session == nil || sr.Session.CacheSeconds != maxCacheSeconds {
		t.Fatalf("session_validate: %+v %v, want cache_seconds %d", sr.Session, err, maxCacheSeconds)
	}

	// Refresh rotates the single-use refresh token.
	if err := f.env.Invoke(abi.ExportSessionRefresh, abi.SessionIDRequest{SessionID: id}, &sr); err != nil || sr.Session == nil {
		t.Fatalf("session_refresh: %+v %v", sr.Session, err)
	}
	um := usermanagement.NewClient(f.emu.APIKey)
	um.Endpoint = f.emu.URL
	_, err := um.AuthenticateWithRefreshToken(context.Background(), usermanagement.AuthenticateWithRefreshTokenOpts{
		ClientID: f.emu.ClientID, RefreshToken: cb.Tokens.RefreshToken,
	})
	if err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("replayed refresh token accepted: %v", err)
	}
	if abi.CodeOf(classify("x", err)) != abi.CodeInvalidCredentials {
		t.Fatalf("replay classified as %v", classify("x", err))
	}
	// The session keeps working with the rotated token, and refreshes again.
	if err := f.env.Invoke(abi.ExportSessionRefresh, abi.SessionIDRequest{SessionID: id}, &sr); err != nil || sr.Session == nil {
		t.Fatalf("second refresh: %+v %v", sr.Session, err)
	}
}

func TestIssuerConfigurable(t *testing.T) {
	f := setup(t, map[string]any{"issuer": "https://api.workos.com"})
	f.emu.SetIssuer("https://api.workos.com")
	cb := f.signIn(t)
	if cb.Tokens.AccessToken == "" {
		t.Fatal("no token")
	}
	f.emu.SetIssuer(f.emu.URL)
	verifier, challenge := pkce()
	code := f.login(t, "s", challenge, f.user.Email)
	err := f.env.Invoke(abi.ExportSSOCallback, abi.SSOCallbackRequest{Code: code, CodeVerifier: verifier}, nil)
	if abi.CodeOf(err) != abi.CodeUnauthenticated {
		t.Fatalf("token with unexpected issuer accepted: %v", err)
	}
}

func TestRolesFromMembership(t *testing.T) {
	f := setup(t, map[string]any{"roles_from": "memberships"})
	other := f.emu.AddUser(workos.User{Email: "bob@example.com"})
	f.emu.AddMembership(other.ID, testOrg, "member")
	f.emu.AddMembership(other.ID, "org_other", "admin")

	user := abi.User{ID: other.ID, Metadata: map[string]any{"workos_role": "admin"}}
	var roles abi.RolesResult
	if err := f.env.Invoke(abi.ExportRBACRoles, abi.UserRequest{User: user}, &roles); err != nil || len(roles.Roles) != 1 || roles.Roles[0] != "member" {
		t.Fatalf("roles: %v %v", roles.Roles, err)
	}
	var perms abi.PermissionsResult
	if err := f.env.Invoke(abi.ExportRBACPermissions, abi.UserRequest{User: user}, &perms); err != nil || len(perms.Permissions) != 1 || perms.Permissions[0] != "agents:read" {
		t.Fatalf("permissions: %v %v", perms.Permissions, err)
	}
	// No membership: _default.
	nobody := f.emu.AddUser(workos.User{Email: "eve@example.com"})
	if err := f.env.Invoke(abi.ExportRBACPermissions, abi.UserRequest{User: abi.User{ID: nobody.ID}}, &perms); err != nil || len(perms.Permissions) != 1 || perms.Permissions[0] != "studio:read" {
		t.Fatalf("default permissions: %v %v", perms.Permissions, err)
	}
	var defs abi.RoleDefinitionsResult
	if err := f.env.Invoke(abi.ExportRBACRoleDefinitions, nil, &defs); err != nil || len(defs.Roles) != 2 || defs.Roles[0].ID != "admin" || defs.Roles[0].Permissions[0] != "*" {
		t.Fatalf("role definitions: %+v %v", defs.Roles, err)
	}
}

func TestRolesFromToken(t *testing.T) {
	f := setup(t, nil)
	cb := f.signIn(t)
	var perms abi.PermissionsResult
	if err := f.env.Invoke(abi.ExportRBACPermissions, abi.UserRequest{User: cb.User}, &perms); err != nil || len(perms.Permissions) != 1 || perms.Permissions[0] != "*" {
		t.Fatalf("permissions: %v %v", perms.Permissions, err)
	}
}

func TestMembershipPagination(t *testing.T) {
	emu := workos.Start(t)
	u := emu.AddUser(workos.User{Email: "p@example.com"})
	var ids []string
	for i := range 5 {
		ids = append(ids, emu.AddMembership(u.ID, "org_"+string(rune('a'+i)), "member").ID)
	}
	um := usermanagement.NewClient(emu.APIKey)
	um.Endpoint = emu.URL
	ctx := context.Background()
	var got []string
	opts := usermanagement.ListOrganizationMembershipsOpts{UserID: u.ID, Limit: 2}
	for range 5 {
		res, err := um.ListOrganizationMemberships(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range res.Data {
			got = append(got, m.ID)
		}
		if res.ListMetadata.After == "" {
			break
		}
		opts.After = res.ListMetadata.After
	}
	if len(got) != 5 || got[0] != ids[4] || got[4] != ids[0] {
		t.Fatalf("desc pages: %v (created %v)", got, ids)
	}
	res, err := um.ListOrganizationMemberships(ctx, usermanagement.ListOrganizationMembershipsOpts{UserID: u.ID, Limit: 2, Order: usermanagement.Asc, Before: ids[3]})
	if err != nil || len(res.Data) != 2 || res.Data[0].ID != ids[1] || res.ListMetadata.Before != ids[1] {
		t.Fatalf("before page: %+v %v", res, err)
	}
	bad := usermanagement.NewClient("sk_wrong")
	bad.Endpoint = emu.URL
	if _, err := bad.GetUser(ctx, usermanagement.GetUserOpts{User: u.ID}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong key: %v", err)
	}
}

func TestErrorMapping(t *testing.T) {
	f := setup(t, nil)
	cases := []struct {
		status int
		code   abi.Code
	}{
		{401, abi.CodeUnavailable},
		{429, abi.CodeRateLimited},
		{500, abi.CodeUnavailable},
		{503, abi.CodeUnavailable},
	}
	for _, c := range cases {
		f.emu.FailNext("/user_management/users/", c.status, 1)
		err := f.env.Invoke(abi.ExportUserGet, abi.UserGetRequest{ID: f.user.ID}, nil)
		if abi.CodeOf(err) != c.code {
			t.Fatalf("HTTP %d: got %v, want %s", c.status, err, c.code)
		}
	}
	// 404 on user_get is a null user; on other calls not_found.
	var ur abi.UserResult
	if err := f.env.Invoke(abi.ExportUserGet, abi.UserGetRequest{ID: "user_missing"}, &ur); err != nil || ur.User != nil {
		t.Fatalf("missing user: %+v %v", ur.User, err)
	}
	f.emu.FailNext("/organizations/", 404, 1)
	if err := f.env.Invoke(abi.ExportRBACRoleDefinitions, nil, nil); abi.CodeOf(err) != abi.CodeNotFound {
		t.Fatalf("roles 404: %v", err)
	}

	// A wrong API key is a clear configuration error.
	cfg := map[string]any{}
	for k, v := range f.cfg {
		cfg[k] = v
	}
	cfg["api_key"] = "sk_wrong"
	f.env.SetConfig(cfg)
	err := f.env.Invoke(abi.ExportUserGet, abi.UserGetRequest{ID: f.user.ID}, nil)
	if abi.CodeOf(err) != abi.CodeUnavailable || !strings.Contains(err.Error(), "api_key") {
		t.Fatalf("wrong key: %v", err)
	}

	// Transport failure.
	f.env.SetConfig(f.cfg)
	f.emu.Close()
	if err := f.env.Invoke(abi.ExportUserGet, abi.UserGetRequest{ID: f.user.ID}, nil); abi.CodeOf(err) != abi.CodeUnavailable {
		t.Fatalf("emulator down: %v", err)
	}
}

func TestAuditExport(t *testing.T) {
	f := setup(t, nil)
	ev := abi.AuditEvent{
		ID: "evt_1", Timestamp: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), Action: "auth.login",
		Actor:    abi.AuditActor{Type: "user", ID: f.user.ID, Email: "ada@example.com", IP: "203.0.113.7", UserAgent: "ua"},
		Resource: &abi.AuditResource{Type: "session", ID: "s1"}, Outcome: "success",
		Metadata: map[string]any{"provider": "workos", "nested": map[string]any{"a": 1}},
	}
	for range 2 { // same event twice: the idempotency key dedupes it
		if err := f.env.Invoke(abi.ExportAuditLog, abi.AuditLogRequest{Event: ev}, nil); err != nil {
			t.Fatal(err)
		}
	}
	got := f.emu.AuditEvents()
	if len(got) != 1 {
		t.Fatalf("%d events recorded", len(got))
	}
	e := got[0]
	if e.OrganizationID != testOrg || e.IdempotencyKey != "authhost-evt_1" {
		t.Fatalf("event %+v", e)
	}
	var shape struct {
		Event struct {
			Action     string `json:"action"`
			OccurredAt string `json:"occurred_at"`
			Actor      struct {
				ID, Name, Type string
			} `json:"actor"`
			Targets []struct{ ID, Type string } `json:"targets"`
			Context struct {
				Location  string `json:"location"`
				UserAgent string `json:"user_agent"`
			} `json:"context"`
			Metadata map[string]any `json:"metadata"`
		} `json:"event"`
	}
	if err := json.Unmarshal(e.Raw, &shape); err != nil {
		t.Fatal(err)
	}
	s := shape.Event
	if s.Action != "authhost.auth.login" || s.OccurredAt != "2026-03-01T12:00:00Z" || s.Actor.ID != f.user.ID || s.Actor.Type != "user" ||
		len(s.Targets) != 1 || s.Targets[0].Type != "session" || s.Context.Location != "203.0.113.7" || s.Metadata["outcome"] != "success" || s.Metadata["nested"] != `{"a":1}` {
		t.Fatalf("shape %s", e.Raw)
	}
}

func TestWebhook(t *testing.T) {
	f := setup(t, nil)
	body := workos.WebhookEvent("dsync.group.user_added", map[string]any{
		"directory_id": "directory_1",
		"user":         map[string]any{"id": "directory_user_1", "directory_id": "directory_1", "state": "active", "groups": []any{}},
		"group":        map[string]any{"id": "directory_group_1", "name": "Engineering"},
	})
	call := func(sig string, b []byte) (*abi.WebhookResult, error) {
		var res abi.WebhookResult
		err := f.env.Invoke(abi.ExportWebhookHandle, abi.WebhookRequest{Headers: map[string][]string{"Workos-Signature": {sig}}, Body: b}, &res)
		return &res, err
	}
	res, err := call(workos.WebhookSignature(testSecret, body, time.Now()), body)
	if err != nil || len(res.RoleChanges) != 1 || res.RoleChanges[0].UserID != "directory_user_1" || res.RoleChanges[0].Roles[0] != "member" {
		t.Fatalf("good signature: %+v %v", res, err)
	}
	if _, err := call(workos.WebhookSignature("whsec_forged", body, time.Now()), body); abi.CodeOf(err) != abi.CodeUnauthenticated {
		t.Fatalf("forged signature: %v", err)
	}
	if _, err := call(workos.WebhookSignature(testSecret, body, time.Now().Add(-time.Hour)), body); abi.CodeOf(err) != abi.CodeUnauthenticated {
		t.Fatalf("stale signature: %v", err)
	}
	del := workos.WebhookEvent("dsync.user.deleted", map[string]any{"id": "directory_user_1", "directory_id": "directory_1", "state": "inactive"})
	res, err = call(workos.WebhookSignature(testSecret, del, time.Now()), del)
	if err != nil || len(res.UserDeletes) != 1 || res.UserDeletes[0] != "directory_user_1" {
		t.Fatalf("user deleted: %+v %v", res, err)
	}
}

func TestSSOSelection(t *testing.T) {
	_, challenge := pkce()
	for _, c := range []struct {
		sso        map[string]any
		key, value string
	}{
		{map[string]any{"connection": "conn_1", "provider": "GoogleOAuth", "organization": "org_1"}, "connection_id", "conn_1"},
		{map[string]any{"provider": "GoogleOAuth", "organization": "org_1"}, "provider", "GoogleOAuth"},
		{map[string]any{"organization": "org_1"}, "organization_id", "org_1"},
		{map[string]any{"screen_hint": "sign-up"}, "screen_hint", "sign-up"},
	} {
		f := setup(t, map[string]any{"sso": c.sso})
		var lu abi.URLResult
		if err := f.env.Invoke(abi.ExportSSOLoginURL, abi.SSOLoginURLRequest{RedirectURI: redirect, State: "s", CodeChallenge: challenge, CodeChallengeMethod: "S256"}, &lu); err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(lu.URL)
		q := u.Query()
		set := 0
		for _, k := range []string{"connection_id", "provider", "organization_id"} {
			if q.Get(k) != "" {
				set++
			}
		}
		if q.Get(c.key) != c.value || set != 1 || u.Path != "/user_management/authorize" || q.Get("client_id") != f.emu.ClientID {
			t.Fatalf("sso %v: %s", c.sso, lu.URL)
		}
	}
}

func TestSessionSnapshotAndList(t *testing.T) {
	f := setup(t, nil)
	first, second := f.signIn(t), f.signIn(t)
	if len(first.User.Roles) != 1 || first.User.Roles[0] != "admin" {
		t.Fatalf("callback user roles %v", first.User.Roles)
	}
	var sv abi.SessionResult
	if err := f.env.Invoke(abi.ExportSessionValidate, abi.SessionIDRequest{SessionID: sessionID(first)}, &sv); err != nil || sv.Session == nil {
		t.Fatalf("session_validate: %+v %v", sv.Session, err)
	}
	md := sv.Session.Metadata
	roles, _ := md["roles"].([]any)
	if md["email"] != "ada@example.com" || md["name"] != "Ada Lovelace" || md["source"] != "sso" || len(roles) != 1 || roles[0] != "admin" {
		t.Fatalf("session metadata lacks the user snapshot: %v", md)
	}
	list := func() []abi.Session {
		t.Helper()
		var res abi.SessionListResult
		if err := f.env.Invoke(abi.ExportSessionList, abi.SessionListRequest{UserID: f.user.ID}, &res); err != nil {
			t.Fatalf("session_list: %v", err)
		}
		return res.Sessions
	}
	if got := list(); len(got) != 2 {
		t.Fatalf("session_list = %d sessions, want 2", len(got))
	}
	if err := f.env.Invoke(abi.ExportSessionDestroy, abi.SessionIDRequest{SessionID: sessionID(first)}, nil); err != nil {
		t.Fatal(err)
	}
	if got := list(); len(got) != 1 || got[0].ID != sessionID(second) {
		t.Fatalf("session_list after destroy = %+v", got)
	}
	var other abi.SessionListResult
	if err := f.env.Invoke(abi.ExportSessionList, abi.SessionListRequest{UserID: "user_other"}, &other); err != nil || len(other.Sessions) != 0 {
		t.Fatalf("session_list of another user = %+v %v", other.Sessions, err)
	}
}

func TestWebhookResolvesAuthKitUser(t *testing.T) {
	f := setup(t, nil)
	body := workos.WebhookEvent("dsync.user.updated", map[string]any{
		"id": "directory_user_2", "directory_id": "directory_1", "state": "active",
		"emails": []any{map[string]any{"primary": false, "value": "old@example.com"}, map[string]any{"primary": true, "value": "ADA@example.com"}},
		"role":   map[string]any{"slug": "member"},
	})
	var res abi.WebhookResult
	err := f.env.Invoke(abi.ExportWebhookHandle, abi.WebhookRequest{
		Headers: map[string][]string{"Workos-Signature": {workos.WebhookSignature(testSecret, body, time.Now())}}, Body: body}, &res)
	if err != nil || len(res.RoleChanges) != 1 || res.RoleChanges[0].UserID != f.user.ID || res.RoleChanges[0].Roles[0] != "member" {
		t.Fatalf("role change for the AuthKit user: %+v %v", res, err)
	}
	// A failed lookup is an error, so WorkOS retries the delivery.
	f.emu.FailNext("/user_management/users", 500, 1)
	err = f.env.Invoke(abi.ExportWebhookHandle, abi.WebhookRequest{
		Headers: map[string][]string{"Workos-Signature": {workos.WebhookSignature(testSecret, body, time.Now())}}, Body: body}, &res)
	if abi.CodeOf(err) != abi.CodeUnavailable {
		t.Fatalf("lookup failure: %v", err)
	}
}

func TestUnknownKeyIDFetchesJWKSRarely(t *testing.T) {
	f := setup(t, nil)
	cb := f.signIn(t)
	parts := strings.Split(cb.Tokens.AccessToken, ".")
	forged := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT","kid":"made-up"}`)) + "." + parts[1] + "." + parts[2]
	count := func() int {
		n := 0
		for _, r := range f.emu.Requests() {
			if strings.HasPrefix(r, "GET /sso/jwks/") {
				n++
			}
		}
		return n
	}
	before := count()
	for range 5 {
		var cur abi.UserResult
		err := f.env.Invoke(abi.ExportUserCurrent, abi.UserCurrentRequest{Request: abi.Request{Headers: map[string][]string{"Authorization": {"Bearer " + forged}}}}, &cur)
		if err != nil || cur.User != nil {
			t.Fatalf("token with an unknown kid: %+v %v", cur.User, err)
		}
	}
	if n := count() - before; n > 1 {
		t.Fatalf("%d JWKS fetches for 5 tokens with an unknown kid, want at most 1", n)
	}
}

// TestCacheSeconds checks how long the plugin vouches for a session: the
// provider default, cut short so that the host asks again once the access
// token is expired for verifyToken (exp plus the clock skew) and the
// plugin rotates it.
func TestCacheSeconds(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		exp  time.Time
		want int
	}{
		{"no exp", time.Time{}, maxCacheSeconds},
		{"fresh token", t0.Add(5 * time.Minute), maxCacheSeconds},
		{"expires within the default", t0.Add(10 * time.Second), 10 + int(clockSkew/time.Second)},
		{"inside the skew", t0.Add(-clockSkew + 5*time.Second), 5},
		{"expired", t0.Add(-clockSkew), 0},
		{"long expired", t0.Add(-time.Hour), 0},
	} {
		if got := cacheSeconds(t0, tc.exp); got != tc.want {
			t.Errorf("%s: cacheSeconds = %d, want %d", tc.name, got, tc.want)
		}
	}
}
