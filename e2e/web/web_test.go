package web

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/argon2"

	"github.com/authhost/authhost/internal/testenv/authhostenv"
	"github.com/authhost/authhost/internal/testenv/oidc"
)

const (
	adminEmail    = "admin@example.com"
	adminPassword = "authhost-demo"
	adminName     = "Ada Admin"
)

// usersConfig is the static-users provider's config: one owner, sign-up
// open with the viewer role.
const usersConfig = `
  static-users:
    allowed_hosts: []
    # Sign-up hashes with argon2id in the sandbox; give it room on a
    # loaded CI machine.
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
        - email: viewer@example.com
          name: Vic Viewer
          password_hash: "${ADMIN_HASH}"
          roles: [viewer]
`

// credentialsConfig serves sign-in and sign-up from static-users with the
// built-in sessions, roles and audit store: the quick start's setup.
const credentialsConfig = `
capabilities:
  user: static-users
  credentials: static-users
  session: builtin
  rbac: builtin
  sso: none
  audit: [builtin]
plugins:` + usersConfig

// ssoConfig adds the cloud OIDC provider for SSO (it keeps its own session
// cookie, so it also resolves the user) next to credentials.
const ssoConfig = `
capabilities:
  user: cloud
  credentials: static-users
  session: builtin
  rbac: cloud
  sso: cloud
  audit: [builtin]
plugins:` + usersConfig + `
  cloud:
    allowed_hosts: ["${OIDC_HOST}"]
    allow_private_networks: true   # the OP listens on 127.0.0.1
    config:
      issuer: "${OIDC_ISSUER}"
      client_id: "${OIDC_CLIENT_ID}"
      client_secret: "${OIDC_CLIENT_SECRET}"
      role_claim: roles
      role_mapping: {admin: ["*"], _default: ["agents:read"]}
`

func startCredentials(t *testing.T) *authhostenv.Env {
	t.Helper()
	return authhostenv.Start(t, authhostenv.Options{Plugins: []string{"examples/static-users"}, Config: credentialsConfig,
		Env: map[string]string{"ADMIN_HASH": adminHash}})
}

