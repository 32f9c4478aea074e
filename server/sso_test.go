package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/authhost/authhost/auth"
)

// startSSO begins a login and returns the provider URL's query and the
// Set-Cookie header of the sealed state cookie.
func (c *client) startSSO(redirect string) (url.Values, string) {
	c.t.Helper()
	r := c.do("GET", "/api/auth/sso/login?redirect_uri="+url.QueryEscape(redirect), "", nil)
	if r.status != 200 {
		c.t.Fatalf("sso login = %d %s", r.status, r.body)
	}
	u, err := url.Parse(r.json(c.t)["url"].(string))
	if err != nil {
		c.t.Fatal(err)
	}
	return u.Query(), r.header.Get("Set-Cookie")
}

func (c *client) callback(query string) response {
	c.t.Helper()
	return c.do("GET", "/api/auth/sso/callback?"+query, "", nil)
}

func TestSSOFlow(t *testing.T) {
	t.Parallel()
	h := newSSOHarness(t)

	caps := h.client(t).do("GET", "/api/auth/capabilities", "", nil).json(t)
	login := caps["login"].(map[string]any)
	sso := login["sso"].(map[string]any)
	if login["type"] != "both" || sso["url"] != "/api/auth/sso/login" || sso["text"] != "Sign in with Test IdP" {
		t.Fatalf("capabilities login = %v", login)
	}

	c := h.client(t)
	q, setCookie := c.startSSO("/agents")
	for _, want := range []string{ssoCookieName + "=", "HttpOnly", "SameSite=Lax", "Path=/api/auth/sso", "Max-Age=600"} {
		if !strings.Contains(setCookie, want) {
			t.Errorf("state cookie %q lacks %q", setCookie, want)
		}
	}
	if q.Get("redirect_uri") != h.srv.URL+"/api/auth/sso/callback" || q.Get("code_challenge_method") != "S256" ||
		len(q.Get("state")) < 40 || len(q.Get("nonce")) < 40 || len(q.Get("code_challenge")) != 43 {
		t.Fatalf("authorization request = %v", q)
	}
	if strings.Contains(setCookie, q.Get("state")) {
		t.Fatal("the state cookie must be sealed, not carry the state in clear")
	}

	good := "code=code-sso%40example.com&state=" + url.QueryEscape(q.Get("state"))
	r := c.callback(good)
	if r.status != http.StatusFound || r.header.Get("Location") != "/agents" {
		t.Fatalf("callback = %d %q", r.status, r.header.Get("Location"))
	}
	cookies := strings.Join(r.header.Values("Set-Cookie"), "\n")
	if !strings.Contains(cookies, "authhost_session=") || !strings.Contains(cookies, ssoCookieName+"=;") {
		t.Fatalf("callback cookies = %s", cookies)
	}
	me := c.do("GET", "/api/auth/me", "", nil).json(t)
	if me["email"] != "sso@example.com" || toJSON(me["roles"]) != `["member"]` {
		t.Fatalf("me after SSO = %v", me)
	}
	// Replaying the callback fails: the state cookie is single use.
	if r := c.callback(good); r.status != http.StatusFound || !strings.Contains(r.header.Get("Location"), "error=invalid_state") {
		t.Fatalf("replayed callback = %d %q", r.status, r.header.Get("Location"))
	}
	out := c.do("POST", "/api/auth/logout", "", nil).json(t)
	if !strings.HasPrefix(out["redirectTo"].(string), "https://idp.test/logout?") {
		t.Fatalf("logout = %v", out)
	}
	if len(h.events(t, auth.AuditFilter{Action: "auth.sso-callback", Outcome: auth.OutcomeSuccess})) != 1 {
		t.Error("successful SSO callback not audited once")
	}
}

