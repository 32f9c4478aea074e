package main

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk"
)

// KV layout: the last known profile of each user (for user_get; Better
// Auth has no user-by-id endpoint for non-admins) and the user's most
// recent session tokens (for session_list, which Better Auth answers only
// for a signed-in caller: any live token of the user will do, so several
// are kept, and signing out of the latest session does not hide the
// others).
const (
	userProfileTTL = 30 * 24 * time.Hour
	maxUserTokens  = 8
)

func userKey(id string) string   { return "user/" + id }
func tokensKey(id string) string { return "tokens/" + id }

// storedToken is one remembered session token of a user.
type storedToken struct {
	Token     string    `json:"t"`
	ExpiresAt time.Time `json:"e"`
}

// rawToken is the session token without its signature: the signed cookie
// value and the raw bearer token of one session have the same.
func rawToken(token string) string {
	raw, _, _ := strings.Cut(token, ".")
	return raw
}

// remembered avoids writing KV on every validation: user id → token and
// profile last stored by this instance.
var (
	rememberMu sync.Mutex
	remembered = map[string]rememberedEntry{}
)

type rememberedEntry struct {
	token   string
	profile []byte
}

// remember stores u's profile and adds the session token to the user's
// tokens in KV (best effort: a KV failure is logged, the call still
// succeeds).
func remember(u *abi.User, token string, expires time.Time) {
	if u == nil || u.ID == "" {
		return
	}
	profile, err := jsonBytes(u)
	if err != nil {
		return
	}
	rememberMu.Lock()
	prev := remembered[u.ID]
	rememberMu.Unlock()
	if prev.token == token && bytes.Equal(prev.profile, profile) {
		return
	}
	if err := pdk.KV.Set(userKey(u.ID), profile, userProfileTTL); err != nil {
		pdk.Log.Warn("remember user failed", "user_id", u.ID, "error", err)
		return
	}
	if token != "" && !isJWT(token) && prev.token != token {
		if expires.IsZero() {
			expires = time.Now().Add(7 * 24 * time.Hour)
		}
		if err := addUserToken(u.ID, token, expires); err != nil {
			pdk.Log.Warn("remember session failed", "user_id", u.ID, "error", err)
			return
		}
	}
	rememberMu.Lock()
	if len(remembered) > 4096 {
		clear(remembered)
	}
	remembered[u.ID] = rememberedEntry{token: token, profile: profile}
	rememberMu.Unlock()
}

// userTokens returns the user's remembered tokens that have not expired,
// most recent first.
func userTokens(userID string, now time.Time) ([]storedToken, error) {
	var list []storedToken
	if _, err := pdk.KV.GetJSON(tokensKey(userID), &list); err != nil {
		return nil, err
	}
	out := list[:0]
	for _, t := range list {
		if t.Token != "" && t.ExpiresAt.After(now) {
			out = append(out, t)
		}
	}
	return out, nil
}

// addUserToken puts token first in the user's remembered tokens.
func addUserToken(userID, token string, expires time.Time) error {
	list, err := userTokens(userID, time.Now())
	if err != nil {
		return err
	}
	out := []storedToken{{Token: token, ExpiresAt: expires}}
	for _, t := range list {
		if rawToken(t.Token) != rawToken(token) && len(out) < maxUserTokens {
			out = append(out, t)
		}
	}
	return saveUserTokens(userID, out)
}

// saveUserTokens stores list (kept until its last token expires).
func saveUserTokens(userID string, list []storedToken) error {
	if len(list) == 0 {
		return pdk.KV.Delete(tokensKey(userID))
	}
	last := list[0].ExpiresAt
	for _, t := range list[1:] {
		if t.ExpiresAt.After(last) {
			last = t.ExpiresAt
		}
	}
	ttl := time.Until(last)
	if ttl <= 0 {
		return pdk.KV.Delete(tokensKey(userID))
	}
	return pdk.KV.SetJSON(tokensKey(userID), list, ttl)
}

