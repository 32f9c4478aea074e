package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk"
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

// session is the head of one signed-in browser as kept in KV.
type session struct {
	User         abi.User  `json:"user"`
	AccessExpiry time.Time `json:"access_expires_at,omitzero"`
	// Refreshable is set when the tokens hold a refresh token.
	Refreshable bool      `json:"refreshable,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	// Secure is the cookie's Secure attribute, fixed at sign-in.
	Secure bool `json:"secure,omitempty"`
}

// tokens are the issuer's tokens of a session as kept in KV.
type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token"`
}

func newSessionID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", abi.Errorf(abi.CodeInternal, "session id: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// sessionKey stores sessions under a hash of the id, so the KV contents do
// not reveal cookie values.
func sessionKey(cfg *config, id string) string {
	sum := sha256.Sum256([]byte(id))
	return cfg.prefix + "session/" + hex.EncodeToString(sum[:])
}

// tokensKey stores the session's tokens.
func tokensKey(cfg *config, id string) string { return sessionKey(cfg, id) + "/tokens" }

// saveSession writes the session's head; it expires with the session.
func saveSession(cfg *config, id string, s *session) error {
	ttl := s.ExpiresAt.Sub(now())
	if ttl <= 0 {
		return abi.Errorf(abi.CodeInternal, "session: already expired")
	}
	if err := pdk.KV.SetJSON(sessionKey(cfg, id), s, ttl); err != nil {
		return fmt.Errorf("session: save: %w", err)
	}
	return nil
}

// saveTokens writes the tokens of session s; they expire with it.
func saveTokens(cfg *config, id string, s *session, t *tokens) error {
	ttl := s.ExpiresAt.Sub(now())
	if ttl <= 0 {
		return abi.Errorf(abi.CodeInternal, "session: already expired")
	}
	if err := pdk.KV.SetJSON(tokensKey(cfg, id), t, ttl); err != nil {
		return fmt.Errorf("session: save tokens: %w", err)
	}
	return nil
}

// loadSession returns the session's head or nil when it is unknown or
// expired.
func loadSession(cfg *config, id string) (*session, error) {
	var s session
	ok, err := pdk.KV.GetJSON(sessionKey(cfg, id), &s)
	if err != nil {
		return nil, fmt.Errorf("session: load: %w", err)
	}
	if !ok || !now().Before(s.ExpiresAt) {
		return nil, nil
	}
	return &s, nil
}

// loadTokens returns the session's tokens, or nil when there are none.
func loadTokens(cfg *config, id string) (*tokens, error) {
	var t tokens
	ok, err := pdk.KV.GetJSON(tokensKey(cfg, id), &t)
	if err != nil {
		return nil, fmt.Errorf("session: load tokens: %w", err)
	}
	if !ok {
		return nil, nil
	}
	return &t, nil
}

