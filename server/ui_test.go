package server

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/authhost/authhost/auth"
)

// The UI tests are not parallel: each signs in with the example's real
// argon2id hash, and running them beside the parallel API tests starves
// the plugin calls of those tests of CPU on a small machine.

var formHeader = map[string]string{"Content-Type": "application/x-www-form-urlencoded"}

// post sends a form the way a browser does (form-encoded, same Origin).
func (c *client) post(path string, form url.Values) response {
	c.t.Helper()
	return c.do("POST", path, form.Encode(), formHeader)
}

func (c *client) formSignIn(email, password string) response {
	c.t.Helper()
	return c.post("/login", url.Values{"email": {email}, "password": {password}})
}

func bodyHas(t *testing.T, r response, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(string(r.body), w) {
			t.Errorf("body lacks %q:\n%s", w, r.body)
		}
	}
}

func TestUIPagesAreStrictHTML(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(t)
	r := c.do("GET", "/login", "", nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /login = %d %s", r.status, r.header.Get("Content-Type"))
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP = %q", csp)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", r.header.Get("Cache-Control"))
	}
	bodyHas(t, r, `<form method="post" action="/login"`, `<label for="email">`, `<label for="password">`, `href="/signup?redirect=%2faccount"`, `<main id="main"`)
	// The CSP forbids inline code: every script has a src, no style attributes or elements.
	for _, m := range regexp.MustCompile(`<script[^>]*>`).FindAllString(string(r.body), -1) {
		if !strings.Contains(m, `src="/static/`) {
			t.Errorf("inline script: %s", m)
		}
	}
	if regexp.MustCompile(`(?i)<style|\sstyle=|\son[a-z]+=`).Match(r.body) {
		t.Error("inline style or event handler in the page")
	}
	for path, ctype := range map[string]string{"/static/app.css": "text/css", "/static/app.js": "text/javascript", "/static/favicon.svg": "image/svg+xml"} {
		if r := c.do("GET", path, "", nil); r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), ctype) {
			t.Errorf("GET %s = %d %q", path, r.status, r.header.Get("Content-Type"))
		}
	}
	if r := c.do("GET", "/static/", "", nil); r.status != http.StatusNotFound {
		t.Errorf("GET /static/ = %d, want no listing", r.status)
	}
	if r := c.do("GET", "/", "", nil); r.status != http.StatusSeeOther || r.header.Get("Location") != "/login" {
		t.Errorf("GET / signed out = %d %q", r.status, r.header.Get("Location"))
	}
}

func TestUISignInFormFlow(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(t)
	r := c.formSignIn(demoEmail, "wrong-password")
	if r.status != http.StatusUnauthorized {
		t.Fatalf("wrong password = %d", r.status)
	}
	bodyHas(t, r, `role="alert"`, "Invalid email or password", `value="admin@example.com"`)
	if strings.Contains(string(r.body), "wrong-password") {
		t.Error("the password is echoed back")
	}
	r = c.formSignIn("not-an-email", "x")
	if r.status != http.StatusBadRequest {
		t.Fatalf("bad email = %d", r.status)
	}
	bodyHas(t, r, "Enter a valid email address.", `aria-invalid="true"`)

	r = c.formSignIn(demoEmail, demoPassword)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/account" || len(r.header.Values("Set-Cookie")) == 0 {
		t.Fatalf("sign-in = %d %q cookies %v", r.status, r.header.Get("Location"), r.header.Values("Set-Cookie"))
	}
	r = c.do("GET", "/account", "", nil)
	if r.status != 200 {
		t.Fatalf("GET /account = %d", r.status)
	}
	bodyHas(t, r, "Demo Admin", demoEmail, `<li class="tag">owner</li>`, `<li class="tag">*</li>`, `<span class="badge badge-ok">This browser</span>`, `action="/account/sessions/end-all"`, "This browser", `href="/audit"`, `href="/admin/plugins"`)
	// The page flow records the same audit events as the API's.
	if got := h.events(t, auth.AuditFilter{Action: "auth.sign-in"}); len(got) != 2 {
		t.Errorf("sign-in events = %d, want 2 (one failure, one success)", len(got))
	}
	// A signed-in visitor of /login goes straight on.
	if r := c.do("GET", "/login?redirect=%2Faudit", "", nil); r.status != http.StatusSeeOther || r.header.Get("Location") != "/audit" {
		t.Errorf("GET /login signed in = %d %q", r.status, r.header.Get("Location"))
	}

	r = c.post("/logout", nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/login?notice=signed-out" {
		t.Fatalf("logout = %d %q", r.status, r.header.Get("Location"))
	}
	if r := c.do("GET", "/account", "", nil); r.status != http.StatusSeeOther {
		t.Errorf("after logout GET /account = %d", r.status)
	}
	bodyHas(t, c.do("GET", "/login?notice=signed-out", "", nil), "You have been signed out.")
	if got := h.events(t, auth.AuditFilter{Action: "auth.logout"}); len(got) != 1 {
		t.Errorf("logout events = %d", len(got))
	}
}

