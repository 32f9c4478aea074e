package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk"
	"github.com/workos/workos-go/v4/pkg/usermanagement"
)

// sessionMaxAge is how long a session (and its cookie) lives; WorkOS
// refresh tokens keep it usable in between.
const sessionMaxAge = 7 * 24 * time.Hour

// mapUser maps a WorkOS user to an authhost user: name is "first last",
// else first name, else email.
func mapUser(u usermanagement.User) abi.User {
	name := strings.TrimSpace(u.FirstName + " " + u.LastName)
	if u.FirstName == "" || u.LastName == "" {
		name = u.FirstName
	}
	if name == "" {
		name = u.Email
	}
	md := map[string]any{
		"workos_id":      u.ID,
		"email_verified": u.EmailVerified,
	}
	if u.CreatedAt != "" {
		md["created_at"] = u.CreatedAt
	}
	if u.ExternalID != "" {
		md["external_id"] = u.ExternalID
	}
	return abi.User{ID: u.ID, Email: u.Email, Name: name, AvatarURL: u.ProfilePictureURL, Metadata: md}
}

// withTokenClaims records the organization and role of an access token in
// the user's metadata (read back by rbac_roles).
func withTokenClaims(u abi.User, cl *claims) abi.User {
	if cl == nil {
		return u
	}
	if u.Metadata == nil {
		u.Metadata = map[string]any{}
	}
	// A refreshed token replaces what the previous one said (a revoked
	// role must not linger).
	for _, k := range []string{"organization_id", "workos_role", "workos_roles", "workos_permissions"} {
		delete(u.Metadata, k)
	}
	if cl.OrgID != "" {
		u.Metadata["organization_id"] = cl.OrgID
	}
	if cl.Role != "" {
		u.Metadata["workos_role"] = cl.Role
	}
	if len(cl.Roles) > 0 {
		u.Metadata["workos_roles"] = cl.Roles
	}
	if len(cl.Permissions) > 0 {
		u.Metadata["workos_permissions"] = cl.Permissions
	}
	return u
}

// LoginURL implements pdk.SSOProvider: an AuthKit (or connection,
// OAuth provider, organization) authorization URL with PKCE S256 and state.
func (provider) LoginURL(_ context.Context, req abi.SSOLoginURLRequest) (string, error) {
	c, err := getClients()
	if err != nil {
		return "", err
	}
	if req.RedirectURI == "" || req.State == "" || req.CodeChallenge == "" {
		return "", pdk.Errorf(abi.CodeInvalidRequest, "workos: sso_login_url needs redirect_uri, state and code_challenge")
	}
	method := req.CodeChallengeMethod
	if method == "" {
		method = "S256"
	}
	if method != "S256" {
		return "", pdk.Errorf(abi.CodeInvalidRequest, "workos: code_challenge_method %q is not supported, want S256", method)
	}
	opts := usermanagement.GetAuthorizationURLOpts{
		ClientID:            c.cfg.ClientID,
		RedirectURI:         req.RedirectURI,
		State:               req.State,
		CodeChallenge:       req.CodeChallenge,
		CodeChallengeMethod: method,
	}
	switch s := c.cfg.SSO; {
	case s.Connection != "":
		opts.ConnectionID = s.Connection
	case s.Provider != "":
		opts.Provider = s.Provider
	case s.Organization != "":
		opts.OrganizationID = s.Organization
	default:
		opts.Provider = "authkit"
		opts.ScreenHint = usermanagement.ScreenHint(c.cfg.SSO.ScreenHint)
	}
	u, err := c.users.GetAuthorizationURL(opts)
	if err != nil {
		return "", pdk.Errorf(abi.CodeInternal, "workos: build authorization url: %v", err)
	}
	return u.String(), nil
}