// deleteSession removes the session: the head first, so it stops working
// at once, then the tokens.
func deleteSession(cfg *config, id string) {
	if err := pdk.KV.Delete(sessionKey(cfg, id)); err != nil {
		pdk.Log.Warn("session not deleted", "error", err)
	}
	if err := pdk.KV.Delete(tokensKey(cfg, id)); err != nil {
		pdk.Log.Warn("session tokens not deleted", "error", err)
	}
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

// rotationLockTTL bounds how long a rotation in progress holds off others.
const rotationLockTTL = 10 * time.Second

// activeSession loads the session and, when its access token expired (or
// is about to) and it has a refresh token, rotates the tokens at the
// issuer (see rotateTokens).
func activeSession(ctx context.Context, cfg *config, id string) (*session, error) {
	s, err := loadSession(cfg, id)
	if err != nil || s == nil {
		return s, err
	}
	if !s.Refreshable || s.AccessExpiry.IsZero() || now().Add(refreshLeeway).Before(s.AccessExpiry) {
		return s, nil
	}
	t, err := loadTokens(cfg, id)
	if err != nil {
		return nil, err
	}
	if t == nil || t.RefreshToken == "" {
		return s, nil
	}
	return rotateTokens(ctx, cfg, id, s, t)
}

// rotateTokens runs the refresh grant with the refresh token of t (the
// tokens of session s) and saves the new tokens (the issuer's new refresh
// token replaces the old one). An issuer that rejects the refresh token
// ends the session (nil); an issuer that is down leaves the session as it
// is until its own expiry.
//
// Several requests of one browser may find the same session due at once;
// with refresh-token rotation only the first refresh succeeds and the
// issuer rejects the others' (now rotated) token. So a rotation holds a
// short KV marker that makes concurrent calls use the session as it is,
// and a rejected refresh first re-reads the tokens: when another call
// rotated them meanwhile, that result stands and the session lives on.
func rotateTokens(ctx context.Context, cfg *config, id string, s *session, t *tokens) (*session, error) {
	lock := sessionKey(cfg, id) + "/rotating"
	if _, busy, err := pdk.KV.Get(lock); err == nil && busy {
		return s, nil
	}
	if err := pdk.KV.Set(lock, []byte{1}, rotationLockTTL); err != nil {
		pdk.Log.Warn("session refresh: marker not set", "error", err)
	}
	defer func() { _ = pdk.KV.Delete(lock) }()

	d, err := getDiscovery(ctx, cfg)
	if err != nil {
		pdk.Log.Warn("session refresh skipped: issuer unavailable", "user_id", s.User.ID, "error", err)
		return s, nil
	}
	tr, err := tokenRequest(ctx, cfg, d, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {t.RefreshToken}})
	switch {
	case abi.IsCode(err, abi.CodeUnavailable), abi.IsCode(err, abi.CodeRateLimited):
		pdk.Log.Warn("session refresh failed: issuer unavailable", "user_id", s.User.ID, "error", err)
		return s, nil
	case err != nil:
		if cur := rotatedMeanwhile(cfg, id, t.RefreshToken); cur != nil {
			return cur, nil
		}
		pdk.Log.Info("session ended: refresh rejected", "user_id", s.User.ID, "error", err)
		deleteSession(cfg, id)
		return nil, nil
	}
	next := &tokens{AccessToken: tr.AccessToken, RefreshToken: t.RefreshToken, IDToken: t.IDToken}
	if tr.RefreshToken != "" { // rotation; an issuer may also keep the old one
		next.RefreshToken = tr.RefreshToken
	}
	if tr.IDToken != "" {
		// OIDC Core §12.2: same iss, sub and aud; no nonce on refresh.
		c, err := verifyIDToken(ctx, cfg, d, tr.IDToken, nil, tr.AccessToken, abi.CodeUnauthenticated)
		if err != nil || c.Subject != s.User.ID {
			pdk.Log.Warn("session ended: refreshed id token rejected", "user_id", s.User.ID, "error", err)
			deleteSession(cfg, id)
			revokeTokens(ctx, cfg, d, next, s.User.ID)
			return nil, nil
		}
		next.IDToken = tr.IDToken
		if roles := rolesFromClaims(cfg, c.raw); len(roles) > 0 || hasClaim(c.raw, cfg.RoleClaim) {
			s.User.Roles = roles
		}
	}
	s.AccessExpiry = accessExpiry(tr)
	s.Refreshable = next.RefreshToken != ""
	if err := saveTokens(cfg, id, s, next); err != nil {
		return nil, err
	}
	if err := saveSession(cfg, id, s); err != nil {
		return nil, err
	}
	saveUser(cfg, s.User)
	pdk.Log.Debug("session tokens rotated", "user_id", s.User.ID)
	return s, nil
}

// rotatedMeanwhile re-reads the session's tokens after the issuer
// rejected refresh token rt: a concurrent call that won the rotation has
// saved (or is about to save) newer ones. It waits briefly for that save
// and returns the session, or nil when rt is still the session's token.
func rotatedMeanwhile(cfg *config, id, rt string) *session {
	for i := range rotationRereads {
		if i > 0 {
			time.Sleep(rotationRereadDelay)
		}
		t, err := loadTokens(cfg, id)
		if err != nil || t == nil {
			return nil
		}
		if t.RefreshToken != rt {
			s, err := loadSession(cfg, id)
			if err != nil {
				return nil
			}
			return s
		}
	}
	return nil
}

// How often and how far apart rotatedMeanwhile re-reads the tokens.
const (
	rotationRereads     = 5
	rotationRereadDelay = 40 * time.Millisecond
)

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
	t, err := loadTokens(cfg, id)
	if err != nil {
		pdk.Log.Warn("session tokens unreadable; not revoked", "user_id", userID, "error", err)
	}
	deleteSession(cfg, id)
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
// rebuilds the user from and the sliding lifetime it refreshes by.
func (s *session) toABI(cfg *config, id string) *abi.Session {
	md := abi.SessionSnapshot(s.User, "sso")
	md[abi.SessionMetaSlidingTTL] = int(cfg.sessionTTL().Seconds())
	return &abi.Session{ID: id, UserID: s.User.ID, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt, Metadata: md}
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
	return s.toABI(cfg, id), nil
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
			s.ExpiresAt = exp.UTC()
			t, err := loadTokens(cfg, id)
			if err != nil {
				return nil, err
			}
			if t != nil {
				if err := saveTokens(cfg, id, s, t); err != nil {
					return nil, err
				}
			}
			if err := saveSession(cfg, id, s); err != nil {
				return nil, err
			}
		}
	}
	return s.toABI(cfg, id), nil
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
	s, err := loadSession(cfg, id)
	if err != nil {
		return err
	}
	if s == nil {
		deleteSession(cfg, id) // tokens a crashed sign-in may have left
		return nil
	}
	d, err := getDiscovery(ctx, cfg)
	if err != nil {
		pdk.Log.Warn("session tokens not revoked: issuer unavailable", "user_id", s.User.ID, "error", err)
		d = nil
	}
	endSession(ctx, cfg, d, id, s.User.ID)
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
	if s, err := loadSession(cfg, as.ID); err == nil && s != nil {
		secure = s.Secure
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
