// Package workos holds authhost's end-to-end tests of the WorkOS provider:
// the real server (internal/app, through authhostenv) runs the compiled
// plugins/workos Wasm provider against the WorkOS emulator
// (internal/testenv/workos), and every test drives authhost's HTTP API the
// way a browser or an operator would. One emulator serves the whole
// package; each test seeds its own users, so tests run in parallel except
// those that inject WorkOS failures (FailNext is emulator-wide).
package workos

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authhost/authhost/internal/testenv/authhostenv"
	"github.com/authhost/authhost/internal/testenv/jwtpeek"
	"github.com/authhost/authhost/internal/testenv/workos"
)

// Organizations and secrets seeded once for the package.
const (
	orgID         = "org_01E2EMAIN"
	otherOrgID    = "org_01E2EOTHER"
	webhookSecret = "whsec_e2e_secret"
	directoryID   = "directory_01E2E"
)

// emu is the package's WorkOS emulator.
var emu *workos.Emulator

func TestMain(m *testing.M) {
	e, err := workos.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, "workos emulator:", err)
		os.Exit(1)
	}
	emu = e
	for _, r := range []workos.Role{
		{Slug: "owner", Name: "Owner", Permissions: []string{"*"}},
		{Slug: "admin", Name: "Admin", Description: "Administers the workspace", Permissions: []string{"posts:write", "users:read"}},
		{Slug: "member", Name: "Member", Permissions: []string{"posts:read"}},
	} {
		emu.AddRole(orgID, r)
	}
	emu.AddRole(otherOrgID, workos.Role{Slug: "admin", Name: "Admin"})
	emu.AddRole(otherOrgID, workos.Role{Slug: "member", Name: "Member"})
	code := m.Run()
	emu.Close()
	os.Exit(code)
}

var userSeq atomic.Int64

// newUser seeds a WorkOS user with a unique email (prefix-N@e2e.example)
// and active memberships given as organization, role pairs (the first is
// the organization a login without one lands in).
func newUser(prefix string, memberships ...string) workos.User {
	n := userSeq.Add(1)
	u := emu.AddUser(workos.User{
		Email:             fmt.Sprintf("%s-%d@e2e.example", prefix, n),
		FirstName:         strings.ToUpper(prefix[:1]) + prefix[1:],
		LastName:          "Tester",
		EmailVerified:     true,
		ProfilePictureURL: fmt.Sprintf("https://avatars.e2e.example/%s-%d.png", prefix, n),
	})
	for i := 0; i+1 < len(memberships); i += 2 {
		emu.AddMembership(u.ID, memberships[i], memberships[i+1])
	}
	return u
}

// options choose a server configuration.
type options struct {
	// rbac is the rbac capability: "workos" (default) or "builtin".
	rbac string
	// plugin overrides keys of the workos plugin's config.
	plugin map[string]any
	// host sets keys of the plugin's entry for the host (beside config),
	// e.g. role_cache_seconds.
	host map[string]any
	// hostRBAC is the host's rbac block (for rbac: builtin).
	hostRBAC map[string]any
	// audit is the audit capability; default [builtin, workos].
	audit []string
	// everyAuditEvent turns the audit flood policy off, for tests that
	// count repeated failures from one client one by one.
	everyAuditEvent bool
}

// roleMapping maps WorkOS role slugs to authhost permissions (rbac: workos).
var roleMapping = map[string][]string{
	"owner":    {"*"},
	"admin":    {"users:read", "agents:*", "audit:read"},
	"member":   {"agents:read", "agents:execute"},
	"_default": {"studio:read"},
}