func TestUISignInRateLimited(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.SignInLimit = 2 })
	c := h.client(t)
	for i := 0; i < 2; i++ {
		c.formSignIn(demoEmail, "wrong")
	}
	r := c.formSignIn(demoEmail, demoPassword)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("locked out sign-in = %d Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	bodyHas(t, r, "Too many failed sign-in attempts")
}

func TestUIRedirectGuard(t *testing.T) {
	h := newSSOHarness(t)
	c := h.client(t)
	for target, want := range map[string]string{
		"/audit?outcome=failure":     "/audit?outcome=failure",
		"https://evil.example/phish": "/account",
		"//evil.example/x":           "/account",
		"/\\evil.example":            "/account",
		"javascript:alert(1)":        "/account",
		"":                           "/account",
	} {
		r := c.do("GET", "/login?"+url.Values{"redirect": {target}}.Encode(), "", nil)
		if !strings.Contains(string(r.body), `name="redirect" value="`+want+`"`) {
			t.Errorf("redirect %q: hidden field is not %q", target, want)
		}
		// The SSO link carries the same checked target through /login.
		wantSSO := "redirect_uri=" + url.QueryEscape("/login?"+url.Values{"redirect": {want}}.Encode())
		if !strings.Contains(strings.ReplaceAll(string(r.body), "&amp;", "&"), wantSSO) {
			t.Errorf("redirect %q: SSO link lacks %q", target, wantSSO)
		}
		c2 := h.client(t)
		r = c2.post("/login", url.Values{"email": {demoEmail}, "password": {demoPassword}, "redirect": {target}})
		if r.status != http.StatusSeeOther || r.header.Get("Location") != want {
			t.Errorf("POST /login redirect %q = %d %q, want %q", target, r.status, r.header.Get("Location"), want)
		}
	}
	// The SSO callback's error is shown on the sign-in page it returns to.
	bodyHas(t, c.do("GET", "/login?error=invalid_state", "", nil), "The sign-in attempt expired")
}

func TestUIFormsNeedSameOrigin(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(t)
	form := url.Values{"email": {demoEmail}, "password": {demoPassword}}.Encode()
	hdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example"}
	if r := c.do("POST", "/login", form, hdr); r.status != http.StatusForbidden {
		t.Fatalf("cross-site POST /login = %d", r.status)
	}
	hdr["Origin"], hdr["Sec-Fetch-Site"] = "", "cross-site"
	if r := c.do("POST", "/login", form, hdr); r.status != http.StatusForbidden {
		t.Fatalf("cross-site (Sec-Fetch-Site) POST /login = %d", r.status)
	}
	if got := h.events(t, auth.AuditFilter{Action: "auth.denied"}); len(got) != 2 {
		t.Errorf("denied events = %d, want 2", len(got))
	}
	if got := h.events(t, auth.AuditFilter{Action: "auth.sign-in"}); len(got) != 0 {
		t.Errorf("a refused form still signed in: %d events", len(got))
	}
	// Signed in, a cross-site logout form does nothing.
	c.formSignIn(demoEmail, demoPassword)
	if r := c.do("POST", "/logout", "", map[string]string{"Origin": "https://evil.example"}); r.status != http.StatusForbidden {
		t.Fatalf("cross-site POST /logout = %d", r.status)
	}
	if r := c.do("GET", "/account", "", nil); r.status != 200 {
		t.Errorf("still signed in: GET /account = %d", r.status)
	}
}