// getSession asks Better Auth who token belongs to; (nil, nil) when nobody
// (no, expired or revoked session).
func getSession(ctx context.Context, cfg *config, token string, client *abi.Request) (*getSessionResult, *apiResponse, error) {
	resp, err := do(ctx, cfg, apiCall{op: "get-session", method: http.MethodGet,
		path: "/get-session?disableCookieCache=true", token: token, client: client})
	if err != nil {
		return nil, nil, err
	}
	if resp.status == http.StatusUnauthorized {
		return nil, resp, nil
	}
	if !resp.ok() {
		return nil, resp, resp.mapError("get-session", abi.CodeUnauthenticated)
	}
	var out *getSessionResult
	if err := resp.decode("get-session", &out); err != nil {
		return nil, resp, err
	}
	if out == nil || out.User.ID == "" {
		return nil, resp, nil
	}
	return out, resp, nil
}

// resolve validates a session token or (with jwt enabled) a JWT and returns
// the session and user, or nils when it is not valid.
func resolve(ctx context.Context, cfg *config, id string, client *abi.Request) (*abi.Session, *abi.User, error) {
	if id == "" {
		return nil, nil, nil
	}
	if isJWT(id) {
		if !cfg.jwtOn {
			return nil, nil, nil // Better Auth's session endpoints do not take JWTs
		}
		c, jc, reason, err := verifyJWT(ctx, cfg, id, time.Now())
		if err != nil {
			return nil, nil, errorf(err, "validate jwt")
		}
		if c == nil {
			pdk.Log.Debug("jwt rejected", "reason", reason)
			return nil, nil, nil
		}
		u := c.user()
		if cfg.RequireEmailVerification && !verified(u) {
			return nil, nil, nil
		}
		s := sessionFor(id, baSession{UserID: u.ID, ExpiresAt: jc.Expiry.UTC(), CreatedAt: jc.IssuedAt.UTC()}, u)
		s.Metadata["tokenType"] = "jwt"
		return s, u, nil
	}
	res, _, err := getSession(ctx, cfg, id, client)
	if err != nil || res == nil {
		return nil, nil, err
	}
	u := res.User.toABI()
	if cfg.RequireEmailVerification && !verified(u) {
		return nil, nil, nil
	}
	s := sessionFor(id, res.Session, u)
	remember(u, id, res.Session.ExpiresAt)
	return s, u, nil
}

// tokenFromRequest returns the Better Auth session token a request carries:
// the session cookie (either name) or an Authorization: Bearer token.
func tokenFromRequest(cfg *config, r abi.Request) string {
	for _, name := range transport(cfg).Cookies {
		for _, line := range headerValues(r.Headers, "Cookie") {
			for _, part := range strings.Split(line, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
				if !ok || k != name || v == "" {
					continue
				}
				if dec, err := url.QueryUnescape(v); err == nil {
					v = dec
				}
				return v
			}
		}
	}
	if a := firstHeader(r.Headers, "Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return ""
}

// transport is where the session token travels, as declared in describe
// (the host reads it there itself) and as tokenFromRequest reads it: the
// session cookie (secure name first, URL-encoded), else a bearer token.
func transport(cfg *config) *abi.SessionTransport {
	return &abi.SessionTransport{
		Cookies:         []string{"__Secure-" + cfg.CookiePrefix + ".session_token", cfg.CookiePrefix + ".session_token"},
		CookieURLDecode: true,
		Bearer:          true,
	}
}

func headerValues(h map[string][]string, name string) []string {
	var out []string
	for k, vs := range h {
		if strings.EqualFold(k, name) {
			out = append(out, vs...)
		}
	}
	return out
}

// CurrentUser returns the user of the request's Better Auth session cookie
// or bearer token (a session token, or a JWT when jwt is enabled).
func (provider) CurrentUser(ctx context.Context, req abi.Request) (*abi.User, error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, err
	}
	_, u, err := resolve(ctx, cfg, tokenFromRequest(cfg, req), &req)
	if err != nil {
		return nil, errorf(err, "current user")
	}
	return u, nil
}

