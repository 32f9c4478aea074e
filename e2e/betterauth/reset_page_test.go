package betterauth_test

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/authhost/authhost/internal/testenv/authhostenv"
	"github.com/authhost/authhost/internal/testenv/betterauth"
)

// postForm submits an HTML form the way a browser does: form-encoded, with
// the client's Origin (the CSRF check wants it).
func postForm(t *testing.T, env *authhostenv.Env, c *authhostenv.Client, path string, form url.Values) *authhostenv.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, env.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.Origin)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &authhostenv.Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// page checks a response's status and that its body holds every want.
func page(t *testing.T, what string, r *authhostenv.Response, status int, want ...string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s = %d, want %d:\n%s", what, r.Status, status, r.Body)
	}
	for _, w := range want {
		if !strings.Contains(string(r.Body), w) {
			t.Fatalf("%s lacks %q:\n%s", what, w, r.Body)
		}
	}
}

var hiddenToken = regexp.MustCompile(`name="token" value="([^"]*)"`)

// TestResetPasswordPages: a user who forgot the password goes through the
// HTML forms with Better Auth behind them: the sign-in page links to
// /forgot-password, which answers the same for an unknown address; the
// token Better Auth emails opens the reset form, whose hidden field carries
// it back; a weak password is an inline error, a good one lands on the
// sign-in page with a notice, where the new password works and the old one
// fails; the used link then shows an inline error without the token.
func TestResetPasswordPages(t *testing.T) {
	t.Parallel()
	peer := betterauth.Start(t)
	env := startAuthhost(t, peer)
	email := uniqueEmail(t)
	signUp(t, env.Client(), email, "Forgetful")

	c := env.Client()
	page(t, "GET /login", c.Do(t, "GET", "/login", nil), http.StatusOK, `href="/forgot-password"`)
	page(t, "GET /forgot-password", c.Do(t, "GET", "/forgot-password", nil), http.StatusOK, `<form method="post" action="/forgot-password"`)
	page(t, "forgot, unknown address", postForm(t, env, c, "/forgot-password", url.Values{"email": {"nobody-" + email}}),
		http.StatusOK, "If an account exists for")
	page(t, "forgot", postForm(t, env, c, "/forgot-password", url.Values{"email": {email}}), http.StatusOK, "If an account exists for")

	token, err := peer.ResetToken(t.Context(), email)
	if err != nil || token == "" {
		t.Fatalf("no reset token was sent (authhost log below): %q %v", token, err)
	}
	r := c.Do(t, "GET", "/reset-password?token="+url.QueryEscape(token), nil)
	page(t, "GET /reset-password", r, http.StatusOK, `<form method="post" action="/reset-password"`)
	m := hiddenToken.FindSubmatch(r.Body)
	if m == nil || html.UnescapeString(string(m[1])) != token {
		t.Fatalf("the reset form does not carry the token:\n%s", r.Body)
	}
	form := func(pw string) url.Values {
		return url.Values{"token": {html.UnescapeString(string(m[1]))}, "password": {pw}, "confirm": {pw}}
	}

	// Better Auth's minimum length: an inline error, the form kept.
	r = postForm(t, env, c, "/reset-password", form("short"))
	page(t, "reset with a weak password", r, http.StatusBadRequest, `role="alert"`, `aria-invalid="true"`, `<form method="post" action="/reset-password"`)

	const newPassword = "new-horse-battery-staple"
	r = postForm(t, env, c, "/reset-password", form(newPassword))
	if r.Status != http.StatusSeeOther || r.Location() != "/login?notice=password-reset" {
		t.Fatalf("reset = %d %q:\n%s", r.Status, r.Location(), r.Body)
	}
	page(t, "the sign-in page after the reset", c.Do(t, "GET", r.Location(), nil), http.StatusOK, "Your password has been changed.")

	page(t, "sign-in with the old password", postForm(t, env, c, "/login", url.Values{"email": {email}, "password": {password}}),
		http.StatusUnauthorized, "Invalid email or password")
	r = postForm(t, env, c, "/login", url.Values{"email": {email}, "password": {newPassword}})
	if r.Status != http.StatusSeeOther || r.Location() != "/account" {
		t.Fatalf("sign-in with the new password = %d %q:\n%s", r.Status, r.Location(), r.Body)
	}

	// The link is single use: an inline error and a way to a new one.
	r = postForm(t, env, c, "/reset-password", form(newPassword+"-again"))
	page(t, "reset with a used token", r, http.StatusUnauthorized, "This reset link is invalid or has expired", `href="/forgot-password"`)
	if strings.Contains(string(r.Body), token) {
		t.Errorf("the error page shows the token:\n%s", r.Body)
	}

	// Audited as the API's reset is (the signed-in user maps to admin).
	ar := c.Do(t, "GET", "/api/audit?action=auth.password-reset&outcome=success", nil)
	if ar.Status != http.StatusOK || !strings.Contains(string(ar.Body), `"action":"auth.password-reset"`) {
		t.Fatalf("audit lacks the reset: %d %s", ar.Status, ar.Body)
	}
	if strings.Contains(string(ar.Body), token) || strings.Contains(env.Logs(), token) {
		t.Error("the token reached the audit log or the server log")
	}
}