func TestUIProtectedPagesSendVisitorsToLogin(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(t)
	for _, path := range []string{"/account", "/audit?outcome=failure&page=2", "/admin/plugins"} {
		r := c.do("GET", path, "", nil)
		want := "/login?" + url.Values{"redirect": {path}}.Encode()
		if r.status != http.StatusSeeOther || r.header.Get("Location") != want {
			t.Errorf("GET %s = %d %q, want %q", path, r.status, r.header.Get("Location"), want)
		}
	}
	// A visitor's end-all post is a redirect too, not an action.
	if r := c.post("/account/sessions/end-all", nil); r.status != http.StatusSeeOther {
		t.Errorf("POST end-all signed out = %d", r.status)
	}
}

func TestUIViewerIsDeniedAuditAndPlugins(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(t)
	r := c.post("/signup", url.Values{"email": {"viewer@example.com"}, "password": {"viewer-password-1"}, "name": {"Vera Viewer"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/account" {
		t.Fatalf("sign-up = %d %q\n%s", r.status, r.header.Get("Location"), r.body)
	}
	acc := c.do("GET", "/account", "", nil)
	bodyHas(t, acc, "Vera Viewer", "viewer")
	if strings.Contains(string(acc.body), `href="/audit"`) || strings.Contains(string(acc.body), `href="/admin/plugins"`) {
		t.Error("a viewer's navigation links to audit or plugins")
	}
	for _, path := range []string{"/audit", "/admin/plugins"} {
		r := c.do("GET", path, "", nil)
		if r.status != http.StatusForbidden {
			t.Errorf("viewer GET %s = %d", path, r.status)
		}
		bodyHas(t, r, "Access denied")
	}
	if got := h.events(t, auth.AuditFilter{Action: "auth.denied"}); len(got) != 2 {
		t.Errorf("denied events = %d, want 2", len(got))
	}
	if got := h.events(t, auth.AuditFilter{Action: "auth.sign-up", Outcome: auth.OutcomeSuccess}); len(got) != 1 {
		t.Errorf("sign-up events = %d", len(got))
	}
	// Signing up again with the same email is an inline error.
	r = h.client(t).post("/signup", url.Values{"email": {"viewer@example.com"}, "password": {"viewer-password-1"}})
	if r.status != http.StatusConflict {
		t.Errorf("duplicate sign-up = %d", r.status)
	}
	bodyHas(t, r, "An account with this email already exists", `value="viewer@example.com"`)
}

// noSignUp turns sign-up off on a credentials provider.
type noSignUp struct{ auth.CredentialsProvider }

func (noSignUp) SignUpEnabled(context.Context) bool { return false }

func TestUISignUpDisabled(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Auth.Credentials = noSignUp{c.Auth.Credentials} })
	c := h.client(t)
	if r := c.do("GET", "/signup", "", nil); r.status != http.StatusNotFound {
		t.Errorf("GET /signup = %d", r.status)
	}
	if r := c.post("/signup", url.Values{"email": {"x@example.com"}, "password": {"long-enough-1"}}); r.status != http.StatusNotFound {
		t.Errorf("POST /signup = %d", r.status)
	}
	if strings.Contains(string(c.do("GET", "/login", "", nil).body), "/signup") {
		t.Error("the sign-in page links to a disabled sign-up")
	}
}

