package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk"
)

func jsonBytes(v any) ([]byte, error) { return json.Marshal(v) }

// SignIn signs in with Better Auth's /sign-in/email and passes its session
// cookie on.
func (provider) SignIn(ctx context.Context, req abi.SignInRequest) (*abi.CredentialsResult, error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, err
	}
	email := strings.TrimSpace(req.Email)
	if email == "" || req.Password == "" {
		return nil, abi.Errorf(abi.CodeInvalidRequest, "betterauth sign-in: email and password are required")
	}
	if strings.ContainsFunc(req.Password, unicode.IsControl) {
		// Better Auth signs "pw\x00" in as "pw": no password has them.
		return nil, abi.Errorf(abi.CodeInvalidCredentials, "invalid email or password")
	}
	var res authResult
	resp, err := call(ctx, cfg, apiCall{op: "sign-in", method: http.MethodPost, path: "/sign-in/email",
		body: map[string]any{"email": email, "password": req.Password, "rememberMe": true}, client: &req.Request},
		abi.CodeInvalidCredentials, &res)
	if err != nil {
		return nil, err
	}
	out, err := credentialsResult(ctx, cfg, resp, res)
	if err != nil {
		return nil, errorf(err, "betterauth sign-in")
	}
	if out.Session == nil && cfg.RequireEmailVerification {
		return nil, abi.Errorf(abi.CodeForbidden, "betterauth sign-in: email not verified")
	}
	return out, nil
}

// SignUp creates the account with Better Auth's /sign-up/email (which signs
// the user in unless Better Auth is configured otherwise). The name defaults
// to the email's local part.
func (provider) SignUp(ctx context.Context, req abi.SignUpRequest) (*abi.CredentialsResult, error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, err
	}
	if !cfg.signUp {
		return nil, abi.Errorf(abi.CodeSignUpDisabled, "betterauth sign-up: sign-up is disabled")
	}
	email := strings.TrimSpace(req.Email)
	if email == "" || req.Password == "" {
		return nil, abi.Errorf(abi.CodeInvalidRequest, "betterauth sign-up: email and password are required")
	}
	if strings.ContainsFunc(req.Password, unicode.IsControl) {
		return nil, abi.Errorf(abi.CodeInvalidRequest, "betterauth sign-up: the password contains control characters")
	}
	name := strings.TrimSpace(req.Name)
	if name == "" {
		name, _, _ = strings.Cut(email, "@")
		if name == "" {
			name = "User"
		}
	}
	var res authResult
	resp, err := call(ctx, cfg, apiCall{op: "sign-up", method: http.MethodPost, path: "/sign-up/email",
		body: map[string]any{"email": email, "password": req.Password, "name": name}, client: &req.Request},
		abi.CodeInvalidRequest, &res)
	if err != nil {
		return nil, err
	}
	out, err := credentialsResult(ctx, cfg, resp, res)
	if err != nil {
		return nil, errorf(err, "betterauth sign-up")
	}
	return out, nil
}

// credentialsResult builds the sign-in/sign-up result from Better Auth's
// answer: the user, the session token (signed, as in the cookie), the
// session and Better Auth's Set-Cookie values. With
// require_email_verification an unverified user gets no session: the one
// Better Auth created is signed out again.
func credentialsResult(ctx context.Context, cfg *config, resp *apiResponse, res authResult) (*abi.CredentialsResult, error) {
	if res.User.ID == "" {
		return nil, abi.Errorf(abi.CodeUnavailable, "unexpected response: no user")
	}
	u := res.User.toABI()
	out := &abi.CredentialsResult{User: *u}
	token := resp.header.Get("Set-Auth-Token")
	if token == "" {
		token = sessionCookieValue(cfg, resp.header)
	}
	if token == "" && res.Token != nil {
		token = *res.Token
	}
	if token == "" { // e.g. Better Auth's autoSignIn is off
		return out, nil
	}
	if cfg.RequireEmailVerification && !verified(u) {
		if err := (provider{}).DestroySession(ctx, token); err != nil {
			pdk.Log.Warn("sign out of unverified user failed", "user_id", u.ID, "error", err)
		}
		return out, nil
	}
	now := time.Now().UTC()
	expires := now.Add(7 * 24 * time.Hour) // Better Auth's default expiresIn
	if maxAge, ok := sessionCookieMaxAge(cfg, resp.header); ok {
		expires = now.Add(time.Duration(maxAge) * time.Second)
	}
	out.Token = token
	out.Session = sessionFor(token, baSession{UserID: u.ID, CreatedAt: now, ExpiresAt: expires}, u)
	out.SetCookie = append([]string{}, resp.header.Values("Set-Cookie")...)
	remember(u, token, expires)
	return out, nil
}

// sessionCookieValue returns the decoded value of the session cookie in
// Better Auth's Set-Cookie headers.
func sessionCookieValue(cfg *config, h http.Header) string {
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == cfg.CookiePrefix+".session_token" || c.Name == "__Secure-"+cfg.CookiePrefix+".session_token" {
			return c.Value
		}
	}
	return ""
}

// sessionCookieMaxAge returns the Max-Age of the session cookie.
func sessionCookieMaxAge(cfg *config, h http.Header) (int, bool) {
	for _, line := range h.Values("Set-Cookie") {
		name, _, _ := strings.Cut(line, "=")
		if name != cfg.CookiePrefix+".session_token" && name != "__Secure-"+cfg.CookiePrefix+".session_token" {
			continue
		}
		for _, attr := range strings.Split(line, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(attr), "=")
			if strings.EqualFold(k, "Max-Age") {
				n, err := strconv.Atoi(v)
				return n, err == nil && n > 0
			}
		}
	}
	return 0, false
}

// SignUpEnabled reports the sign_up_enabled setting.
func (provider) SignUpEnabled(context.Context) (bool, error) {
	cfg, err := loadConfig()
	if err != nil {
		return false, err
	}
	return cfg.signUp, nil
}

// RequestPasswordReset asks Better Auth to send a reset email. It succeeds
// for unknown emails too; not_supported when Better Auth has no
// sendResetPassword configured.
func (provider) RequestPasswordReset(ctx context.Context, req abi.PasswordResetRequest) error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	email := strings.TrimSpace(req.Email)
	if email == "" {
		return abi.Errorf(abi.CodeInvalidRequest, "betterauth password reset: email is required")
	}
	body := map[string]any{"email": email}
	if r := req.RedirectURI; r != "" {
		body["redirectTo"] = r
	} else if cfg.PasswordResetRedirectURL != "" {
		body["redirectTo"] = cfg.PasswordResetRedirectURL
	}
	_, err = call(ctx, cfg, apiCall{op: "request-password-reset", method: http.MethodPost, path: "/request-password-reset", body: body},
		abi.CodeInvalidRequest, nil)
	return err
}

// ResetPassword sets a new password with a reset token: a bad or expired
// token is invalid_credentials, a weak password invalid_request.
func (provider) ResetPassword(ctx context.Context, req abi.PasswordResetApply) error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	if req.Token == "" || req.NewPassword == "" {
		return abi.Errorf(abi.CodeInvalidRequest, "betterauth password reset: token and new_password are required")
	}
	_, err = call(ctx, cfg, apiCall{op: "reset-password", method: http.MethodPost, path: "/reset-password",
		body: map[string]any{"token": req.Token, "newPassword": req.NewPassword}}, abi.CodeInvalidCredentials, nil)
	return err
}