// GetUser returns the last profile of the user seen by this provider (at
// sign-in, sign-up or session validation), or nil: Better Auth has no
// user-by-id endpoint outside its admin plugin.
func (provider) GetUser(ctx context.Context, id string) (*abi.User, error) {
	if _, err := loadConfig(); err != nil {
		return nil, err
	}
	if id == "" {
		return nil, nil
	}
	var u abi.User
	found, err := pdk.KV.GetJSON(userKey(id), &u)
	if err != nil {
		return nil, errorf(err, "get user %s", id)
	}
	if !found {
		return nil, nil
	}
	return &u, nil
}

// CreateSession is not supported: Better Auth creates sessions at sign-in
// and has no API to create one for a user id.
func (provider) CreateSession(context.Context, string, map[string]any) (*abi.Session, error) {
	return nil, abi.Errorf(abi.CodeNotSupported, "betterauth: sessions are created by Better Auth at sign-in; there is no API to create one for a user id")
}

// ValidateSession checks a session token (or JWT) with Better Auth.
func (provider) ValidateSession(ctx context.Context, id string) (*abi.Session, error) {
	if !tokenShaped(id) {
		return nil, nil
	}
	cfg, err := loadConfig()
	if err != nil {
		return nil, err
	}
	s, _, err := resolve(ctx, cfg, id, nil)
	if err != nil {
		return nil, errorf(err, "validate session")
	}
	if s != nil {
		s.CacheSeconds = sessionCacheSeconds
	}
	return s, nil
}

// sessionCacheSeconds is how long this provider vouches for a validated
// session (abi 1.2 cache_seconds): Better Auth's own cookie cache default
// (session.cookieCache.maxAge, 5 minutes), the staleness Better Auth itself
// accepts. The operator's session_cache_seconds caps it.
const sessionCacheSeconds = 300

// RefreshSession asks Better Auth for the session, which extends it when
// its updateAge has passed (Better Auth has no explicit refresh endpoint).
func (p provider) RefreshSession(ctx context.Context, id string) (*abi.Session, error) {
	if !tokenShaped(id) {
		return nil, nil
	}
	cfg, err := loadConfig()
	if err != nil {
		return nil, err
	}
	if isJWT(id) {
		return p.ValidateSession(ctx, id) // stateless; the client gets new JWTs from Better Auth
	}
	res, resp, err := getSession(ctx, cfg, id, nil)
	if err != nil {
		return nil, errorf(err, "refresh session")
	}
	if res == nil {
		return nil, nil
	}
	u := res.User.toABI()
	if cfg.RequireEmailVerification && !verified(u) {
		return nil, nil
	}
	newID := id
	if t := resp.header.Get("Set-Auth-Token"); t != "" && isSigned(id) == isSigned(t) {
		newID = t
	}
	remember(u, newID, res.Session.ExpiresAt)
	return sessionFor(newID, res.Session, u), nil
}

// DestroySession signs the session out on Better Auth. Unknown sessions
// succeed; JWTs are stateless and cannot be revoked (they expire).
func (provider) DestroySession(ctx context.Context, id string) error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	if !tokenShaped(id) || isJWT(id) {
		return nil
	}
	resp, err := do(ctx, cfg, apiCall{op: "sign-out", method: http.MethodPost, path: "/sign-out", body: struct{}{}, token: id})
	if err != nil {
		return errorf(err, "destroy session")
	}
	if resp.ok() || resp.status == http.StatusUnauthorized || resp.status == http.StatusBadRequest {
		return nil
	}
	return errorf(resp.mapError("sign-out", abi.CodeUnauthenticated), "destroy session")
}

// SessionIDFromRequest returns the session token of the request's Better
// Auth cookie or bearer token.
func (provider) SessionIDFromRequest(ctx context.Context, req abi.Request) (string, error) {
	cfg, err := loadConfig()
	if err != nil {
		return "", err
	}
	return tokenFromRequest(cfg, req), nil
}

