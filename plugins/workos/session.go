package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk"
	"github.com/authhost/authhost/pdk/kvsession"
	"github.com/workos/workos-go/v4/pkg/usermanagement"
)

// sessionHead is what every request reads of a session: the user snapshot
// and the access token it verifies.
type sessionHead struct {
	WorkOSSID   string   `json:"workos_sid"`
	OrgID       string   `json:"org_id,omitempty"`
	AccessToken string   `json:"access_token"`
	User        abi.User `json:"user"`
}

// sessionSecret is read only to rotate the session.
type sessionSecret struct {
	RefreshToken string `json:"refresh_token"`
}

// session is one signed-in browser as kept by pdk/kvsession.
type session = kvsession.Session[sessionHead]

// sessions is the session store (configuration only; the state is in KV).
func sessions() *kvsession.Store[sessionHead, sessionSecret] {
	return &kvsession.Store[sessionHead, sessionSecret]{}
}

// snapshotRoles are the WorkOS role slugs of the session's access token
// when they apply: the token's organization is the configured one (or none
// is configured). They go into the session's user snapshot.
func snapshotRoles(cfg *config, u abi.User) []string {
	role := metaString(u, "workos_role")
	if role == "" {
		return nil
	}
	if cfg.OrganizationID != "" && cfg.OrganizationID != metaString(u, "organization_id") {
		return nil
	}
	if roles := metaStrings(u, "workos_roles"); len(roles) > 0 {
		return roles
	}
	return []string{role}
}

// toSession reports a session with the user snapshot the host reads
// (abi.SessionSnapshot; roles per snapshotRoles), so resolving a request
// needs no further provider call.
func toSession(cfg *config, rec *session) *abi.Session {
	u := rec.Head.User
	u.Roles, u.Metadata = snapshotRoles(cfg, rec.Head.User), nil
	md := abi.SessionSnapshot(u, "sso")
	md["workos_session_id"], md["organization_id"] = rec.Head.WorkOSSID, rec.Head.OrgID
	// The host slides the session by the lifetime session_refresh extends
	// it by.
	md[abi.SessionMetaSlidingTTL] = int(sessionMaxAge.Seconds())
	return &abi.Session{ID: rec.ID, UserID: rec.UserID, CreatedAt: rec.CreatedAt, ExpiresAt: rec.ExpiresAt, Metadata: md}
}

// refresh exchanges the session's single-use refresh token for new tokens
// and stores them, once across concurrent requests (pdk/kvsession). A
// rejected refresh token ends the session (nil, nil). extend also moves
// the session's expiry (session_refresh, after which the host re-issues the
// cookie); a token refresh while validating keeps it, so the session never
// outlives its cookie.
func refresh(ctx context.Context, c *clients, rec *session, extend bool) (*session, error) {
	if sec, err := sessions().Secret(rec.ID); err != nil || sec == nil || sec.RefreshToken == "" {
		if err != nil {
			return nil, fmt.Errorf("workos: load session secret: %w", err)
		}
		_, _ = sessions().Revoke(rec.ID) // nothing to refresh with
		return nil, nil
	}
	until := time.Now().UTC().Add(sessionMaxAge)
	refreshOf := func(sec *sessionSecret) string { return sec.RefreshToken }
	next, err := sessions().Rotate(ctx, rec, refreshOf, func(ctx context.Context, sec *sessionSecret) (kvsession.Rotation[sessionHead, sessionSecret], error) {
		var none kvsession.Rotation[sessionHead, sessionSecret]
		res, err := c.users.AuthenticateWithRefreshToken(ctx, usermanagement.AuthenticateWithRefreshTokenOpts{
			ClientID: c.cfg.ClientID, RefreshToken: sec.RefreshToken,
		})
		if err != nil {
			cerr := classify("refresh session", err)
			if pdk.IsCode(cerr, abi.CodeInvalidCredentials) || pdk.IsCode(cerr, abi.CodeInvalidRequest) {
				return none, fmt.Errorf("%w: %w", kvsession.ErrRejected, cerr)
			}
			return none, cerr
		}
		cl, err := verifyToken(ctx, c, res.AccessToken)
		if err != nil {
			return none, fmt.Errorf("workos: verify refreshed access token: %w", err)
		}
		n := *rec
		n.Head.AccessToken, n.Head.WorkOSSID, n.Head.OrgID = res.AccessToken, cl.Sid, cl.OrgID
		n.Head.User = withTokenClaims(n.Head.User, cl)
		if extend {
			n.ExpiresAt = until
		}
		return kvsession.Rotation[sessionHead, sessionSecret]{Session: &n, Secret: &sessionSecret{RefreshToken: res.RefreshToken}}, nil
	})
	if err != nil || next == nil {
		return nil, err
	}
	// A concurrent validation may have won the rotation without extending.
	if extend && next.ExpiresAt.Before(until.Add(-time.Minute)) {
		if err := sessions().Extend(next, until); err != nil {
			return nil, err
		}
	}
	return next, nil
}

