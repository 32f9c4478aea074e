package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk"
	"github.com/authhost/authhost/pdk/kvsession"
)

// The plugin manages its own sessions (manages_sessions in describe) and
// offers them as the session capability, so the host validates, refreshes
// and destroys them (logout) and clears their cookie: the session cookie
// carries a random 256-bit id, and KV keeps, under the id's SHA-256, the
// user and the issuer's tokens. That binds the session to the issuer: the
// refresh token is rotated when the access token expires, an issuer that
// refuses the refresh (user disabled, grant revoked) ends the session, and
// ending a session revokes its tokens.
//
// KV holds a session in two records: the head (user snapshot and
// expiries), read on every request, and the tokens (access, refresh and
// ID token, about 2 KB with an RS256 ID token), read only to rotate or end
// the session or to build the logout URL. Every KV read inside the sandbox
// costs in proportion to its size (JSON with the value base64-encoded), so
// the split keeps requests cheap. A session is valid while its head is:
// the head is written after the tokens and deleted before them.

// sessionHead is the head of one signed-in browser: what pdk/kvsession
// keeps beside the id, user id and expiries.
type sessionHead struct {
	User         abi.User  `json:"user"`
	AccessExpiry time.Time `json:"access_expires_at,omitzero"`
	// Refreshable is set when the tokens hold a refresh token.
	Refreshable bool `json:"refreshable,omitempty"`
	// Secure is the cookie's Secure attribute, fixed at sign-in.
	Secure bool `json:"secure,omitempty"`
}

// tokens are the issuer's tokens of a session (kvsession's secret record).
type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token"`
}

// session is one signed-in browser.
type session = kvsession.Session[sessionHead]

// sessions is the session store under the configured key prefix
// (configuration only; the state is in KV).
func sessions(cfg *config) *kvsession.Store[sessionHead, tokens] {
	// Unindexed: the plugin lists no sessions, and so KV keeps no session
	// id (cookie value) at all.
	return &kvsession.Store[sessionHead, tokens]{Prefix: cfg.prefix, Now: now, Unindexed: true}
}

// sessionTransport declares the session cookie as where the session id
// travels, and the only place: the user capability (CurrentUser) knows a
// request by nothing else, so the host asks it nothing about a request
// without the cookie. No transport when the configuration does not load
// (the host then calls session_id_from_request).
func sessionTransport() *abi.SessionTransport {
	t := pdk.CookieTransport(cookieName)()
	if t != nil {
		t.Exclusive = true
	}
	return t
}

// sessionIDFromRequest returns the session cookie's value, or "".
func sessionIDFromRequest(cfg *config, req abi.Request) string {
	h := http.Header{}
	for _, v := range req.Headers["Cookie"] {
		h.Add("Cookie", v)
	}
	c, err := (&http.Request{Header: h}).Cookie(cfg.CookieName)
	if err != nil || len(c.Value) != 43 {
		return ""
	}
	return c.Value
}

// cookieSecure is the Secure attribute for a session signed in through
// req: cookie_secure when set, else whether the request came over https.
func cookieSecure(cfg *config, req abi.Request) bool {
	if cfg.CookieSecure != nil {
		return *cfg.CookieSecure
	}
	return strings.HasPrefix(strings.ToLower(req.URL), "https:")
}

// sessionCookie is the Set-Cookie value carrying the session: HttpOnly,
// SameSite=Lax (the callback is a top-level navigation from the issuer).
func sessionCookie(cfg *config, id string, expires time.Time, secure bool) string {
	c := &http.Cookie{Name: cfg.CookieName, Value: id, Path: "/", HttpOnly: true, Secure: secure,
		SameSite: http.SameSiteLaxMode, Expires: expires.UTC(), MaxAge: int(expires.Sub(now()).Seconds())}
	if c.MaxAge <= 0 {
		c.MaxAge = -1
	}
	return c.String()
}

// clearCookie is the Set-Cookie value removing the session cookie.
func clearCookie(cfg *config) string {
	secure := cfg.CookieSecure != nil && *cfg.CookieSecure
	c := &http.Cookie{Name: cfg.CookieName, Value: "", Path: "/", HttpOnly: true, Secure: secure,
		SameSite: http.SameSiteLaxMode, MaxAge: -1}
	return c.String()
}

// refreshLeeway refreshes a little before the access token expires.
const refreshLeeway = 30 * time.Second

// activeSession loads the session and, when its access token expired (or
// is about to) and it has a refresh token, rotates the tokens at the
// issuer (see rotateTokens).
func activeSession(ctx context.Context, cfg *config, id string) (*session, error) {
	s, err := sessions(cfg).Get(id)
	if err != nil || s == nil {
		return s, err
	}
	if !s.Head.Refreshable || s.Head.AccessExpiry.IsZero() || now().Add(refreshLeeway).Before(s.Head.AccessExpiry) {
		return s, nil
	}
	return rotateTokens(ctx, cfg, s)
}