// start runs authhost with the workos plugin serving user, session, sso,
// rbac (unless builtin) and audit (with the built-in store).
func start(t *testing.T, o options) *authhostenv.Env {
	t.Helper()
	u, err := url.Parse(emu.URL)
	if err != nil {
		t.Fatal(err)
	}
	rbac := o.rbac
	if rbac == "" {
		rbac = "workos"
	}
	pc := map[string]any{
		"api_key":         "${WORKOS_API_KEY}",
		"client_id":       emu.ClientID,
		"endpoint":        emu.URL,
		"organization_id": orgID,
		"webhook_secret":  "${WORKOS_WEBHOOK_SECRET}",
		"directory_id":    directoryID,
		"role_mapping":    roleMapping,
		"group_roles":     map[string]string{"Admins": "admin", "Engineering": "member"},
	}
	for k, v := range o.plugin {
		if v == nil {
			delete(pc, k)
		} else {
			pc[k] = v
		}
	}
	audit := o.audit
	if audit == nil {
		audit = []string{"builtin", "workos"}
	}
	entry := map[string]any{"allowed_hosts": []string{u.Hostname()}, "allow_private_networks": true, "config": pc}
	maps.Copy(entry, o.host)
	cfg := map[string]any{
		"capabilities": map[string]any{
			"user": "workos", "session": "workos", "sso": "workos", "rbac": rbac, "audit": audit,
		},
		"plugins": map[string]any{"workos": entry},
	}
	if o.hostRBAC != nil {
		cfg["rbac"] = o.hostRBAC
	}
	if o.everyAuditEvent {
		cfg["audit"] = map[string]any{"collapse_window": "0s"}
	}
	yaml, err := json.Marshal(cfg) // JSON is YAML
	if err != nil {
		t.Fatal(err)
	}
	return authhostenv.Start(t, authhostenv.Options{
		Plugins: []string{"plugins/workos"},
		Config:  string(yaml),
		Env:     map[string]string{"WORKOS_API_KEY": emu.APIKey, "WORKOS_WEBHOOK_SECRET": webhookSecret},
	})
}

// me is the body of GET /api/auth/me.
type me struct {
	ID          string         `json:"id"`
	Email       string         `json:"email"`
	Name        string         `json:"name"`
	AvatarURL   string         `json:"avatarUrl"`
	Roles       []string       `json:"roles"`
	Permissions []string       `json:"permissions"`
	Metadata    map[string]any `json:"metadata"`
}

// getMe calls GET /api/auth/me and decodes a 200; other statuses are
// returned with a zero me.
func getMe(t *testing.T, c *authhostenv.Client) (int, me) {
	t.Helper()
	r := c.Do(t, "GET", "/api/auth/me", nil)
	var m me
	if r.Status == http.StatusOK {
		r.Decode(t, &m)
	}
	return r.Status, m
}

// browser is a client of the emulator's hosted pages that does not follow
// redirects.
func browser() *http.Client { return emu.Client() }

// authorize starts an SSO login at authhost and returns the authorization
// URL it answered.
func authorize(t *testing.T, c *authhostenv.Client) *url.URL {
	t.Helper()
	r := c.Do(t, "GET", "/api/auth/sso/login", nil)
	var body struct {
		URL string `json:"url"`
	}
	r.Decode(t, &body)
	if r.Status != http.StatusOK || body.URL == "" {
		t.Fatalf("sso login = %d %s", r.Status, r.Body)
	}
	u, err := url.Parse(body.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// hostedLogin plays the browser at the emulator: it opens the hosted login
// page of authURL, submits email and returns the redirect back to authhost
// (the callback URL with code and state).
func hostedLogin(t *testing.T, authURL *url.URL, email string) string {
	t.Helper()
	return hostedLoginAt(t, emu, authURL, email)
}

// hostedLoginAt is hostedLogin at emulator e.
func hostedLoginAt(t *testing.T, e *workos.Emulator, authURL *url.URL, email string) string {
	t.Helper()
	hc := e.Client()
	res, err := hc.Get(authURL.String())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(page), `action="/user_management/authorize/login"`) {
		t.Fatalf("hosted login page = %d %s", res.StatusCode, page)
	}
	form := url.Values{"email": {email}}
	for k, v := range authURL.Query() {
		form[k] = v
	}
	res, err = hc.PostForm(e.URL+"/user_management/authorize/login", form)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		t.Fatalf("hosted login POST = %d", res.StatusCode)
	}
	return res.Header.Get("Location")
}

// login runs the whole SSO flow for email through authhost and returns the
// callback response (a redirect to the app).
func login(t *testing.T, env *authhostenv.Env, c *authhostenv.Client, email string) *authhostenv.Response {
	t.Helper()
	back := hostedLogin(t, authorize(t, c), email)
	if !strings.HasPrefix(back, env.URL+"/api/auth/sso/callback?") {
		t.Fatalf("WorkOS redirected to %s, want authhost's callback", back)
	}
	return c.Do(t, "GET", back, nil)
}