// activeSession loads session id and makes sure its access token is
// valid, refreshing it once when it expired; nil when the session is gone.
// It also returns when the access token expires (zero when unknown).
func activeSession(ctx context.Context, c *clients, id string) (*session, time.Time, error) {
	rec, err := sessions().Get(id)
	if err != nil || rec == nil {
		return nil, time.Time{}, err
	}
	cl, err := verifyToken(ctx, c, rec.Head.AccessToken)
	switch {
	case err == nil:
		return rec, expiryOf(cl), nil
	case errors.Is(err, errExpired):
		next, err := refresh(ctx, c, rec, false)
		if err != nil || next == nil {
			return nil, time.Time{}, err
		}
		// refresh verified the new token; reading its expiry again is
		// the price of a rotation only.
		if cl, err := verifyToken(ctx, c, next.Head.AccessToken); err == nil {
			return next, expiryOf(cl), nil
		}
		return next, time.Time{}, nil
	case pdk.IsCode(err, abi.CodeUnauthenticated):
		_, _ = sessions().Revoke(rec.ID)
		return nil, time.Time{}, nil
	default:
		return nil, time.Time{}, err
	}
}

// expiryOf is the access token's exp, or zero without one.
func expiryOf(cl *claims) time.Time {
	if cl.Exp <= 0 {
		return time.Time{}
	}
	return time.Unix(cl.Exp, 0)
}

// maxCacheSeconds is the longest the plugin vouches for a validated
// session (abi 1.2 cache_seconds): while it lasts the host answers the
// session from memory, so a session revoked at WorkOS (not through
// authhost) and role changes carried by a new access token show within
// this time. The operator's plugins.<name>.session_cache_seconds caps it
// further.
const maxCacheSeconds = 60

// cacheSeconds is how long, from now, the plugin vouches for a session
// whose access token expires at exp: maxCacheSeconds, but never past the
// moment verifyToken calls the token expired (exp plus clockSkew), so the
// host asks again then and activeSession rotates the tokens at WorkOS as
// before (zero exp: the default; past it: 0). The plugin sees a session
// revoked at WorkOS only when it rotates, so vouching up to that moment
// delays nothing.
func cacheSeconds(now, exp time.Time) int {
	d := maxCacheSeconds * time.Second
	if !exp.IsZero() {
		d = min(d, exp.Add(clockSkew).Sub(now))
	}
	return max(0, int(d/time.Second))
}

// CreateSession implements pdk.SessionProvider. WorkOS sessions start only
// through SSO sign-in, so this is not supported.
func (provider) CreateSession(context.Context, string, map[string]any) (*abi.Session, error) {
	return nil, pdk.Errorf(abi.CodeNotSupported, "workos: sessions are created by SSO sign-in, not by session_create")
}

// ValidateSession implements pdk.SessionProvider.
func (provider) ValidateSession(ctx context.Context, id string) (*abi.Session, error) {
	c, err := getClients()
	if err != nil {
		return nil, err
	}
	rec, exp, err := activeSession(ctx, c, id)
	if err != nil || rec == nil {
		return nil, err
	}
	s := toSession(c.cfg, rec)
	s.CacheSeconds = cacheSeconds(time.Now(), exp)
	return s, nil
}

// RefreshSession implements pdk.SessionProvider: it rotates the WorkOS
// refresh token and extends the session.
func (provider) RefreshSession(ctx context.Context, id string) (*abi.Session, error) {
	c, err := getClients()
	if err != nil {
		return nil, err
	}
	rec, err := sessions().Get(id)
	if err != nil || rec == nil {
		return nil, err
	}
	next, err := refresh(ctx, c, rec, true)
	if err != nil || next == nil {
		return nil, err
	}
	return toSession(c.cfg, next), nil
}