// SessionCookies renders Better Auth's session cookie for s (attributes as
// Better Auth sets them). A JWT is not a cookie session: none is set.
func (provider) SessionCookies(ctx context.Context, s abi.Session) ([]string, error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, err
	}
	if s.ID == "" || isJWT(s.ID) {
		return []string{}, nil
	}
	maxAge := int(time.Until(s.ExpiresAt).Seconds())
	if s.ExpiresAt.IsZero() {
		maxAge = 7 * 24 * 3600
	}
	if maxAge < 1 {
		maxAge = 0
	}
	return []string{cookie(cfg, cfg.sessionCookieName(), url.QueryEscape(s.ID), maxAge)}, nil
}

// ClearCookies returns Set-Cookie values that remove Better Auth's session
// cookies (the three sign-out clears).
func (provider) ClearCookies(ctx context.Context) ([]string, error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, suffix := range []string{"session_token", "session_data", "dont_remember"} {
		out = append(out, cookie(cfg, cfg.cookieName(suffix), "", 0))
	}
	return out, nil
}

func cookie(cfg *config, name, value string, maxAge int) string {
	c := name + "=" + value + "; Max-Age=" + strconv.Itoa(maxAge) + "; Path=/; HttpOnly; SameSite=Lax"
	if cfg.secure {
		c += "; Secure"
	}
	return c
}

// ListSessions lists the user's active sessions with Better Auth's
// list-sessions, authenticated by one of the user's session tokens this
// provider has seen (Better Auth lists sessions only for the signed-in
// user): the most recent that is still live. The ids are the sessions' raw
// tokens, which validate and destroy accept through Better Auth's bearer
// plugin; they replace the remembered tokens, so later lists ask with
// whichever session is still live. Users not seen yet have none.
func (provider) ListSessions(ctx context.Context, userID string) ([]abi.Session, error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tokens, err := userTokens(userID, now)
	if err != nil {
		return nil, errorf(err, "list sessions of %s", userID)
	}
	var list []baSession
	found := false
	for _, tk := range tokens {
		resp, err := do(ctx, cfg, apiCall{op: "list-sessions", method: http.MethodGet, path: "/list-sessions", token: tk.Token})
		if err != nil {
			return nil, errorf(err, "list sessions of %s", userID)
		}
		if resp.status == http.StatusUnauthorized {
			continue // signed out or expired early; try an older one
		}
		if !resp.ok() {
			return nil, errorf(resp.mapError("list-sessions", abi.CodeUnauthenticated), "list sessions of %s", userID)
		}
		if err := resp.decode("list-sessions", &list); err != nil {
			return nil, err
		}
		found = true
		break
	}
	out := []abi.Session{}
	fresh := []storedToken{}
	if found {
		var u *abi.User
		var stored abi.User
		if ok, _ := pdk.KV.GetJSON(userKey(userID), &stored); ok {
			u = &stored
		}
		for _, s := range list {
			if s.UserID != userID || !s.ExpiresAt.After(now) || s.Token == "" {
				continue
			}
			out = append(out, *sessionFor(s.Token, s, u))
			fresh = append(fresh, storedToken{Token: s.Token, ExpiresAt: s.ExpiresAt})
		}
		slices.SortFunc(fresh, func(a, b storedToken) int { return b.ExpiresAt.Compare(a.ExpiresAt) })
		if len(fresh) > maxUserTokens {
			fresh = fresh[:maxUserTokens]
		}
	}
	if !sameTokens(tokens, fresh) {
		if err := saveUserTokens(userID, fresh); err != nil {
			pdk.Log.Warn("remember sessions failed", "user_id", userID, "error", err)
		}
	}
	return out, nil
}

// sameTokens reports whether a and b remember the same sessions.
func sameTokens(a, b []storedToken) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]bool{}
	for _, t := range a {
		seen[rawToken(t.Token)] = true
	}
	for _, t := range b {
		if !seen[rawToken(t.Token)] {
			return false
		}
	}
	return true
}

// tokenShaped reports whether id can be a Better Auth session token or JWT
// (printable ASCII without spaces, at most 8 KiB): anything else names no
// session, and must not reach an Authorization header.
func tokenShaped(id string) bool {
	if id == "" || len(id) > 8<<10 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}