// Callback implements pdk.SSOProvider: it exchanges the code (with the PKCE
// verifier), verifies the access token and starts a session.
func (provider) Callback(ctx context.Context, req abi.SSOCallbackRequest) (*abi.SSOCallbackResult, error) {
	c, err := getClients()
	if err != nil {
		return nil, err
	}
	if req.Code == "" {
		return nil, pdk.Errorf(abi.CodeInvalidRequest, "workos: sso_callback without code")
	}
	res, err := c.users.AuthenticateWithCode(ctx, usermanagement.AuthenticateWithCodeOpts{
		ClientID:     c.cfg.ClientID,
		Code:         req.Code,
		CodeVerifier: req.CodeVerifier,
		IPAddress:    clientIP(req.Request),
		UserAgent:    header(req.Request, "User-Agent"),
	})
	if err != nil {
		return nil, classify("exchange code", err)
	}
	cl, err := verifyToken(ctx, c, res.AccessToken)
	if err != nil {
		return nil, fmt.Errorf("workos: verify access token from code exchange: %w", err)
	}
	user := withTokenClaims(mapUser(res.User), cl)
	if user.Metadata["organization_id"] == nil && res.OrganizationID != "" {
		user.Metadata["organization_id"] = res.OrganizationID
	}
	rec, err := sessions().Create(user.ID, sessionHead{WorkOSSID: cl.Sid, OrgID: cl.OrgID, AccessToken: res.AccessToken, User: user},
		&sessionSecret{RefreshToken: res.RefreshToken}, time.Now().Add(sessionMaxAge))
	if err != nil {
		return nil, fmt.Errorf("workos: start session: %w", err)
	}
	user.Roles = snapshotRoles(c.cfg, user)
	return &abi.SSOCallbackResult{
		User:      user,
		Tokens:    abi.Tokens{AccessToken: res.AccessToken, RefreshToken: res.RefreshToken, ExpiresAt: time.Unix(cl.Exp, 0).UTC()},
		SetCookie: []string{sessionCookie(c.cfg, rec.ID, rec.ExpiresAt)},
	}, nil
}

// LogoutURL implements pdk.SSOLogoutURLer: WorkOS's logout URL for the sid
// of the request's session (cookie) or bearer token; "" without one.
func (p provider) LogoutURL(ctx context.Context, req abi.SSOLogoutURLRequest) (string, error) {
	c, err := getClients()
	if err != nil {
		return "", err
	}
	sid := ""
	if id := cookieValue(req.Request, c.cfg.CookieName); id != "" {
		rec, err := sessions().Get(id)
		if err != nil {
			return "", err
		}
		if rec != nil {
			sid = rec.Head.WorkOSSID
		}
	}
	if sid == "" {
		if tok := bearer(req.Request); tok != "" {
			cl, err := verifyToken(ctx, c, tok)
			if err == nil || errors.Is(err, errExpired) {
				sid = cl.Sid
			}
		}
	}
	if sid == "" {
		return "", nil
	}
	u, err := c.users.GetLogoutURL(usermanagement.GetLogoutURLOpts{SessionID: sid, ReturnTo: req.RedirectURI})
	if err != nil {
		return "", pdk.Errorf(abi.CodeInternal, "workos: build logout url: %v", err)
	}
	return u.String(), nil
}

// sessionCookie renders the Set-Cookie value carrying session id.
func sessionCookie(cfg *config, id string, expires time.Time) string {
	ck := &http.Cookie{
		Name: cfg.CookieName, Value: id, Path: "/", HttpOnly: true, Secure: cfg.CookieSecure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(time.Until(expires).Seconds()),
	}
	return ck.String()
}

// header returns the first value of header name.
func header(r abi.Request, name string) string {
	if v := r.Headers[http.CanonicalHeaderKey(name)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// bearer returns the bearer token of the request, if any.
func bearer(r abi.Request) string {
	h := header(r, "Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// cookieValue returns the value of cookie name.
func cookieValue(r abi.Request, name string) string {
	hr := http.Request{Header: http.Header{"Cookie": r.Headers["Cookie"]}}
	if ck, err := hr.Cookie(name); err == nil {
		return ck.Value
	}
	return ""
}

// clientIP strips the port from the remote address.
func clientIP(r abi.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}
