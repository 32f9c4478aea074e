package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/authhost/authhost/auth"
)

// resettable gives a credentials provider password reset in Go: one valid
// token per requested address, single use, and a minimum length of 12.
type resettable struct {
	auth.CredentialsProvider
	mu       sync.Mutex
	requests []string // "email link" of every reset request
	tokens   map[string]string
	resets   []string // "token password" of every accepted reset
}

func newResettable(p auth.CredentialsProvider) *resettable {
	return &resettable{CredentialsProvider: p, tokens: map[string]string{}}
}

func (f *resettable) RequestPasswordReset(_ context.Context, email, link string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, email+" "+link)
	if email == demoEmail {
		f.tokens["tok-secret-"+email] = email
	}
	return nil
}

func (f *resettable) ResetPassword(_ context.Context, token, pw string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.tokens[token]; !ok {
		return auth.Errorf(auth.CodeInvalidCredentials, "invalid token %s", token)
	}
	if len(pw) < 12 {
		return auth.Errorf(auth.CodeInvalidRequest, "Password too short")
	}
	delete(f.tokens, token)
	f.resets = append(f.resets, token+" "+pw)
	return nil
}

// newResettableHarness serves the harness with the credentials provider
// wrapped in a resettable; ipLimit > 0 sets the per-IP limit.
func newResettableHarness(t *testing.T, ipLimit int) (*harness, *resettable) {
	var creds *resettable
	h := newHarness(t, func(c *Config) {
		if ipLimit > 0 {
			c.SignInIPLimit = ipLimit
		}
		creds = newResettable(c.Auth.Credentials)
		c.Auth.Credentials = creds
	})
	return h, creds
}

func (f *resettable) calls() (requests, resets int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests), len(f.resets)
}

func (f *resettable) addToken(token, email string) {
	f.mu.Lock()
	f.tokens[token] = email
	f.mu.Unlock()
}

func (f *resettable) requestList() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

func bodyLacks(t *testing.T, r response, unwanted ...string) {
	t.Helper()
	for _, u := range unwanted {
		if strings.Contains(string(r.body), u) {
			t.Errorf("body has %q:\n%s", u, r.body)
		}
	}
}

// TestUIPasswordResetNotSupported: static-users does not implement reset
// (its describe says so), so the sign-in page does not link to
// /forgot-password and both forms end on "not available" (nothing claims a
// link was sent).
func TestUIPasswordResetNotSupported(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(t)
	bodyLacks(t, c.do("GET", "/login", "", nil), `href="/forgot-password"`)

	r := c.do("GET", "/forgot-password", "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET /forgot-password = %d", r.status)
	}
	bodyHas(t, r, `<form method="post" action="/forgot-password"`, `<label for="email">`)

	r = c.post("/forgot-password", url.Values{"email": {"not-an-email"}})
	if r.status != http.StatusBadRequest {
		t.Errorf("POST /forgot-password with a bad address = %d", r.status)
	}
	bodyHas(t, r, "Enter a valid email address.", `value="not-an-email"`)

	r = c.post("/forgot-password", url.Values{"email": {demoEmail}})
	if r.status != http.StatusNotImplemented {
		t.Errorf("POST /forgot-password = %d, want 501", r.status)
	}
	bodyHas(t, r, "Password reset is not available")
	bodyLacks(t, r, "If an account exists")

	const token = "tok-never-echoed"
	r = c.do("GET", "/reset-password?token="+token, "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET /reset-password = %d", r.status)
	}
	bodyHas(t, r, `<form method="post" action="/reset-password"`, `name="token" value="`+token+`"`, `autocomplete="new-password"`)
	r = c.post("/reset-password", url.Values{"token": {token}, "password": {"a-long-new-password"}, "confirm": {"a-long-new-password"}})
	if r.status != http.StatusNotImplemented {
		t.Errorf("POST /reset-password = %d, want 501", r.status)
	}
	bodyHas(t, r, "Password reset is not available")
	bodyLacks(t, r, token)

	if got := h.events(t, auth.AuditFilter{Action: "auth.password-reset"}); len(got) != 0 {
		t.Errorf("password-reset events = %d, want 0", len(got))
	}
}