// signedIn logs email in and fails unless the callback set the session
// cookie and went back to the app without an error.
func signedIn(t *testing.T, env *authhostenv.Env, email string) *authhostenv.Client {
	t.Helper()
	c := env.Client()
	r := login(t, env, c, email)
	if r.Status != http.StatusFound || strings.Contains(r.Location(), "error=") || c.Cookie("wos_session") == "" {
		t.Fatalf("callback = %d Location %q cookie %q\n%s", r.Status, r.Location(), c.Cookie("wos_session"), r.Body)
	}
	return c
}

// sessionRecord is a flat view of the plugin's KV session (pdk/kvsession:
// the head record with the plugin's head fields inlined, plus the secret's
// fields), the part the tests touch.
type sessionRecord map[string]any

// kvKey is where the host keeps the workos plugin's KV entry key.
func kvKey(key string) string { return "plugin/workos/kv/" + key }

// sessionKVKey mirrors pdk/kvsession's key of session id (a hash of it).
func sessionKVKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return kvKey("session/" + hex.EncodeToString(sum[:]))
}

// headFields are the fields of the plugin's session head (the rest of a
// flat record but the kvsession fields is the secret).
var headFields = []string{"workos_sid", "org_id", "access_token", "user"}

// kvsessionFields are pdk/kvsession's own head fields.
var kvsessionFields = []string{"id", "user_id", "created_at", "expires_at"}

// readSession returns the plugin's stored session id, flattened.
func readSession(t *testing.T, env *authhostenv.Env, id string) sessionRecord {
	t.Helper()
	rec := sessionRecord{}
	var h struct {
		Head map[string]any `json:"head"`
	}
	for _, part := range []struct {
		key string
		v   any
	}{{sessionKVKey(id), &rec}, {sessionKVKey(id), &h}, {sessionKVKey(id) + "/secret", &rec}} {
		b, err := env.App.Store.Get(t.Context(), part.key)
		if err != nil {
			t.Fatalf("read session %s: %v", id, err)
		}
		if err := json.Unmarshal(b, part.v); err != nil {
			t.Fatal(err)
		}
	}
	delete(rec, "head")
	maps.Copy(rec, h.Head)
	return rec
}

// writeSession replaces the plugin's stored session id with the flat rec,
// behind the host's back, and drops the host's cached validation of id:
// the rewrites model time passing (an access token expiring, a session
// aging) and the plugin vouches for a session only until its access token
// expires, so by then the host would ask the plugin again anyway.
func writeSession(t *testing.T, env *authhostenv.Env, id string, rec sessionRecord) {
	t.Helper()
	defer dropCachedSession(t, env, id)
	head, secret := map[string]any{}, map[string]any{}
	top := map[string]any{"head": head}
	for k, v := range rec {
		switch {
		case slices.Contains(headFields, k):
			head[k] = v
		case slices.Contains(kvsessionFields, k):
			top[k] = v
		default:
			secret[k] = v
		}
	}
	for key, v := range map[string]any{sessionKVKey(id): top, sessionKVKey(id) + "/secret": secret} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := env.App.Store.Put(t.Context(), key, b, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
}

// dropCachedSession drops the host's cached validation of session id (the
// session cache in front of the workos plugin).
func dropCachedSession(t *testing.T, env *authhostenv.Env, id string) {
	t.Helper()
	p := env.App.Plugins.Plugin("workos")
	if p == nil {
		t.Fatal("workos plugin not loaded")
	}
	c, ok := p.Session().(interface{ Invalidate(id string) bool })
	if !ok {
		t.Fatalf("the workos session provider %T has no host session cache", p.Session())
	}
	c.Invalidate(id)
}

// expireAccessToken makes the session's stored access token expired: the
// emulator re-signs its claims with iat and exp an hour in the past (as if
// the session had been idle), so the next use must refresh it.
func expireAccessToken(t *testing.T, env *authhostenv.Env, id string) sessionRecord {
	t.Helper()
	rec := readSession(t, env, id)
	tok, _ := rec["access_token"].(string)
	cl := jwtpeek.Claims(t, tok)
	past := time.Now().Add(-time.Hour)
	cl["iat"], cl["exp"] = past.Add(-workos.AccessTokenTTL).Unix(), past.Unix()
	expired, err := emu.SignJWT(cl)
	if err != nil {
		t.Fatal(err)
	}
	rec["access_token"] = expired
	writeSession(t, env, id, rec)
	return rec
}