// adminHash is a deliberately cheap argon2id hash of adminPassword (the
// configured viewer's password too)
// (m=64 KiB, t=1): sign-ins then take milliseconds in the sandbox instead
// of most of a second, which keeps the suite fast. Sign-ups still hash
// with the provider's own profile.
var adminHash = func() string {
	salt := []byte("e2e-web-fixed-salt")
	key := argon2.IDKey([]byte(adminPassword), salt, 1, 64, 1, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=64,t=1,p=1$%s$%s", argon2.Version, b64.EncodeToString(salt), b64.EncodeToString(key))
}()

var userSeq atomic.Int64

// newEmail returns an address no other test uses.
func newEmail(prefix string) string {
	return fmt.Sprintf("%s-%d@example.com", prefix, userSeq.Add(1))
}

// signIn signs in through the sign-in form.
func (tb *tab) signIn(email, password string) {
	tb.t.Helper()
	tb.open("/login")
	tb.fill("#email", email)
	tb.fill("#password", password)
	tb.submit(`form[action="/login"] button[type="submit"]`)
}

func TestSignUp(t *testing.T) {
	t.Parallel()
	env := startCredentials(t)
	tb := newTab(t, env.URL)
	tb.open("/login")
	tb.submit(`a[href^="/signup"]`) // the sign-in page links to sign-up
	if got := tb.text("h1"); got != "Create your account" {
		t.Fatalf("sign-up heading = %q", got)
	}
	tb.screenshot("signup")

	email := newEmail("newcomer")
	tb.fill("#name", "Nia Newcomer")
	tb.fill("#email", email)
	tb.fill("#password", "short")
	tb.submit(`form[action="/signup"] button[type="submit"]`)
	if got := tb.text(`[role="alert"]`); !strings.Contains(got, "8") {
		t.Errorf("a too-short password shows %q, want the provider's length rule", got)
	}
	if got := eval[string](tb, `document.querySelector("#email").value`); got != email {
		t.Errorf("the form lost the email: %q", got)
	}

	tb.fill("#password", "a-long-enough-passphrase")
	tb.submit(`form[action="/signup"] button[type="submit"]`)
	if tb.path() != "/account" {
		t.Fatalf("after sign-up at %s, want /account", tb.path())
	}
	if got := tb.text("h1"); got != "Nia Newcomer" {
		t.Errorf("account heading = %q", got)
	}
	if got := tb.text("#account-email"); got != email {
		t.Errorf("account email = %q", got)
	}
	if got := tb.text("#roles"); got != "viewer" {
		t.Errorf("a new account's roles = %q, want the default viewer", got)
	}
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	env := startCredentials(t)
	tb := newTab(t, env.URL)
	tb.open("/")
	if tb.path() != "/login" {
		t.Fatalf("/ signed out went to %s", tb.path())
	}
	tb.screenshot("login")
	tb.media(true)
	tb.screenshot("login-dark")
	tb.media(false)

	tb.fill("#email", adminEmail)
	tb.fill("#password", "not-the-password")
	tb.submit(`form[action="/login"] button[type="submit"]`)
	if got := tb.text(`[role="alert"]`); got != "Invalid email or password" {
		t.Errorf("wrong password shows %q", got)
	}
	if tb.path() != "/login" {
		t.Errorf("after a wrong password at %s", tb.path())
	}
	if got := eval[string](tb, `document.querySelector("#password").value`); got != "" {
		t.Error("the password field was refilled")
	}
	tb.screenshot("login-error")

	tb.typeInto("#password", adminPassword) // keystrokes, as a person types
	tb.submit(`form[action="/login"] button[type="submit"]`)
	if tb.path() != "/account" {
		t.Fatalf("after sign-in at %s, want /account", tb.path())
	}
	if got := tb.text("h1"); got != adminName {
		t.Errorf("account heading = %q", got)
	}
	if got := tb.text("#roles"); got != "owner" {
		t.Errorf("roles = %q", got)
	}
	if !tb.exists(`#sessions .badge-ok`) {
		t.Error("the session list does not mark this browser's session")
	}
	tb.screenshot("account")

	// Keyboard: the first Tab reaches the skip link, drawn with a visible
	// focus ring, and Enter on it moves focus to the main content.
	tb.do("press Tab", chromedp.KeyEvent("\t"))
	if got := eval[string](tb, `document.activeElement.textContent.trim()`); got != "Skip to content" {
		t.Errorf("first Tab focuses %q, want the skip link", got)
	}
	if got := eval[string](tb, `getComputedStyle(document.activeElement).outlineStyle`); got == "none" {
		t.Error("the focused skip link has no visible outline")
	}
	tb.do("press Enter", chromedp.KeyEvent("\r"))
	if got := eval[string](tb, `document.activeElement.id`); got != "main" {
		t.Errorf("after the skip link focus is on %q, want main", got)
	}
	tb.media(true)
	tb.screenshot("account-dark")
	tb.media(false)

	// A protected page sends a visitor to sign in and back.
	tb2 := newTab(t, env.URL)
	tb2.open("/admin/plugins")
	if got := tb2.path(); got != "/login?redirect=%2Fadmin%2Fplugins" {
		t.Fatalf("signed-out /admin/plugins went to %s", got)
	}
	tb2.fill("#email", adminEmail)
	tb2.fill("#password", adminPassword)
	tb2.submit(`form[action="/login"] button[type="submit"]`)
	if tb2.path() != "/admin/plugins" {
		t.Fatalf("after sign-in at %s, want /admin/plugins", tb2.path())
	}
	if !tb2.exists(`#plugins-table tr[data-plugin="static-users"]`) {
		t.Error("the plugins page does not list static-users")
	}
	if got := tb2.text(`a[aria-current="page"]`); got != "Plugins" {
		t.Errorf("current navigation entry = %q", got)
	}
	tb2.screenshot("plugins")
}

func TestSignOut(t *testing.T) {
	t.Parallel()
	env := startCredentials(t)
	tb := newTab(t, env.URL)
	tb.signIn(adminEmail, adminPassword)
	if tb.path() != "/account" {
		t.Fatalf("after sign-in at %s", tb.path())
	}
	tb.submit(`header form[action="/logout"] button`)
	if got := tb.path(); got != "/login?notice=signed-out" {
		t.Fatalf("after sign-out at %s", got)
	}
	if got := tb.text(`.notice`); got != "You have been signed out." {
		t.Errorf("notice = %q", got)
	}
	tb.open("/account")
	if got := tb.path(); got != "/login?redirect=%2Faccount" {
		t.Errorf("after sign-out /account went to %s", got)
	}

	// Sign out everywhere ends the sessions of other browsers too.
	a, b := newTab(t, env.URL), newTab(t, env.URL)
	a.signIn(adminEmail, adminPassword)
	b.signIn(adminEmail, adminPassword)
	a.submit(`form[action="/account/sessions/end-all"] button`)
	if got := a.path(); got != "/login?notice=signed-out-everywhere" {
		t.Fatalf("after sign-out everywhere at %s", got)
	}
	b.open("/account")
	if got := b.path(); got != "/login?redirect=%2Faccount" {
		t.Errorf("the other browser is still signed in (at %s)", got)
	}
}

func TestSSOLogin(t *testing.T) {
	t.Parallel()
	op := oidc.Start(t)
	issuer := strings.TrimPrefix(op.Issuer, "http://")
	host, _, _ := strings.Cut(issuer, ":")
	env := authhostenv.Start(t, authhostenv.Options{
		Plugins: []string{"examples/static-users", "plugins/cloud"},
		Config:  ssoConfig,
		Env: map[string]string{"ADMIN_HASH": adminHash, "OIDC_HOST": host, "OIDC_ISSUER": op.Issuer,
			"OIDC_CLIENT_ID": op.ClientID, "OIDC_CLIENT_SECRET": op.ClientSecret},
	})
	op.RegisterRedirect(env.URL + "/api/auth/sso/callback")

	tb := newTab(t, env.URL)
	tb.open("/login?redirect=%2Faccount")
	// The button's text comes from the provider's describe (the cloud
	// plugin's default is "Sign in with SSO").
	if got := tb.text("a.btn-sso"); !strings.HasPrefix(got, "Sign in with") {
		t.Fatalf("SSO button = %q", got)
	}
	if !tb.exists(`form[action="/login"]`) || tb.text(".divider") != "or continue with" {
		t.Error("the login page does not offer credentials and SSO together")
	}
	tb.screenshot("login-sso")

	tb.submit("a.btn-sso") // to the OP's login form
	if !strings.HasPrefix(tb.location(), op.Issuer) {
		t.Fatalf("the SSO button led to %s, not the OP", tb.location())
	}
	tb.fill("#username", oidc.TestUser)
	tb.fill("#password", oidc.TestPassword)
	tb.submit(`button[type="submit"]`) // back through the callback
	if tb.path() != "/account" {
		t.Fatalf("after SSO at %s, want /account", tb.path())
	}
	if got := tb.text("#account-email"); got != oidc.UserEmail {
		t.Errorf("account email = %q", got)
	}
	if got := tb.text("h1"); got != oidc.UserName {
		t.Errorf("account heading = %q", got)
	}
	if got := tb.text("#roles"); !strings.Contains(got, "admin") {
		t.Errorf("roles = %q, want the OP's admin role", got)
	}
	tb.screenshot("account-sso")

	// Signing out ends the provider's session too and offers the OP's
	// logout as a link (a form post may not redirect off-site under the CSP).
	tb.submit(`header form[action="/logout"] button`)
	if got := tb.text("h1"); got != "You are signed out" {
		t.Fatalf("after SSO sign-out the heading is %q", got)
	}
	if href := eval[string](tb, `document.querySelector("main a.btn-primary").href`); !strings.HasPrefix(href, op.Issuer) {
		t.Errorf("identity provider logout link = %q", href)
	}
	tb.screenshot("signed-out-sso")
	tb.open("/account")
	if got := tb.path(); got != "/login?redirect=%2Faccount" {
		t.Errorf("after SSO sign-out /account went to %s", got)
	}
}

func TestAuditDeniedForViewer(t *testing.T) {
	t.Parallel()
	env := startCredentials(t)
	tb := newTab(t, env.URL)
	// A viewer (the role sign-up gives, see TestSignUp) configured with a
	// cheap hash, so no sign-up hashing is needed here.
	tb.signIn("viewer@example.com", adminPassword)
	if tb.path() != "/account" || tb.text("#roles") != "viewer" {
		t.Fatalf("after sign-in at %s with roles %q", tb.path(), tb.text("#roles"))
	}
	if tb.exists(`nav a[href="/audit"]`) {
		t.Error("a viewer's navigation links to the audit log")
	}
	tb.open("/audit")
	if got := tb.text("h1"); got != "Access denied" {
		t.Fatalf("viewer's /audit heading = %q", got)
	}
	if got := tb.text("main p"); !strings.Contains(got, "audit:read") {
		t.Errorf("the denial does not name the permission: %q", got)
	}
	tb.screenshot("audit-denied")

	// The denial is itself audited: an owner sees it.
	admin := newTab(t, env.URL)
	admin.signIn(adminEmail, adminPassword)
	admin.open("/audit?actionPrefix=auth.denied")
	if got := eval[int](admin, `document.querySelectorAll('#audit-table tr[data-action="auth.denied"]').length`); got != 1 {
		t.Errorf("auth.denied rows = %d, want 1", got)
	}
}

func TestAuditFilters(t *testing.T) {
	t.Parallel()
	// Every event is written: the failed sign-ins of two accounts from one
	// address would otherwise be one event with a count (the audit flood
	// policy, tested in server).
	env := authhostenv.Start(t, authhostenv.Options{Plugins: []string{"examples/static-users"},
		Config: credentialsConfig + "\naudit: { collapse_window: 0s }\n", Env: map[string]string{"ADMIN_HASH": adminHash}})
	// Events to filter: failed sign-ins of two unknown users, the viewer's
	// sign-in and logout.
	api := env.Client()
	for _, email := range []string{"mallory@example.com", "trudy@example.com"} {
		if r := api.Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": email, "password": "guess"}); r.Status != http.StatusUnauthorized {
			t.Fatalf("failed sign-in = %d", r.Status)
		}
	}
	if r := api.Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": "viewer@example.com", "password": adminPassword}); r.Status != http.StatusOK {
		t.Fatalf("viewer sign-in = %d", r.Status)
	}
	if r := api.Do(t, "POST", "/api/auth/logout", nil); r.Status != http.StatusOK {
		t.Fatalf("logout = %d", r.Status)
	}

	tb := newTab(t, env.URL)
	tb.signIn(adminEmail, adminPassword)
	tb.submit(`nav a[href="/audit"]`)
	rows := func() []string {
		return eval[[]string](tb, `Array.from(document.querySelectorAll('#audit-table tbody tr')).map(r => r.dataset.action + ":" + r.dataset.outcome)`)
	}
	all := rows()
	for _, want := range []string{"auth.sign-in:failure", "auth.sign-in:success", "auth.logout:success"} {
		if !slices.Contains(all, want) {
			t.Errorf("unfiltered rows %v lack %s", all, want)
		}
	}
	if !tb.exists(`a[href^="/api/audit/export?format=csv"]`) || !tb.exists(`a[href^="/api/audit/export?format=jsonl"]`) {
		t.Error("no export links for an owner")
	}
	tb.screenshot("audit")

	// Outcome: failures only.
	tb.do("choose outcome", chromedp.SetValue(chromedp.CSS("#f-outcome"), "failure"))
	tb.submit(`form.filters button[type="submit"]`)
	failed := rows()
	if len(failed) != 2 {
		t.Errorf("failure rows = %v, want the 2 failed sign-ins", failed)
	}
	for _, r := range failed {
		if r != "auth.sign-in:failure" {
			t.Errorf("failure filter shows %s", r)
		}
	}
	if got := tb.path(); !strings.Contains(got, "outcome=failure") {
		t.Errorf("the filter is not in the URL (bookmarkable): %s", got)
	}
	if href := eval[string](tb, `document.querySelector('a[href*="format=csv"]').getAttribute("href")`); !strings.Contains(href, "outcome=failure") {
		t.Errorf("the CSV export ignores the filter: %s", href)
	}

	// Free text narrows to one actor.
	tb.fill("#f-q", "trudy")
	tb.submit(`form.filters button[type="submit"]`)
	if got := rows(); len(got) != 1 {
		t.Errorf("rows for q=trudy = %v, want 1", got)
	}

	// Action prefix: logouts, any outcome.
	tb.open("/audit")
	tb.fill("#f-action", "auth.logout")
	tb.submit(`form.filters button[type="submit"]`)
	for _, r := range rows() {
		if !strings.HasPrefix(r, "auth.logout:") {
			t.Errorf("action prefix filter shows %s", r)
		}
	}
	if got := rows(); len(got) != 1 {
		t.Errorf("logout rows = %v, want 1", got)
	}
	tb.screenshot("audit-filtered")
	tb.do("phone viewport", chromedp.EmulateViewport(390, 844))
	tb.screenshot("audit-phone")
	tb.do("desktop viewport", chromedp.EmulateViewport(1280, 860))

	// Auto-refresh (JavaScript) brings in a new event without a reload.
	tb.open("/audit?outcome=failure")
	tb.do("turn on auto-refresh", chromedp.Click(chromedp.CSS("#autorefresh")))
	api.Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": "late@example.com", "password": "guess"})
	tb.waitFor("the new event to appear", `document.querySelector("#audit-table") !== null && document.querySelector("#audit-table").textContent.includes("late@example.com")`)
	if got := tb.path(); got != "/audit?outcome=failure" {
		t.Errorf("auto-refresh navigated to %s", got)
	}
}
