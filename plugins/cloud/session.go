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

// The plugin manages its own sessions (manages_sessions in describe): the
// session cookie carries a random 256-bit id, and KV keeps, under the id's
// SHA-256, the user and the issuer's tokens. That binds the session to the
// issuer: the refresh token is rotated when the access token expires, an
// issuer that refuses the refresh (user disabled, grant revoked) ends the
// session, and logout revokes the tokens and sends id_token_hint.

// session is one signed-in browser as kept in KV.
type session struct {
	User         abi.User  `json:"user"`
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	IDToken      string    `json:"id_token"`
	AccessExpiry time.Time `json:"access_expires_at,omitzero"`
	CreatedAt    time.Time `json:"created_at"`
	ExpiresAt    time.Time `json:"expires_at"`
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

// loadSession returns the session or nil when it is unknown or expired.
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

// sessionCookie is the Set-Cookie value carrying the session: HttpOnly,
// SameSite=Lax (the callback is a top-level navigation from the issuer),
// Secure on https unless cookie_secure says otherwise.
func sessionCookie(cfg *config, req abi.Request, id string, expires time.Time) string {
	secure := strings.HasPrefix(strings.ToLower(req.URL), "https:")
	if cfg.CookieSecure != nil {
		secure = *cfg.CookieSecure
	}
	c := &http.Cookie{Name: cfg.CookieName, Value: id, Path: "/", HttpOnly: true, Secure: secure,
		SameSite: http.SameSiteLaxMode, Expires: expires.UTC(), MaxAge: int(expires.Sub(now()).Seconds())}
	if c.MaxAge <= 0 {
		c.MaxAge = -1
	}
	return c.String()
}

// refreshLeeway refreshes a little before the access token expires.
const refreshLeeway = 30 * time.Second

// activeSession loads the session and, when its access token expired and
// it has a refresh token, rotates the tokens at the issuer. An issuer that
// rejects the refresh token ends the session (nil); an issuer that is down
// leaves the session as it is until its own expiry.
func activeSession(ctx context.Context, cfg *config, id string) (*session, error) {
	s, err := loadSession(cfg, id)
	if err != nil || s == nil {
		return s, err
	}
	if s.RefreshToken == "" || s.AccessExpiry.IsZero() || now().Add(refreshLeeway).Before(s.AccessExpiry) {
		return s, nil
	}
	d, err := getDiscovery(ctx, cfg)
	if err != nil {
		pdk.Log.Warn("session refresh skipped: issuer unavailable", "user_id", s.User.ID, "error", err)
		return s, nil
	}
	tr, err := tokenRequest(ctx, cfg, d, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s.RefreshToken}})
	switch {
	case abi.IsCode(err, abi.CodeUnavailable), abi.IsCode(err, abi.CodeRateLimited):
		pdk.Log.Warn("session refresh failed: issuer unavailable", "user_id", s.User.ID, "error", err)
		return s, nil
	case err != nil:
		pdk.Log.Info("session ended: refresh rejected", "user_id", s.User.ID, "error", err)
		_ = pdk.KV.Delete(sessionKey(cfg, id))
		return nil, nil
	}
	if tr.IDToken != "" {
		// OIDC Core §12.2: same iss, sub and aud; no nonce on refresh.
		c, err := verifyIDToken(ctx, cfg, d, tr.IDToken, nil, tr.AccessToken, abi.CodeUnauthenticated)
		if err != nil || c.Sub != s.User.ID {
			pdk.Log.Warn("session ended: refreshed id token rejected", "user_id", s.User.ID, "error", err)
			_ = pdk.KV.Delete(sessionKey(cfg, id))
			return nil, nil
		}
		s.IDToken = tr.IDToken
		if roles := rolesFromClaims(cfg, c.raw); len(roles) > 0 || hasClaim(c.raw, cfg.RoleClaim) {
			s.User.Roles = roles
		}
	}
	s.AccessToken = tr.AccessToken
	if tr.RefreshToken != "" { // rotation; an issuer may also keep the old one
		s.RefreshToken = tr.RefreshToken
	}
	s.AccessExpiry = accessExpiry(tr)
	if err := saveSession(cfg, id, s); err != nil {
		return nil, err
	}
	saveUser(cfg, s.User)
	return s, nil
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

// endSession revokes the session's tokens (best effort) and deletes it.
func endSession(ctx context.Context, cfg *config, d *discovery, id string, s *session) {
	if err := revoke(ctx, cfg, d, s.RefreshToken, "refresh_token"); err != nil {
		pdk.Log.Warn("refresh token not revoked", "user_id", s.User.ID, "error", err)
	}
	if err := revoke(ctx, cfg, d, s.AccessToken, "access_token"); err != nil {
		pdk.Log.Warn("access token not revoked", "user_id", s.User.ID, "error", err)
	}
	if err := pdk.KV.Delete(sessionKey(cfg, id)); err != nil {
		pdk.Log.Warn("session not deleted", "user_id", s.User.ID, "error", err)
	}
}