// TestUIPasswordResetFlow runs both forms against a provider that supports
// reset: the link base is the API's, the forgot page answers the same for
// an unknown address, bad input and bad tokens are inline errors that never
// show the token, and success lands on /login with the notice, audited.
func TestUIPasswordResetFlow(t *testing.T) {
	h, creds := newResettableHarness(t, 0)
	c := h.client(t)

	known := c.post("/forgot-password", url.Values{"email": {demoEmail}})
	unknown := c.post("/forgot-password", url.Values{"email": {"nobody@example.com"}})
	for _, r := range []response{known, unknown} {
		if r.status != http.StatusOK {
			t.Fatalf("POST /forgot-password = %d", r.status)
		}
		bodyHas(t, r, "If an account exists for")
	}
	if strings.ReplaceAll(string(known.body), demoEmail, "x") != strings.ReplaceAll(string(unknown.body), "nobody@example.com", "x") {
		t.Error("the forgot-password page differs for a known and an unknown address")
	}
	if want, got := demoEmail+" "+h.srv.URL+"/reset-password", creds.requestList(); len(got) != 2 || got[0] != want {
		t.Fatalf("provider requests = %q, want first %q", got, want)
	}

	token := "tok-secret-" + demoEmail
	reset := func(tok, pw, confirm string) response {
		return c.post("/reset-password", url.Values{"token": {tok}, "password": {pw}, "confirm": {confirm}})
	}
	// Checked here: the confirmation must match.
	r := reset(token, "a-long-new-password", "something-else")
	if r.status != http.StatusBadRequest {
		t.Errorf("mismatched confirmation = %d", r.status)
	}
	bodyHas(t, r, "The two passwords do not match.", `name="token" value="`+token+`"`)
	// The provider's policy: its message, and the form stays usable.
	r = reset(token, "short", "short")
	if r.status != http.StatusBadRequest {
		t.Errorf("weak password = %d", r.status)
	}
	bodyHas(t, r, "Password too short", `aria-invalid="true"`, `name="token" value="`+token+`"`)
	// A bad token: an inline error, a way to a new link, no form, no echo.
	const bogus = "tok-bogus-value"
	r = reset(bogus, "a-long-new-password", "a-long-new-password")
	if r.status != http.StatusUnauthorized {
		t.Errorf("bad token = %d", r.status)
	}
	bodyHas(t, r, "This reset link is invalid or has expired", `href="/forgot-password"`)
	bodyLacks(t, r, bogus, `name="token"`)

	r = reset(token, "a-long-new-password", "a-long-new-password")
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/login?notice=password-reset" {
		t.Fatalf("reset = %d %q", r.status, r.header.Get("Location"))
	}
	if _, n := creds.calls(); n != 1 {
		t.Errorf("accepted resets = %d, want 1", n)
	}
	bodyHas(t, c.do("GET", "/login?notice=password-reset", "", nil), "Your password has been changed.")
	// The token was single use.
	r = reset(token, "another-long-password", "another-long-password")
	bodyHas(t, r, "This reset link is invalid or has expired")
	bodyLacks(t, r, token)

	events := h.events(t, auth.AuditFilter{Action: "auth.password-reset"})
	if len(events) != 1 || events[0].Outcome != auth.OutcomeSuccess {
		t.Fatalf("password-reset events = %+v, want one success", events)
	}
	for _, e := range events {
		if strings.Contains(toJSON(e), "tok-") {
			t.Errorf("an audit event holds a token: %s", toJSON(e))
		}
	}

	// A link without a token offers a new one instead of a form.
	r = c.do("GET", "/reset-password", "", nil)
	if r.status != http.StatusBadRequest {
		t.Errorf("GET /reset-password without a token = %d", r.status)
	}
	bodyHas(t, r, "This reset link is incomplete", `href="/forgot-password"`)
	bodyLacks(t, r, `<form method="post" action="/reset-password"`)
}

