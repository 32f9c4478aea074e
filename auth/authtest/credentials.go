package authtest

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/authhost/authhost/auth"
)

// Account is a sign-in a credentials suite may use: an existing account of
// the provider (from its configuration), for providers without sign-up.
type Account struct {
	Email, Password string
}

// CredentialsOptions tells TestCredentials what the provider offers beyond
// the interface.
type CredentialsOptions struct {
	// Known is an existing account; empty makes the suite sign up one of
	// its own when sign-up is enabled, and skip the cases that need an
	// account otherwise.
	Known Account
}

// specCredentials is the SPEC.md section the credentials cases check.
const specCredentials = "SPEC.md §5.4 credentials"

// TestCredentials checks a credentials provider: sign-up and sign-in of a
// fresh account when sign-up is enabled (sign_up_disabled otherwise),
// already_exists on a second sign-up, invalid_credentials with one message
// for a wrong password and an unknown email (no account enumeration), and
// refusal of look-alike, control-character and empty inputs. Failures name
// the SPEC.md section they break and show what was sent and what came back.
// It returns the user the account signed in as (nil when no sign-in
// succeeded), for TestUser.
func TestCredentials(t T, p auth.CredentialsProvider, opts CredentialsOptions) *auth.User {
	t.Helper()
	var signedIn *auth.User
	ctx := t.Context()
	known := opts.Known
	enabled := p.SignUpEnabled(ctx)
	if enabled {
		t.Run("SignUp", func(t T) {
			email, pw := fmt.Sprintf("conformance-%s@example.com", randHex(6)), "Pw-"+randHex(12)
			res, err := p.SignUp(ctx, email, pw, "Conformance", httptest.NewRequest("POST", "/api/auth/sign-up", nil))
			if err != nil {
				t.Fatalf("%s: credentials_sign_up {email:%q} answered %v, want a user", specCredentials, email, err)
			}
			if res.User.ID == "" || !strings.EqualFold(res.User.Email, email) {
				t.Fatalf("%s: credentials_sign_up {email:%q} answered user %+v, want an id and the email", specCredentials, email, res.User)
			}
			in, err := p.SignIn(ctx, email, pw, httptest.NewRequest("POST", "/api/auth/sign-in", nil))
			if err != nil {
				t.Fatalf("%s: credentials_sign_in of the account just signed up {email:%q} answered %v", specCredentials, email, err)
			}
			if in.User.ID != res.User.ID {
				t.Errorf("%s: sign-in gave user id %q, sign-up %q", specCredentials, in.User.ID, res.User.ID)
			}
			_, err = p.SignUp(ctx, email, pw, "Again", httptest.NewRequest("POST", "/api/auth/sign-up", nil))
			wantCode(t, "second credentials_sign_up of "+email, err, auth.CodeAlreadyExists)
			if known.Email == "" {
				known = Account{Email: email, Password: pw}
			}
		})
		t.Run("SignUpBadEmail", func(t T) {
			for _, email := range []string{"not-an-email", "", "null", "a@b@example.com", "ev\u0000il@example.com", "x@[127.0.0.1]\n"} {
				_, err := p.SignUp(ctx, email, "Pw-"+randHex(12), "", httptest.NewRequest("POST", "/api/auth/sign-up", nil))
				wantCode(t, fmt.Sprintf("credentials_sign_up {email:%q}", email), err, auth.CodeInvalidRequest)
			}
		})
	} else {
		t.Run("SignUpDisabled", func(t T) {
			_, err := p.SignUp(ctx, "conformance-"+randHex(6)+"@example.com", "Pw-"+randHex(12), "", httptest.NewRequest("POST", "/api/auth/sign-up", nil))
			wantCode(t, "credentials_sign_up with sign-up disabled", err, auth.CodeSignUpDisabled)
		})
	}
	if known.Email == "" {
		t.Logf("no account to sign in with (sign-up disabled and no known account configured): sign-in cases skipped")
		return nil
	}
	t.Run("SignIn", func(t T) {
		res, err := p.SignIn(ctx, known.Email, known.Password, httptest.NewRequest("POST", "/api/auth/sign-in", nil))
		if err != nil {
			t.Fatalf("%s: credentials_sign_in {email:%q} with the right password answered %v", specCredentials, known.Email, err)
		}
		if res.User.ID == "" {
			t.Fatalf("%s: credentials_sign_in {email:%q} answered a user without id: %+v", specCredentials, known.Email, res.User)
		}
		signedIn = &res.User
	})
	t.Run("SignInFailuresAlike", func(t T) {
		_, wrong := p.SignIn(ctx, known.Email, known.Password+"x", httptest.NewRequest("POST", "/api/auth/sign-in", nil))
		wantCode(t, fmt.Sprintf("credentials_sign_in {email:%q, password: wrong}", known.Email), wrong, auth.CodeInvalidCredentials)
		unknownEmail := "nobody-" + randHex(6) + "@example.com"
		_, unknown := p.SignIn(ctx, unknownEmail, known.Password, httptest.NewRequest("POST", "/api/auth/sign-in", nil))
		wantCode(t, fmt.Sprintf("credentials_sign_in {email:%q} (unknown)", unknownEmail), unknown, auth.CodeInvalidCredentials)
		if m1, m2 := message(wrong), message(unknown); m1 != m2 {
			t.Errorf("%s: wrong password answered %q but unknown email %q: the message reveals which accounts exist", specCredentials, m1, m2)
		}
	})
	t.Run("SignInLookalikes", func(t T) {
		local, domain, _ := strings.Cut(known.Email, "@")
		variants := []string{
			strings.Replace(known.Email, "a", "\u0430", 1), // Cyrillic a
			strings.Replace(known.Email, "e", "\u0435", 1), // Cyrillic e
			local + "\u200b@" + domain,                     // zero-width space
			known.Email + "\x00",
			"null",
		}
		for _, email := range variants {
			if email == known.Email {
				continue
			}
			_, err := p.SignIn(ctx, email, known.Password, httptest.NewRequest("POST", "/api/auth/sign-in", nil))
			if code := auth.CodeOf(err); code != auth.CodeInvalidCredentials && code != auth.CodeInvalidRequest {
				t.Errorf("%s: credentials_sign_in {email:%q} (a look-alike of %q) with its password answered %v, want invalid_credentials or invalid_request", specCredentials, email, known.Email, errOrOK(err))
			}
		}
		for _, pw := range []string{"", "null", known.Password + "\x00", strings.ToUpper(known.Password)} {
			if pw == known.Password {
				continue
			}
			_, err := p.SignIn(ctx, known.Email, pw, httptest.NewRequest("POST", "/api/auth/sign-in", nil))
			if code := auth.CodeOf(err); code != auth.CodeInvalidCredentials && code != auth.CodeInvalidRequest {
				t.Errorf("%s: credentials_sign_in {email:%q, password:%q} answered %v, want invalid_credentials or invalid_request", specCredentials, known.Email, pw, errOrOK(err))
			}
		}
	})
	if auth.SupportsPasswordReset(p) {
		t.Run("PasswordResetUnknownEmail", func(t T) {
			email := "nobody-" + randHex(6) + "@example.com"
			if err := p.RequestPasswordReset(ctx, email, ""); err != nil && !errors.Is(err, auth.ErrNotSupported) {
				t.Errorf("SPEC.md §5.4 credentials_password_reset_request: {email:%q} (unknown) answered %v, want success (no enumeration)", email, err)
			}
		})
	}
	return signedIn
}

// wantCode fails t unless err carries code.
func wantCode(t T, what string, err error, code auth.Code) {
	t.Helper()
	if got := auth.CodeOf(err); got != code {
		t.Errorf("%s: %s answered %v, want %s", specCredentials, what, errOrOK(err), code)
	}
}

func errOrOK(err error) string {
	if err == nil {
		return "success"
	}
	return err.Error()
}

// message returns the provider's message of an *auth.Error.
func message(err error) string {
	var e *auth.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return ""
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}
