package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk/pdktest"
)

// TestErrorMapping checks how Better Auth answers become ABI codes, with a
// fake server for the answers the real one does not give on demand.
func TestErrorMapping(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   abi.Code
	}{
		{"wrong password", 401, `{"message":"Invalid email or password","code":"INVALID_EMAIL_OR_PASSWORD"}`, abi.CodeInvalidCredentials},
		{"rate limited", 429, `{"message":"Too many requests"}`, abi.CodeRateLimited},
		{"server error", 500, `{"message":"boom"}`, abi.CodeUnavailable},
		{"bad gateway html", 502, `<html>bad gateway</html>`, abi.CodeUnavailable},
		{"html 200", 200, `<html>hello</html>`, abi.CodeUnavailable},
		{"missing origin", 403, `{"message":"Missing or null Origin","code":"MISSING_OR_NULL_ORIGIN"}`, abi.CodeInternal},
		{"email not verified", 403, `{"message":"Email not verified","code":"EMAIL_NOT_VERIFIED"}`, abi.CodeForbidden},
		{"no such endpoint", 404, ``, abi.CodeInternal},
		{"validation", 400, `{"message":"[body.email] Invalid email address","code":"VALIDATION_ERROR"}`, abi.CodeInvalidRequest},
		{"no user in answer", 200, `{"token":"x"}`, abi.CodeUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotOrigin string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotOrigin = r.Header.Get("Origin")
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			env := pdktest.New(t, pdktest.WithConfig(map[string]any{"base_url": srv.URL}), pdktest.WithTransport(http.DefaultTransport))
			_, err := signIn(env, "a@example.com", "pw")
			wantCode(t, tt.name, err, tt.want)
			if gotOrigin != srv.URL {
				t.Fatalf("Origin = %q, want %q", gotOrigin, srv.URL)
			}
		})
	}
}

func TestResetDisabled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(400)
		_, _ = w.Write([]byte(`{"message":"Reset password isn't enabled","code":"RESET_PASSWORD_DISABLED"}`))
	}))
	defer srv.Close()
	env := pdktest.New(t, pdktest.WithConfig(map[string]any{"base_url": srv.URL}), pdktest.WithTransport(http.DefaultTransport))
	err := env.Invoke(abi.ExportCredentialsPasswordResetReq, abi.PasswordResetRequest{Email: "a@example.com"}, nil)
	wantCode(t, "reset disabled", err, abi.CodeNotSupported)
}

// TestTransportDown: no transport at all (the host's http_do failing) is
// unavailable, never a crash.
func TestTransportDown(t *testing.T) {
	env := pdktest.New(t, pdktest.WithConfig(map[string]any{"base_url": "http://127.0.0.1:1"}))
	_, err := signIn(env, "a@example.com", "pw")
	wantCode(t, "no transport", err, abi.CodeUnavailable)
	env.FailHost(abi.HostHTTPDo, &abi.Error{Code: abi.CodeForbidden, Message: "host not allowed"})
	_, err = signIn(env, "a@example.com", "pw")
	wantCode(t, "not allowed", err, abi.CodeForbidden)
}

func TestCookies(t *testing.T) {
	env := pdktest.New(t, pdktest.WithConfig(map[string]any{"base_url": "https://auth.example.com", "cookie_prefix": "myapp"}))
	var sid abi.SessionIDResult
	req := abi.Request{Headers: map[string][]string{"Cookie": {"a=b; __Secure-myapp.session_token=tok.sig%3D"}}}
	if err := env.Invoke(abi.ExportSessionIDFromRequest, abi.SessionIDFromRequestRequest{Request: req}, &sid); err != nil || sid.SessionID != "tok.sig=" {
		t.Fatalf("session id = %q, %v", sid.SessionID, err)
	}
	var clr abi.HeadersResult
	if err := env.Invoke(abi.ExportSessionClearHeaders, nil, &clr); err != nil {
		t.Fatal(err)
	}
	want := "__Secure-myapp.session_token=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax; Secure"
	if len(clr.SetCookie) != 3 || clr.SetCookie[0] != want {
		t.Fatalf("clear = %q", clr.SetCookie)
	}
}
