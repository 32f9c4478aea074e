package betterauth_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/authhost/authhost/internal/testenv/authhostenv"
	"github.com/authhost/authhost/internal/testenv/betterauth"
)

// TestCredentialErrors checks that Better Auth's refusals reach authhost's
// API as the documented statuses and codes.
func TestCredentialErrors(t *testing.T) {
	t.Parallel()
	peer := betterauth.Start(t)
	env := startAuthhost(t, peer)
	email := uniqueEmail(t)
	signUp(t, env.Client(), email, "Existing")

	tests := []struct {
		name   string
		path   string
		body   map[string]string
		status int
		code   string
	}{
		{"duplicate sign-up", "/api/auth/credentials/sign-up", map[string]string{"email": email, "password": password}, http.StatusConflict, "already_exists"},
		{"duplicate sign-up, other case", "/api/auth/credentials/sign-up", map[string]string{"email": strings.ToUpper(email), "password": password}, http.StatusConflict, "already_exists"},
		{"wrong password", "/api/auth/credentials/sign-in", map[string]string{"email": email, "password": "wrong-horse-battery"}, http.StatusUnauthorized, "invalid_credentials"},
		{"unknown email", "/api/auth/credentials/sign-in", map[string]string{"email": "nobody-" + email, "password": password}, http.StatusUnauthorized, "invalid_credentials"},
		{"password too short for Better Auth", "/api/auth/credentials/sign-up", map[string]string{"email": "short-" + email, "password": "short"}, http.StatusBadRequest, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := env.Client()
			r := c.Do(t, "POST", tt.path, tt.body)
			wantError(t, tt.name, r, tt.status, tt.code)
			if c.Cookie(sessionCookie) != "" || len(r.Header.Values("Set-Cookie")) != 0 {
				t.Fatalf("%s set cookies: %q", tt.name, r.Header.Values("Set-Cookie"))
			}
		})
	}
}

// TestSignUpDisabled: with the plugin's sign_up_enabled off, authhost
// refuses sign-up (403) and says so in its capabilities, while sign-in of
// existing users works.
func TestSignUpDisabled(t *testing.T) {
	t.Parallel()
	peer := betterauth.Start(t)
	email := uniqueEmail(t)
	if st, _, body := peerCall(t, peer, "POST", "/sign-up/email", map[string]string{"email": email, "password": password, "name": "Pre"}, nil); st != http.StatusOK {
		t.Fatalf("peer sign-up = %d %s", st, body)
	}
	env := startAuthhost(t, peer, "sign_up_enabled: false")
	c := env.Client()
	r := c.Do(t, "POST", "/api/auth/credentials/sign-up", map[string]string{"email": "new-" + email, "password": password})
	wantError(t, "sign-up", r, http.StatusForbidden, "sign_up_disabled")
	// Nothing was created on Better Auth.
	if st, _, body := peerCall(t, peer, "POST", "/sign-in/email", map[string]string{"email": "new-" + email, "password": password}, nil); st != http.StatusUnauthorized {
		t.Fatalf("peer sign-in of the refused user = %d %s, want 401", st, body)
	}

	var caps struct {
		Login struct {
			SignUpEnabled *bool `json:"signUpEnabled"`
		} `json:"login"`
	}
	cr := c.Do(t, "GET", "/api/auth/capabilities", nil)
	cr.Decode(t, &caps)
	if caps.Login.SignUpEnabled == nil || *caps.Login.SignUpEnabled {
		t.Errorf("capabilities login.signUpEnabled = %v, want false: %s", caps.Login.SignUpEnabled, cr.Body)
	}

	if r := signIn(t, c, strings.ToUpper(email), password); r.Status != http.StatusOK {
		t.Fatalf("sign-in of an existing user (email upper-cased) = %d %s", r.Status, r.Body)
	}
}

// TestPasswordReset: request and confirm a reset through authhost's API;
// the peer records the token it would have emailed.
func TestPasswordReset(t *testing.T) {
	t.Parallel()
	peer := betterauth.Start(t)
	env := startAuthhost(t, peer)
	email := uniqueEmail(t)
	c := env.Client()
	signUp(t, c, email, "Reset")

	for _, e := range []string{email, "nobody-" + email} {
		if r := c.Do(t, "POST", "/api/auth/credentials/password-reset", map[string]string{"email": e}); r.Status != http.StatusAccepted {
			t.Fatalf("reset request for %s = %d %s", e, r.Status, r.Body)
		}
	}
	token, err := peer.ResetToken(t.Context(), email)
	if err != nil {
		t.Fatalf("no reset token was sent (authhost log below): %v", err)
	}

	const newPassword = "new-horse-battery-staple"
	confirm := func(tok, pw string) *authhostenv.Response {
		return c.Do(t, "POST", "/api/auth/credentials/password-reset/confirm", map[string]string{"token": tok, "newPassword": pw})
	}
	wantError(t, "confirm with a bogus token", confirm("bogus-token", newPassword), http.StatusUnauthorized, "invalid_credentials")
	wantError(t, "confirm with a weak password", confirm(token, "short"), http.StatusBadRequest, "invalid_request")
	if r := confirm(token, newPassword); r.Status != http.StatusOK {
		t.Fatalf("confirm = %d %s", r.Status, r.Body)
	}
	wantError(t, "confirm twice", confirm(token, newPassword+"2"), http.StatusUnauthorized, "invalid_credentials")

	fresh := env.Client()
	wantError(t, "sign-in with the old password", signIn(t, fresh, email, password), http.StatusUnauthorized, "invalid_credentials")
	if r := signIn(t, fresh, email, newPassword); r.Status != http.StatusOK {
		t.Fatalf("sign-in with the new password = %d %s", r.Status, r.Body)
	}
}

// TestRequireEmailVerification: with require_email_verification a new
// account gets no session until its email is verified; afterwards sign-in
// works and /me says the email is verified.
func TestRequireEmailVerification(t *testing.T) {
	t.Parallel()
	peer := betterauth.Start(t)
	env := startAuthhost(t, peer, "require_email_verification: true")
	email := uniqueEmail(t)

	c := env.Client()
	if r := c.Do(t, "POST", "/api/auth/credentials/sign-up", map[string]string{"email": email, "password": password, "name": "Unverified"}); r.Status != http.StatusCreated {
		t.Fatalf("sign-up = %d %s", r.Status, r.Body)
	}
	if c.Cookie(sessionCookie) != "" {
		t.Fatal("an unverified sign-up got a session cookie")
	}
	if status, _, r := me(t, c); status != http.StatusUnauthorized {
		t.Fatalf("me after an unverified sign-up = %d %s, want 401", status, r.Body)
	}
	// The password is right, so the answer says why (403), not "wrong
	// password" (401).
	r := signIn(t, c, email, password)
	wantError(t, "sign-in of an unverified user", r, http.StatusForbidden, "forbidden")
	if c.Cookie(sessionCookie) != "" {
		t.Fatal("an unverified sign-in got a session cookie")
	}

	if err := peer.VerifyEmail(t.Context(), email); err != nil {
		t.Fatal(err)
	}
	if r := signIn(t, c, email, password); r.Status != http.StatusOK {
		t.Fatalf("sign-in after verification = %d %s", r.Status, r.Body)
	}
	status, u, resp := me(t, c)
	if status != http.StatusOK || u.Metadata["emailVerified"] != true {
		t.Fatalf("me after verification = %d %s", status, resp.Body)
	}
}