func TestSSOCallbackRejects(t *testing.T) {
	t.Parallel()
	h := newSSOHarness(t)
	root := h.srv.URL + "/"
	cases := []struct {
		name string
		// query builds the callback query from the login's provider query.
		query    func(q url.Values) string
		fresh    bool   // send the callback from another browser (no state cookie)
		tamper   bool   // corrupt the state cookie
		location string // expected Location prefix
	}{
		{name: "wrong state", query: func(q url.Values) string { return "code=code-a%40b.co&state=forged" }, location: root + "?error=invalid_state"},
		{name: "missing state", query: func(q url.Values) string { return "code=code-a%40b.co" }, location: root + "?error=invalid_state"},
		{name: "other browser", query: func(q url.Values) string { return "code=code-a%40b.co&state=" + url.QueryEscape(q.Get("state")) }, fresh: true, location: root + "?error=invalid_state"},
		{name: "tampered cookie", query: func(q url.Values) string { return "code=code-a%40b.co&state=" + url.QueryEscape(q.Get("state")) }, tamper: true, location: root + "?error=invalid_state"},
		{name: "bad code", query: func(q url.Values) string { return "code=nope&state=" + url.QueryEscape(q.Get("state")) }, location: "/agents?error=invalid_credentials"},
		{name: "provider down", query: func(q url.Values) string { return "code=idp-down&state=" + url.QueryEscape(q.Get("state")) }, location: "/agents?error=unavailable"},
		{name: "missing code", query: func(q url.Values) string { return "state=" + url.QueryEscape(q.Get("state")) }, location: "/agents?error=missing_code"},
		{name: "provider denied", query: func(q url.Values) string { return "error=access_denied&state=" + url.QueryEscape(q.Get("state")) }, location: "/agents?error=provider_denied"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := h.client(t)
			q, _ := c.startSSO("/agents")
			if tc.fresh {
				c = h.client(t)
			}
			if tc.tamper {
				u, _ := url.Parse(h.srv.URL + "/api/auth/sso/callback")
				cs := c.http.Jar.Cookies(u)
				if len(cs) == 0 {
					t.Fatal("no state cookie in the jar")
				}
				cs[0].Value = strings.ToUpper(cs[0].Value)
				c.http.Jar.SetCookies(u, cs)
			}
			r := c.callback(tc.query(q))
			if r.status != http.StatusFound || !strings.HasPrefix(r.header.Get("Location"), tc.location) {
				t.Fatalf("Location = %q (status %d), want prefix %q", r.header.Get("Location"), r.status, tc.location)
			}
			if strings.Contains(strings.Join(r.header.Values("Set-Cookie"), ";"), "authhost_session=") {
				t.Fatal("a failed callback must not create a session")
			}
		})
	}
	if n := len(h.events(t, auth.AuditFilter{Action: "auth.sso-callback", Outcome: auth.OutcomeFailure})); n != len(cases) {
		t.Errorf("failed callbacks audited: %d, want %d", n, len(cases))
	}
	if n := len(h.events(t, auth.AuditFilter{Action: "provider.error"})); n != 1 {
		t.Errorf("provider.error events = %d, want 1 (the unreachable provider)", n)
	}
}

// TestSSORedirectValidation runs the reference's redirect oracles (§10.5)
// through the routes: an external return URL falls back to "/", a loopback
// front-end on another port is allowed because the server runs on loopback.
func TestSSORedirectValidation(t *testing.T) {
	t.Parallel()
	h := newSSOHarness(t)
	cases := []struct{ redirect, want string }{
		{"https://evil.com/phish", "/"},
		{"//evil.com/x", "/"},
		{"http://localhost:4111/agents", "http://localhost:4111/agents"},
		{"/agents?tab=runs", "/agents?tab=runs"},
	}
	for _, tc := range cases {
		c := h.client(t)
		q, _ := c.startSSO(tc.redirect)
		r := c.callback("code=code-r%40example.com&state=" + url.QueryEscape(q.Get("state")))
		if got := r.header.Get("Location"); got != tc.want {
			t.Errorf("redirect_uri %q: Location = %q, want %q", tc.redirect, got, tc.want)
		}
	}
	// redirect=true answers with a 302 straight to the provider.
	r := h.client(t).do("GET", "/api/auth/sso/login?redirect=true", "", nil)
	if r.status != http.StatusFound || !strings.HasPrefix(r.header.Get("Location"), "https://idp.test/authorize?") {
		t.Fatalf("redirect=true = %d %q", r.status, r.header.Get("Location"))
	}
}