// DestroySession implements pdk.SessionProvider: it revokes the WorkOS
// session and forgets the local one.
func (provider) DestroySession(ctx context.Context, id string) error {
	c, err := getClients()
	if err != nil {
		return err
	}
	rec, err := sessions().Get(id)
	if err != nil || rec == nil {
		return err
	}
	if _, err := sessions().Revoke(rec.ID); err != nil {
		return err
	}
	if rec.Head.WorkOSSID != "" {
		err := c.users.RevokeSession(ctx, usermanagement.RevokeSessionOpts{SessionID: rec.Head.WorkOSSID})
		if err != nil && !pdk.IsCode(classify("revoke", err), abi.CodeNotFound) {
			return classify("revoke session", err)
		}
	}
	return nil
}

// ListSessions implements pdk.SessionLister: the live sessions of a user
// (from the per-user index), so the host can end them all, e.g. when
// directory sync deletes the user.
func (provider) ListSessions(_ context.Context, userID string) ([]abi.Session, error) {
	c, err := getClients()
	if err != nil {
		return nil, err
	}
	list, err := sessions().List(userID)
	if err != nil {
		return nil, fmt.Errorf("workos: list sessions: %w", err)
	}
	out := make([]abi.Session, 0, len(list))
	for _, rec := range list {
		out = append(out, *toSession(c.cfg, rec))
	}
	return out, nil
}

// SessionIDFromRequest implements pdk.SessionProvider (the session cookie).
func (provider) SessionIDFromRequest(_ context.Context, req abi.Request) (string, error) {
	c, err := getClients()
	if err != nil {
		return "", err
	}
	return cookieValue(req, c.cfg.CookieName), nil
}

// SessionCookies implements pdk.SessionProvider.
func (provider) SessionCookies(_ context.Context, s abi.Session) ([]string, error) {
	c, err := getClients()
	if err != nil {
		return nil, err
	}
	return []string{sessionCookie(c.cfg, s.ID, s.ExpiresAt)}, nil
}

// ClearCookies implements pdk.SessionProvider.
func (provider) ClearCookies(context.Context) ([]string, error) {
	c, err := getClients()
	if err != nil {
		return nil, err
	}
	return []string{sessionCookie(c.cfg, "", time.Now().Add(-time.Hour))}, nil
}

// CurrentUser implements pdk.UserProvider: the user of the session cookie,
// else of a WorkOS access token in Authorization: Bearer.
func (provider) CurrentUser(ctx context.Context, req abi.Request) (*abi.User, error) {
	c, err := getClients()
	if err != nil {
		return nil, err
	}
	if id := cookieValue(req, c.cfg.CookieName); id != "" {
		rec, _, err := activeSession(ctx, c, id)
		if err != nil {
			return nil, err
		}
		if rec != nil {
			u := rec.Head.User
			return &u, nil
		}
	}
	tok := bearer(req)
	if tok == "" {
		return nil, nil
	}
	cl, err := verifyToken(ctx, c, tok)
	if err != nil {
		if pdk.IsCode(err, abi.CodeUnauthenticated) {
			return nil, nil
		}
		return nil, err
	}
	wu, err := c.users.GetUser(ctx, usermanagement.GetUserOpts{User: cl.Sub})
	if err != nil {
		err = classify("get user", err)
		if pdk.IsCode(err, abi.CodeNotFound) {
			return nil, nil
		}
		return nil, err
	}
	u := withTokenClaims(mapUser(wu), cl)
	return &u, nil
}

// GetUser implements pdk.UserProvider.
func (provider) GetUser(ctx context.Context, id string) (*abi.User, error) {
	if !validUserID(id) {
		return nil, nil // the SDK puts the id in the URL path unescaped
	}
	c, err := getClients()
	if err != nil {
		return nil, err
	}
	wu, err := c.users.GetUser(ctx, usermanagement.GetUserOpts{User: id})
	if err != nil {
		err = classify("get user", err)
		if pdk.IsCode(err, abi.CodeNotFound) {
			return nil, nil
		}
		return nil, err
	}
	u := mapUser(wu)
	return &u, nil
}

// ProfileURL implements pdk.ProfileURLer: the user's page in the WorkOS
// dashboard.
func (provider) ProfileURL(_ context.Context, u abi.User) (string, error) {
	if u.ID == "" {
		return "", nil
	}
	return "https://dashboard.workos.com/users/" + u.ID, nil
}

// validUserID reports whether id can be a WorkOS user id ("user_01H…":
// ASCII letters, digits and '_'), so that no other id reaches the API.
func validUserID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}
