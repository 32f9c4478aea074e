package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/authhost/authhost/auth"
)

// TestPublicMessage: an invalid_request message reaches the user only
// when it is short, printable text and not a host function's diagnostic.
func TestPublicMessage(t *testing.T) {
	t.Parallel()
	const fb = "fallback"
	for _, c := range []struct {
		msg, want string
	}{
		{"password must be at least 8 characters", "password must be at least 8 characters"},
		{"le mot de passe doit contenir 8 caractères", "le mot de passe doit contenir 8 caractères"},
		{"", fb},
		{strings.Repeat("a", 201), fb},
		{"bad\nmessage", fb},
		{"bad\x00message", fb},
		{"evil \u202egnp.exe", fb}, // bidi override
		{"zero\u200bwidth", fb},    // format character
		{"bad \xff utf-8", fb},     // invalid UTF-8
		{"kv_set: quota exceeded: 100 bytes in 3 keys", fb},
		{"authhost kv_cas: kv: key of 600 bytes exceeds 512", fb},
		{"sign up: authhost password_hash: password_hash: bcrypt takes at most 72 password bytes", fb},
		{"http_do: host not allowed", fb},
		{"catalog: name required", "catalog: name required"},
	} {
		err := fmt.Errorf("wrapped: %w", &auth.Error{Code: auth.CodeInvalidRequest, Message: c.msg})
		if got := publicMessage(err, fb); got != c.want {
			t.Errorf("publicMessage(%q) = %q, want %q", c.msg, got, c.want)
		}
	}
	if got := publicMessage(fmt.Errorf("plain"), fb); got != fb {
		t.Errorf("non-auth error shown: %q", got)
	}
}

// failingCredentials fails every sign-in with err.
type failingCredentials struct {
	auth.CredentialsProvider
	err error
}

func (f failingCredentials) SignIn(context.Context, string, string, *http.Request) (*auth.CredentialsResult, error) {
	return nil, f.err
}

// TestSignInProviderFault: a provider fault at sign-in is 503 unavailable
// (internal included: the user can only retry), rate_limited stays 429,
// and the provider's message never reaches the user.
func TestSignInProviderFault(t *testing.T) {
	t.Parallel()
	for code, want := range map[auth.Code]struct {
		status int
		code   string
	}{
		auth.CodeInternal:    {http.StatusServiceUnavailable, "unavailable"},
		auth.CodeUnavailable: {http.StatusServiceUnavailable, "unavailable"},
		auth.CodeRateLimited: {http.StatusTooManyRequests, "rate_limited"},
	} {
		h := newHarness(t, func(c *Config) {
			c.Auth.Credentials = failingCredentials{c.Auth.Credentials, &auth.Error{Code: code, Message: "secret detail"}}
		})
		r := h.client(t).signIn("alice@example.com", "whatever")
		m := r.json(t)
		if r.status != want.status || m["error"] != want.code || strings.Contains(string(r.body), "secret") {
			t.Errorf("%s: %d %s, want %d %s", code, r.status, r.body, want.status, want.code)
		}
	}
}
