package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/authhost/authhost/auth"
)

func TestOriginPolicy(t *testing.T) {
	t.Parallel()
	p := newOriginPolicy(mustURL("https://auth.example.com/base/"), []string{"http://localhost:3000", "https://[2001:db8::1]:8443"})
	const ok = ""
	cases := []struct {
		name string
		hdr  [][2]string
		want string // "" allowed, else a substring of the refusal
	}{
		// Origin names an origin: exact match after case and default port.
		{"public origin", [][2]string{{"Origin", "https://auth.example.com"}}, ok},
		{"public origin, default port", [][2]string{{"Origin", "https://auth.example.com:443"}}, ok},
		{"public origin, upper case", [][2]string{{"Origin", "HTTPS://AUTH.EXAMPLE.COM"}}, ok},
		{"configured origin", [][2]string{{"Origin", "http://localhost:3000"}}, ok},
		{"configured ipv6 origin", [][2]string{{"Origin", "https://[2001:db8::1]:8443"}}, ok},
		{"trusted origin wins over cross-site fetch metadata", [][2]string{{"Origin", "http://localhost:3000"}, {"Sec-Fetch-Site", "cross-site"}}, ok},
		{"foreign origin", [][2]string{{"Origin", "https://evil.example"}}, "untrusted origin"},
		{"foreign origin, same-origin fetch metadata", [][2]string{{"Origin", "https://evil.example"}, {"Sec-Fetch-Site", "same-origin"}}, "untrusted origin"},
		{"other scheme", [][2]string{{"Origin", "http://auth.example.com"}}, "untrusted origin"},
		{"other port", [][2]string{{"Origin", "https://auth.example.com:8443"}}, "untrusted origin"},
		{"configured origin, other port", [][2]string{{"Origin", "http://localhost:3001"}}, "untrusted origin"},
		{"configured origin, default port", [][2]string{{"Origin", "http://localhost"}}, "untrusted origin"},
		{"port with leading zero", [][2]string{{"Origin", "http://localhost:03000"}}, "untrusted origin"},
		{"empty port", [][2]string{{"Origin", "https://auth.example.com:"}}, "untrusted origin"},
		{"trailing dot", [][2]string{{"Origin", "https://auth.example.com."}}, "untrusted origin"},
		{"suffix", [][2]string{{"Origin", "https://auth.example.com.evil.example"}}, "untrusted origin"},
		{"userinfo", [][2]string{{"Origin", "https://auth.example.com@evil.example"}}, "untrusted origin"},
		{"userinfo before ours", [][2]string{{"Origin", "https://evil.example@auth.example.com"}}, "untrusted origin"},
		{"with a path", [][2]string{{"Origin", "https://auth.example.com/base"}}, "untrusted origin"},
		{"with a slash", [][2]string{{"Origin", "https://auth.example.com/"}}, "untrusted origin"},
		{"cyrillic look-alike", [][2]string{{"Origin", "https://аuth.example.com"}}, "untrusted origin"},
		{"punycode look-alike", [][2]string{{"Origin", "https://xn--uth-5cd.example.com"}}, "untrusted origin"},
		{"fullwidth look-alike", [][2]string{{"Origin", "https://ａuth.example.com"}}, "untrusted origin"},
		{"percent-encoded host", [][2]string{{"Origin", "https://%61uth.example.com"}}, "untrusted origin"},
		{"zero-width character", [][2]string{{"Origin", "https://auth.example.com\u200b"}}, "untrusted origin"},
		{"control character", [][2]string{{"Origin", "https://auth.example.com\x00"}}, "untrusted origin"},
		{"empty origin", [][2]string{{"Origin", ""}}, "untrusted origin"},
		{"quoted null", [][2]string{{"Origin", `"null"`}}, "untrusted origin"},
		{"NULL in capitals", [][2]string{{"Origin", "NULL"}}, "untrusted origin"},
		{"file scheme", [][2]string{{"Origin", "file://"}}, "untrusted origin"},
		{"javascript scheme", [][2]string{{"Origin", "javascript:alert(1)"}}, "untrusted origin"},
		{"two origins", [][2]string{{"Origin", "https://auth.example.com"}, {"Origin", "https://evil.example"}}, "repeated"},
		{"two fetch metadata values", [][2]string{{"Sec-Fetch-Site", "same-origin"}, {"Sec-Fetch-Site", "cross-site"}}, "repeated"},

		// Origin: null only with same-origin fetch metadata.
		{"null origin", [][2]string{{"Origin", "null"}}, "null origin"},
		{"null origin with a cookie", [][2]string{{"Origin", "null"}, {"Cookie", "authhost_session=x"}}, "null origin"},
		{"null origin, cross-site", [][2]string{{"Origin", "null"}, {"Sec-Fetch-Site", "cross-site"}}, "null origin"},
		{"null origin, same-site", [][2]string{{"Origin", "null"}, {"Sec-Fetch-Site", "same-site"}}, "null origin"},
		{"null origin, none", [][2]string{{"Origin", "null"}, {"Sec-Fetch-Site", "none"}}, "null origin"},
		{"null origin, trusted referer", [][2]string{{"Origin", "null"}, {"Referer", "https://auth.example.com/login"}}, "null origin"},
		{"null origin, same-origin", [][2]string{{"Origin", "null"}, {"Sec-Fetch-Site", "same-origin"}}, ok},

		// No Origin: fetch metadata decides.
		{"same-origin", [][2]string{{"Sec-Fetch-Site", "same-origin"}, {"Cookie", "a=b"}}, ok},
		{"user-initiated", [][2]string{{"Sec-Fetch-Site", "none"}}, ok},
		{"cross-site", [][2]string{{"Sec-Fetch-Site", "cross-site"}}, "cross-site"},
		{"cross-site with a bearer", [][2]string{{"Sec-Fetch-Site", "cross-site"}, {"Authorization", "Bearer junk"}}, "cross-site"},
		{"same-site sibling", [][2]string{{"Sec-Fetch-Site", "same-site"}}, "cross-site"},
		{"capitalised value", [][2]string{{"Sec-Fetch-Site", "Same-Origin"}}, "cross-site"},
		{"garbage value", [][2]string{{"Sec-Fetch-Site", "same-origin\u200b"}}, "cross-site"},

		// Neither: a Referer must be ours.
		{"trusted referer with a cookie", [][2]string{{"Referer", "https://auth.example.com/login?x=1"}, {"Cookie", "a=b"}}, ok},
		{"configured referer", [][2]string{{"Referer", "http://localhost:3000/app"}, {"Cookie", "a=b"}}, ok},
		{"foreign referer", [][2]string{{"Referer", "https://evil.example/auth.example.com"}}, "untrusted referer"},
		{"look-alike referer", [][2]string{{"Referer", "https://auth.example.com.evil.example/"}, {"Cookie", "a=b"}}, "untrusted referer"},
		{"referer with userinfo", [][2]string{{"Referer", "https://auth.example.com@evil.example/"}}, "untrusted referer"},
		{"relative referer", [][2]string{{"Referer", "/login"}, {"Cookie", "a=b"}}, "untrusted referer"},
		{"two referers", [][2]string{{"Referer", "https://auth.example.com/"}, {"Referer", "https://evil.example/"}}, "untrusted referer"},

		// No browser signal at all: cookies are what a browser attaches
		// unasked, so they are refused; a bearer exempts nothing.
		{"plain client", nil, ok},
		{"plain client with a bearer", [][2]string{{"Authorization", "Bearer token"}}, ok},
		{"cookie", [][2]string{{"Cookie", "authhost_session=x"}}, "cookies"},
		{"unparsable cookie", [][2]string{{"Cookie", "\x01"}}, "cookies"},
		{"cookie with a junk bearer", [][2]string{{"Cookie", "authhost_session=x"}, {"Authorization", "Bearer junk"}}, "cookies"},
		{"cookie with a lower-case bearer", [][2]string{{"Cookie", "authhost_session=x"}, {"Authorization", "bearer junk"}}, "cookies"},
	}
	for _, tc := range cases {
		r := httptest.NewRequest("POST", "https://auth.example.com/api/auth/refresh", nil)
		for _, kv := range tc.hdr {
			r.Header.Add(kv[0], kv[1])
		}
		got := p.refusal(r)
		if (tc.want == ok) != (got == ok) || !strings.Contains(got, tc.want) {
			t.Errorf("%s: refusal = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestOriginPolicyIPLiterals: a server addressed by an IP literal trusts
// that literal as browsers serialize it, not other spellings of the same
// address.
func TestOriginPolicyIPLiterals(t *testing.T) {
	t.Parallel()
	p := newOriginPolicy(mustURL("http://127.0.0.1:8080"), []string{"http://[::1]:8080"})
	for origin, want := range map[string]bool{
		"http://127.0.0.1:8080":          true,
		"http://[::1]:8080":              true,
		"http://127.1:8080":              false,
		"http://0x7f.0.0.1:8080":         false,
		"http://0177.0.0.1:8080":         false,
		"http://2130706433:8080":         false,
		"http://127.000.000.001:8080":    false,
		"http://[::ffff:127.0.0.1]:8080": false,
		"http://[0:0::1]:8080":           false,
		"http://[::1%25lo]:8080":         false,
		"http://localhost:8080":          false,
		"http://127.0.0.1:8080.":         false,
	} {
		r := httptest.NewRequest("POST", "/api/auth/logout", nil)
		r.Header.Set("Origin", origin)
		if got := p.refusal(r) == ""; got != want {
			t.Errorf("Origin %s: allowed = %v, want %v", origin, got, want)
		}
	}
}

// TestEveryStateChangingRouteRefusesNullOrigin walks the router: every
// route but GET, HEAD and OPTIONS, API and forms, sign-in and sign-up
// included, refuses Origin: null before its handler runs.
func TestEveryStateChangingRouteRefusesNullOrigin(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	s := h.srv.Config.Handler.(*Server)
	c := h.client(t)
	var n int
	err := chi.Walk(s.router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		switch method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return nil
		}
		path := strings.NewReplacer("{id}", "x", "{provider}", "x", "/*", "/x").Replace(route)
		for _, hdr := range []map[string]string{
			{"Origin": "null", "Content-Type": "application/json"},
			{"Origin": "null", "Content-Type": "application/x-www-form-urlencoded"},
			{"Origin": "null", "Sec-Fetch-Site": "cross-site", "Content-Type": "application/x-www-form-urlencoded"},
		} {
			r := c.do(method, path, `{}`, hdr)
			// A form post to a page gets the refusal page, the rest JSON.
			want := `"csrf"`
			if hdr["Content-Type"] != "application/json" && !strings.HasPrefix(path, "/api/") {
				want = "Request refused"
			}
			if r.status != http.StatusForbidden || !strings.Contains(string(r.body), want) {
				t.Errorf("%s %s with %v = %d %s, want 403 csrf", method, path, hdr, r.status, r.body)
			}
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Fatalf("walked only %d state-changing routes", n)
	}
	if got := h.events(t, auth.AuditFilter{Action: "auth.sign-in"}); len(got) != 0 {
		t.Errorf("a refused request reached sign-in: %d events", len(got))
	}
	if got := h.events(t, auth.AuditFilter{Action: "auth.sign-up"}); len(got) != 0 {
		t.Errorf("a refused request reached sign-up: %d events", len(got))
	}
}

// TestSignInCSRFNullOrigin is the attack of issue 12 item 3: a sandboxed
// cross-site frame posts the attacker's credentials with Origin: null to
// sign the victim in as the attacker. Refused on the form and the JSON
// routes; the same request marked same-origin by the browser passes.
func TestSignInCSRFNullOrigin(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	form := url.Values{"email": {demoEmail}, "password": {demoPassword}}.Encode()
	formHdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": "null"}
	signUp := `{"email":"victim-as-attacker@example.com","password":"long-enough-1","name":"A"}`

	attacker := h.client(t)
	if r := attacker.do("POST", "/login", form, formHdr); r.status != http.StatusForbidden || r.header.Get("Set-Cookie") != "" {
		t.Errorf("POST /login with Origin: null = %d, Set-Cookie %q; want 403 and no cookie", r.status, r.header.Get("Set-Cookie"))
	}
	signUpForm := url.Values{"email": {"form-attacker@example.com"}, "password": {"long-enough-1"}, "name": {"A"}}.Encode()
	if r := attacker.do("POST", "/signup", signUpForm, formHdr); r.status != http.StatusForbidden {
		t.Errorf("POST /signup with Origin: null = %d, want 403", r.status)
	}
	if r := attacker.do("POST", "/api/auth/credentials/sign-up", signUp, map[string]string{"Origin": "null"}); r.status != http.StatusForbidden {
		t.Errorf("JSON sign-up with Origin: null = %d, want 403", r.status)
	}
	if r := attacker.do("POST", "/api/auth/credentials/sign-in", `{"email":"`+demoEmail+`","password":"`+demoPassword+`"}`, map[string]string{"Origin": "null"}); r.status != http.StatusForbidden {
		t.Errorf("JSON sign-in with Origin: null = %d, want 403", r.status)
	}
	if got := h.events(t, auth.AuditFilter{Action: "auth.denied"}); len(got) != 4 || got[0].Metadata["reason"] != "null origin" {
		t.Errorf("denials = %+v, want 4 with reason null origin", got)
	}

	// A browser may send Origin: null on a same-origin request (e.g. under
	// a no-referrer policy); its fetch metadata tells it apart.
	same := h.client(t)
	formHdr["Sec-Fetch-Site"] = "same-origin"
	if r := same.do("POST", "/login", form, formHdr); r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Set-Cookie"), "authhost_session=") {
		t.Errorf("same-origin POST /login with Origin: null = %d %v, want 303 with a session", r.status, r.header)
	}
	if r := same.do("POST", "/api/auth/credentials/sign-up", signUp, map[string]string{"Origin": "null", "Sec-Fetch-Site": "same-origin"}); r.status != http.StatusCreated {
		t.Errorf("same-origin JSON sign-up with Origin: null = %d %s, want 201", r.status, r.body)
	}
}

// TestBearerDoesNotExemptCookies is issue 12 item 4: a request that
// carries the session cookie is checked for CSRF whatever Authorization
// header rides along, junk or valid; only a request without cookies (a
// token client) needs no browser signal.
func TestBearerDoesNotExemptCookies(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	c := h.client(t)
	r := c.signIn(demoEmail, demoPassword)
	if r.status != http.StatusOK {
		t.Fatalf("sign-in = %d %s", r.status, r.body)
	}
	token := strings.TrimPrefix(strings.SplitN(r.header.Get("Set-Cookie"), ";", 2)[0], "authhost_session=")
	userID, _ := r.json(t)["user"].(map[string]any)["id"].(string)
	routes := []struct{ method, path, body string }{
		{"POST", "/api/auth/refresh", ""},
		{"POST", "/api/auth/logout", ""},
		{"PUT", "/api/admin/users/" + userID + "/roles", `{"roles":["viewer"]}`},
		{"POST", "/logout", ""},
	}
	for _, bearer := range []string{"Bearer junk", "bearer junk", "Bearer " + token} {
		for _, rt := range routes {
			for _, hdr := range []map[string]string{
				{"Origin": "", "Authorization": bearer},                                     // curl-like: no browser signal
				{"Origin": "https://evil.example", "Authorization": bearer},                 // cross-site fetch
				{"Origin": "", "Sec-Fetch-Site": "cross-site", "Authorization": bearer},     // fetch metadata only
				{"Origin": "", "Referer": "https://evil.example/", "Authorization": bearer}, // an old browser
			} {
				if r := c.do(rt.method, rt.path, rt.body, hdr); r.status != http.StatusForbidden {
					t.Errorf("%s %s with the cookie and %v = %d %s, want 403", rt.method, rt.path, hdr, r.status, r.body)
				}
			}
		}
	}
	// Nothing happened: still signed in, roles unchanged.
	me := c.do("GET", "/api/auth/me", "", nil)
	if me.status != http.StatusOK || !strings.Contains(toJSON(me.json(t)["roles"]), "owner") {
		t.Fatalf("after refused requests: me = %d %s", me.status, me.body)
	}
	// A token client without cookies needs no browser signal.
	tokenClient := h.client(t)
	if r := tokenClient.do("POST", "/api/auth/refresh", "", map[string]string{"Origin": "", "Authorization": "Bearer " + token}); r.status != http.StatusOK {
		t.Errorf("bearer refresh without cookies = %d %s, want 200", r.status, r.body)
	}
	// The same browser with a same-origin signal passes, bearer or not.
	if r := c.do("POST", "/api/auth/refresh", "", map[string]string{"Authorization": "Bearer junk"}); r.status != http.StatusOK {
		t.Errorf("same-origin refresh with a junk bearer = %d %s, want 200", r.status, r.body)
	}
}