func TestUIAuditPage(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(t)
	c.formSignIn("nobody@example.com", "wrong")
	c.formSignIn(demoEmail, demoPassword)
	r := c.do("GET", "/audit", "", nil)
	if r.status != 200 {
		t.Fatalf("GET /audit = %d", r.status)
	}
	bodyHas(t, r, `data-action="auth.sign-in" data-outcome="failure"`, `data-action="auth.sign-in" data-outcome="success"`,
		`href="/api/audit/export?format=csv"`, `href="/api/audit/export?format=jsonl"`, `id="autorefresh"`)

	r = c.do("GET", "/audit?outcome=failure&actionPrefix=auth.", "", nil)
	if strings.Contains(string(r.body), `data-outcome="success"`) || !strings.Contains(string(r.body), `data-outcome="failure"`) {
		t.Errorf("outcome filter not applied:\n%s", r.body)
	}
	bodyHas(t, r, `<option value="failure" selected>`, `value="auth."`, "nobody@example.com", `format=csv&amp;outcome=failure`)

	r = c.do("GET", "/audit?q=nobody", "", nil)
	bodyHas(t, r, "nobody@example.com")
	if strings.Contains(string(r.body), `data-outcome="success"`) {
		t.Error("free-text filter not applied")
	}
	if r := c.do("GET", "/audit?actionPrefix=nothing.", "", nil); !strings.Contains(string(r.body), "No events match these filters.") {
		t.Error("empty result not reported")
	}
	if r := c.do("GET", "/audit?startDate=2099-01-01", "", nil); !strings.Contains(string(r.body), "No events match these filters.") {
		t.Error("date range not applied")
	}
	if r := c.do("GET", "/audit?endDate=2099-01-01&actorType=user", "", nil); !strings.Contains(string(r.body), `data-outcome="success"`) {
		t.Error("an end date in the future hides events")
	}
	r = c.do("GET", "/audit?outcome=bogus", "", nil)
	if r.status != http.StatusBadRequest {
		t.Errorf("invalid filter = %d", r.status)
	}
	bodyHas(t, r, "Invalid filter: outcome: must be success, failure or denied")
	if r := c.do("GET", "/audit?startDate=2026-02-01&endDate=2026-01-01", "", nil); r.status != http.StatusBadRequest {
		t.Errorf("reversed dates = %d", r.status)
	}
}

func TestUIAuditPaging(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(t)
	c.formSignIn(demoEmail, demoPassword)
	anon := h.client(t)
	for i := 0; i < auditPerPage+5; i++ {
		anon.do("GET", "/api/audit", "", nil) // one auth.denied event each
	}
	r := c.do("GET", "/audit?actionPrefix=auth.denied", "", nil)
	bodyHas(t, r, "Events 1–25 of 30", `href="/audit?actionPrefix=auth.denied&amp;page=2"`)
	r = c.do("GET", "/audit?actionPrefix=auth.denied&page=2", "", nil)
	bodyHas(t, r, "Events 26–30 of 30", `href="/audit?actionPrefix=auth.denied&amp;page=1"`)
	if strings.Contains(string(r.body), `rel="next"`) {
		t.Error("last page links to a next page")
	}
}

func TestUISignOutEverywhere(t *testing.T) {
	h := newHarness(t, nil)
	a, b := h.client(t), h.client(t)
	a.formSignIn(demoEmail, demoPassword)
	b.formSignIn(demoEmail, demoPassword)
	if n := strings.Count(string(a.do("GET", "/account", "", nil).body), "<time datetime"); n < 4 {
		t.Errorf("account lists %d times, want two sessions (4)", n)
	}
	r := a.post("/account/sessions/end-all", nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/login?notice=signed-out-everywhere" {
		t.Fatalf("end-all = %d %q", r.status, r.header.Get("Location"))
	}
	for name, c := range map[string]*client{"this browser": a, "the other browser": b} {
		if r := c.do("GET", "/account", "", nil); r.status != http.StatusSeeOther {
			t.Errorf("%s still signed in: GET /account = %d", name, r.status)
		}
	}
	ev := h.events(t, auth.AuditFilter{Action: "auth.logout"})
	found := false
	for _, e := range ev {
		if e.Metadata["scope"] == "all" && e.Outcome == auth.OutcomeSuccess {
			found = true
		}
	}
	if !found {
		t.Errorf("no sign-out-everywhere audit event in %+v", ev)
	}
}

func TestUIPluginsPage(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(t)
	c.formSignIn(demoEmail, demoPassword)
	r := c.do("GET", "/admin/plugins", "", nil)
	if r.status != 200 {
		t.Fatalf("GET /admin/plugins = %d", r.status)
	}
	bodyHas(t, r, `data-plugin="static-users"`, "healthy", `id="composition"`, "<dt>credentials</dt><dd>static-users</dd>",
		"3 / 10000 keys", "1.5 KiB / 16.0 MiB")
}