// rotateTokens runs the refresh grant with the session's refresh token
// and saves the new tokens (the issuer's new refresh token replaces the
// old one), once across concurrent requests (pdk/kvsession). An issuer
// that rejects the refresh token ends the session (nil); an issuer that is
// down leaves the session as it is until its own expiry.
func rotateTokens(ctx context.Context, cfg *config, s *session) (*session, error) {
	refreshOf := func(t *tokens) string { return t.RefreshToken }
	return sessions(cfg).Rotate(ctx, s, refreshOf, func(ctx context.Context, t *tokens) (kvsession.Rotation[sessionHead, tokens], error) {
		var same kvsession.Rotation[sessionHead, tokens]
		d, err := getDiscovery(ctx, cfg)
		if err != nil {
			pdk.Log.Warn("session refresh skipped: issuer unavailable", "user_id", s.UserID, "error", err)
			return same, nil
		}
		tr, err := tokenRequest(ctx, cfg, d, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {t.RefreshToken}})
		switch {
		case abi.IsCode(err, abi.CodeUnavailable), abi.IsCode(err, abi.CodeRateLimited):
			pdk.Log.Warn("session refresh failed: issuer unavailable", "user_id", s.UserID, "error", err)
			return same, nil
		case err != nil:
			return same, fmt.Errorf("%w: %w", kvsession.ErrRejected, err)
		}
		next := &tokens{AccessToken: tr.AccessToken, RefreshToken: t.RefreshToken, IDToken: t.IDToken}
		if tr.RefreshToken != "" { // rotation; an issuer may also keep the old one
			next.RefreshToken = tr.RefreshToken
		}
		n := *s
		if tr.IDToken != "" {
			// OIDC Core §12.2: same iss, sub and aud; no nonce on refresh.
			c, err := verifyIDToken(ctx, cfg, d, tr.IDToken, nil, tr.AccessToken, abi.CodeUnauthenticated)
			if err != nil || c.Subject != s.UserID {
				pdk.Log.Warn("session ended: refreshed id token rejected", "user_id", s.UserID, "error", err)
				_, _ = sessions(cfg).Revoke(s.ID)
				revokeTokens(ctx, cfg, d, next, s.UserID)
				return same, fmt.Errorf("%w: refreshed id token: %v", kvsession.ErrRejected, err)
			}
			next.IDToken = tr.IDToken
			if roles := rolesFromClaims(cfg, c.raw); len(roles) > 0 || hasClaim(c.raw, cfg.RoleClaim) {
				n.Head.User.Roles = roles
			}
		}
		n.Head.AccessExpiry = accessExpiry(tr)
		n.Head.Refreshable = next.RefreshToken != ""
		_ = saveUser(cfg, n.Head.User)
		pdk.Log.Debug("session tokens rotated", "user_id", s.UserID)
		return kvsession.Rotation[sessionHead, tokens]{Session: &n, Secret: next}, nil
	})
}

func hasClaim(c map[string]any, path string) bool {
	var v any = c
	for part := range strings.SplitSeq(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if v, ok = m[part]; !ok {
			return false
		}
	}
	return true
}

// endSession ends session id: it is deleted, then its tokens are revoked
// (best effort; not without discovery, d nil).
func endSession(ctx context.Context, cfg *config, d *discovery, id, userID string) {
	t, err := sessions(cfg).Revoke(id)
	if err != nil {
		pdk.Log.Warn("session not ended", "user_id", userID, "error", err)
	}
	revokeTokens(ctx, cfg, d, t, userID)
}

// revokeTokens revokes the refresh and access token of t where the issuer
// has a revocation endpoint (best effort; nothing without d or t).
func revokeTokens(ctx context.Context, cfg *config, d *discovery, t *tokens, userID string) {
	if d == nil || t == nil {
		return
	}
	if err := revoke(ctx, cfg, d, t.RefreshToken, "refresh_token"); err != nil {
		pdk.Log.Warn("refresh token not revoked", "user_id", userID, "error", err)
	}
	if err := revoke(ctx, cfg, d, t.AccessToken, "access_token"); err != nil {
		pdk.Log.Warn("access token not revoked", "user_id", userID, "error", err)
	}
}

// --- the session capability ---

// toABI reports session s under id, with the user snapshot the host
// rebuilds the user from, the sliding lifetime it refreshes by and how
// long the plugin vouches for it (cacheSeconds).
func toABI(cfg *config, s *session) *abi.Session {
	md := abi.SessionSnapshot(s.Head.User, "sso")
	md[abi.SessionMetaSlidingTTL] = int(cfg.sessionTTL().Seconds())
	return &abi.Session{ID: s.ID, UserID: s.UserID, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt, Metadata: md,
		CacheSeconds: cacheSeconds(s)}
}