// TestUIPasswordResetFormsNeedSameOrigin: a cross-site post of either form
// is refused before it reaches the provider.
func TestUIPasswordResetFormsNeedSameOrigin(t *testing.T) {
	h, creds := newResettableHarness(t, 0)
	c := h.client(t)
	creds.addToken("tok-valid", demoEmail)
	for path, form := range map[string]url.Values{
		"/forgot-password": {"email": {demoEmail}},
		"/reset-password":  {"token": {"tok-valid"}, "password": {"a-long-new-password"}, "confirm": {"a-long-new-password"}},
	} {
		hdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example"}
		if r := c.do("POST", path, form.Encode(), hdr); r.status != http.StatusForbidden {
			t.Errorf("cross-site POST %s = %d", path, r.status)
		}
	}
	if requests, resets := creds.calls(); requests != 0 || resets != 0 {
		t.Errorf("a refused form reached the provider: %d requests, %d resets", requests, resets)
	}
	if got := h.events(t, auth.AuditFilter{Action: "auth.denied"}); len(got) != 2 {
		t.Errorf("denied events = %d, want 2", len(got))
	}
}

// TestUIPasswordResetRateLimited: reset requests and refused tokens count
// against the client's address; once over the per-IP limit neither form
// reaches the provider.
func TestUIPasswordResetRateLimited(t *testing.T) {
	h, creds := newResettableHarness(t, 3)
	c := h.client(t)
	for i := 0; i < 2; i++ {
		if r := c.post("/forgot-password", url.Values{"email": {"someone@example.com"}}); r.status != http.StatusOK {
			t.Fatalf("reset request %d = %d", i, r.status)
		}
	}
	if r := c.post("/reset-password", url.Values{"token": {"tok-guess"}, "password": {"a-long-new-password"}, "confirm": {"a-long-new-password"}}); r.status != http.StatusUnauthorized {
		t.Fatalf("guessed token = %d", r.status)
	}
	creds.addToken("tok-valid", demoEmail)
	for path, form := range map[string]url.Values{
		"/forgot-password": {"email": {"someone@example.com"}},
		"/reset-password":  {"token": {"tok-valid"}, "password": {"a-long-new-password"}, "confirm": {"a-long-new-password"}},
	} {
		r := c.post(path, form)
		if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
			t.Errorf("POST %s over the limit = %d Retry-After %q", path, r.status, r.header.Get("Retry-After"))
		}
		bodyHas(t, r, "Too many attempts")
	}
	if requests, resets := creds.calls(); requests != 2 || resets != 0 {
		t.Errorf("provider calls over the limit: %d requests (want 2), %d resets (want 0)", requests, resets)
	}
}

// TestUINotFound: a browser gets an HTML page for an unknown path; the API
// and clients that do not ask for HTML get JSON.
func TestUINotFound(t *testing.T) {
	h := newHarness(t, nil)
	c := h.client(t)
	browser := map[string]string{"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
	r := c.do("GET", "/no/such/page", "", browser)
	if r.status != http.StatusNotFound || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("browser GET /no/such/page = %d %q", r.status, r.header.Get("Content-Type"))
	}
	bodyHas(t, r, "Page not found", `<main id="main"`, `href="/"`)
	for _, tc := range []struct {
		path string
		hdr  map[string]string
	}{
		{"/no/such/page", nil},
		{"/no/such/page", map[string]string{"Accept": "application/json"}},
		{"/api/no/such/route", browser},
		{"/api", browser},
	} {
		r := c.do("GET", tc.path, "", tc.hdr)
		if r.status != http.StatusNotFound || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Errorf("GET %s (Accept %q) = %d %q", tc.path, tc.hdr["Accept"], r.status, r.header.Get("Content-Type"))
			continue
		}
		if got := r.json(t)["error"]; got != "not_found" {
			t.Errorf("GET %s error = %v", tc.path, got)
		}
	}
}