// maxCacheSeconds is the longest the plugin vouches for a validated
// session (abi 1.2 cache_seconds): while it lasts the host answers the
// session from memory, so a revocation made at the issuer (not through
// authhost) and role changes in its ID token show within this time. The
// operator's plugins.<name>.session_cache_seconds caps it further.
const maxCacheSeconds = 60

// cacheSeconds is how long the plugin vouches for s: maxCacheSeconds, but
// for a session it can refresh never past the moment its access token is
// due for rotation (refreshLeeway before expiry), so the host asks again
// and activeSession rotates the tokens at the issuer as before; 0 (ask
// every time) once it is due.
func cacheSeconds(s *session) int {
	d := maxCacheSeconds * time.Second
	if s.Head.Refreshable && !s.Head.AccessExpiry.IsZero() {
		d = min(d, s.Head.AccessExpiry.Sub(now())-refreshLeeway)
	}
	return max(0, int(d/time.Second))
}

// CreateSession is not supported: sessions start at the SSO callback,
// bound to the issuer's tokens.
func (provider) CreateSession(context.Context, string, map[string]any) (*abi.Session, error) {
	return nil, abi.Errorf(abi.CodeNotSupported, "session_create: the cloud provider starts sessions only at its SSO callback; select another session provider for other sign-ins")
}

// ValidateSession returns the session (rotating its tokens at the issuer
// once the access token expired), or nil when it is unknown, expired or
// was ended by the issuer.
func (provider) ValidateSession(ctx context.Context, id string) (*abi.Session, error) {
	cfg, s, err := lookupSession(ctx, id)
	if err != nil || s == nil {
		return nil, err
	}
	return toABI(cfg, s), nil
}

// lookupSession loads the configuration and the active session id (nil
// when there is none), rotating its tokens when they are due.
func lookupSession(ctx context.Context, id string) (*config, *session, error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, nil, err
	}
	if len(id) != 43 { // not one of ours (the host reads the cookie as is)
		return cfg, nil, nil
	}
	s, err := activeSession(ctx, cfg, id)
	return cfg, s, err
}

// RefreshSession validates the session like ValidateSession and, once it
// has used up half of session_ttl_seconds, extends it by session_ttl_seconds
// (never beyond session_absolute_ttl_seconds after sign-in). The id stays.
func (provider) RefreshSession(ctx context.Context, id string) (*abi.Session, error) {
	cfg, s, err := lookupSession(ctx, id)
	if err != nil || s == nil {
		return nil, err
	}
	t0 := now()
	if s.ExpiresAt.Sub(t0) < cfg.sessionTTL()/2 {
		exp := t0.Add(cfg.sessionTTL())
		if limit := s.CreatedAt.Add(cfg.sessionMaxTTL()); exp.After(limit) {
			exp = limit
		}
		if exp.After(s.ExpiresAt) {
			if err := sessions(cfg).Extend(s, exp); err != nil {
				return nil, err
			}
		}
	}
	return toABI(cfg, s), nil
}

// DestroySession ends the session: its refresh and access tokens are
// revoked where the issuer has a revocation endpoint (best effort; an
// unreachable issuer does not keep the session alive) and it is deleted.
// An unknown session is no error.
func (provider) DestroySession(ctx context.Context, id string) error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	if id == "" {
		return nil
	}
	s, err := sessions(cfg).Get(id)
	if err != nil {
		return err
	}
	if s == nil {
		_, err := sessions(cfg).Revoke(id) // tokens a crashed sign-in may have left
		return err
	}
	d, err := getDiscovery(ctx, cfg)
	if err != nil {
		pdk.Log.Warn("session tokens not revoked: issuer unavailable", "user_id", s.UserID, "error", err)
		d = nil
	}
	endSession(ctx, cfg, d, id, s.UserID)
	return nil
}

// SessionIDFromRequest returns the session cookie's value, or "".
func (provider) SessionIDFromRequest(_ context.Context, req abi.Request) (string, error) {
	cfg, err := loadConfig()
	if err != nil {
		return "", err
	}
	return sessionIDFromRequest(cfg, req), nil
}

// SessionCookies returns the cookie carrying session as (re-)issued after
// a refresh, with the Secure attribute fixed at sign-in.
func (provider) SessionCookies(_ context.Context, as abi.Session) ([]string, error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, err
	}
	if as.ID == "" {
		return nil, abi.Errorf(abi.CodeInvalidRequest, "session_headers: session id required")
	}
	secure := cfg.CookieSecure != nil && *cfg.CookieSecure
	if s, err := sessions(cfg).Get(as.ID); err == nil && s != nil {
		secure = s.Head.Secure
	}
	return []string{sessionCookie(cfg, as.ID, as.ExpiresAt, secure)}, nil
}

// ClearCookies returns the Set-Cookie value removing the session cookie.
func (provider) ClearCookies(context.Context) ([]string, error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, err
	}
	return []string{clearCookie(cfg)}, nil
}
