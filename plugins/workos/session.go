package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk"
	"github.com/workos/workos-go/v4/pkg/usermanagement"
)

// saveSession stores rec in KV until it expires.
func saveSession(rec sessionRecord) error {
	ttl := time.Until(rec.ExpiresAt)
	if ttl < time.Second {
		ttl = time.Second
	}
	if err := pdk.KV.SetJSON(sessionKey(rec.ID), rec, ttl); err != nil {
		return fmt.Errorf("workos: store session: %w", err)
	}
	return nil
}

// loadSession returns the stored session, or nil.
func loadSession(id string) (*sessionRecord, error) {
	if id == "" {
		return nil, nil
	}
	var rec sessionRecord
	ok, err := pdk.KV.GetJSON(sessionKey(id), &rec)
	if err != nil {
		return nil, fmt.Errorf("workos: load session: %w", err)
	}
	if !ok || time.Now().After(rec.ExpiresAt) {
		return nil, nil
	}
	return &rec, nil
}

// deleteSession forgets a session and drops it from its user's index.
func deleteSession(rec *sessionRecord) error {
	if err := pdk.KV.Delete(sessionKey(rec.ID)); err != nil {
		return fmt.Errorf("workos: delete session: %w", err)
	}
	unindexSession(rec.UserID, rec.ID)
	return nil
}

// maxUserSessions bounds the per-user session index.
const maxUserSessions = 100

func userSessionsKey(userID string) string { return "user_sessions:" + userID }

// indexSession records session id under its user so session_list (and so
// "end every session of a deleted user") can find it. Ids of sessions that
// are gone are pruned. The index is read-modify-write: two sign-ins of the
// same user at the same instant may lose one entry (that session then
// survives a directory deletion until it expires or is logged out).
func indexSession(userID, id string) error {
	var ids []string
	if _, err := pdk.KV.GetJSON(userSessionsKey(userID), &ids); err != nil {
		return fmt.Errorf("workos: load session index: %w", err)
	}
	keep := make([]string, 0, len(ids)+1)
	for _, x := range ids {
		if x == id {
			continue
		}
		if _, ok, err := pdk.KV.Get(sessionKey(x)); err == nil && ok {
			keep = append(keep, x)
		}
	}
	keep = append(keep, id)
	if len(keep) > maxUserSessions {
		keep = keep[len(keep)-maxUserSessions:]
	}
	if err := pdk.KV.SetJSON(userSessionsKey(userID), keep, sessionMaxAge); err != nil {
		return fmt.Errorf("workos: store session index: %w", err)
	}
	return nil
}

// unindexSession removes id from its user's index (best effort).
func unindexSession(userID, id string) {
	var ids []string
	if ok, err := pdk.KV.GetJSON(userSessionsKey(userID), &ids); err != nil || !ok {
		return
	}
	keep := ids[:0]
	for _, x := range ids {
		if x != id {
			keep = append(keep, x)
		}
	}
	if len(keep) == 0 {
		_ = pdk.KV.Delete(userSessionsKey(userID))
		return
	}
	_ = pdk.KV.SetJSON(userSessionsKey(userID), keep, sessionMaxAge)
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
func toSession(cfg *config, rec *sessionRecord) *abi.Session {
	u := rec.User
	u.Roles, u.Metadata = snapshotRoles(cfg, rec.User), nil
	md := abi.SessionSnapshot(u, "sso")
	md["workos_session_id"], md["organization_id"] = rec.WorkOSSID, rec.OrgID
	// The host slides the session by the lifetime session_refresh extends
	// it by.
	md[abi.SessionMetaSlidingTTL] = int(sessionMaxAge.Seconds())
	return &abi.Session{ID: rec.ID, UserID: rec.UserID, CreatedAt: rec.CreatedAt, ExpiresAt: rec.ExpiresAt, Metadata: md}
}

// rotationGrace is how long the result of a refresh-token rotation is
// remembered, so a concurrent request that still holds the old (now spent)
// refresh token adopts the new tokens instead of ending the session.
const rotationGrace = time.Minute

// rotation is a remembered refresh result.
type rotation struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// rotationKey is the KV key of the rotation of refresh token rt (hashed:
// the token itself is never a key).
func rotationKey(rt string) string {
	sum := sha256.Sum256([]byte(rt))
	return "rotated:" + hex.EncodeToString(sum[:16])
}

// refresh exchanges the session's single-use refresh token for new tokens
// and stores them. A rejected refresh token ends the session (nil, nil),
// unless another request rotated it a moment ago: then that rotation's
// tokens are used. extend also moves the session's expiry (session_refresh,
// after which the host re-issues the cookie); a token refresh while
// validating keeps it, so the session never outlives its cookie.
func refresh(ctx context.Context, c *clients, rec *sessionRecord, extend bool) (*sessionRecord, error) {
	res, err := c.users.AuthenticateWithRefreshToken(ctx, usermanagement.AuthenticateWithRefreshTokenOpts{
		ClientID: c.cfg.ClientID, RefreshToken: rec.RefreshToken,
	})
	if err != nil {
		cerr := classify("refresh session", err)
		if pdk.IsCode(cerr, abi.CodeInvalidCredentials) || pdk.IsCode(cerr, abi.CodeInvalidRequest) {
			if next, err := rotatedElsewhere(ctx, c, rec, extend); next != nil || err != nil {
				return next, err
			}
			_ = deleteSession(rec)
			return nil, nil
		}
		return nil, cerr
	}
	// Remember the rotation first, so a concurrent request whose refresh
	// is now rejected finds it.
	if err := pdk.KV.SetJSON(rotationKey(rec.RefreshToken), rotation{res.AccessToken, res.RefreshToken}, rotationGrace); err != nil {
		pdk.Log.Warn("workos: remembering a refresh-token rotation failed", "error", err.Error())
	}
	return withTokens(ctx, c, rec, res.AccessToken, res.RefreshToken, extend)
}

// withTokens stores rec with a new token pair (the access token verified),
// its expiry moved when extend is set, and returns it.
func withTokens(ctx context.Context, c *clients, rec *sessionRecord, access, refreshToken string, extend bool) (*sessionRecord, error) {
	cl, err := verifyToken(ctx, c, access)
	if err != nil {
		return nil, fmt.Errorf("workos: verify refreshed access token: %w", err)
	}
	next := *rec
	next.AccessToken, next.RefreshToken = access, refreshToken
	next.WorkOSSID, next.OrgID = cl.Sid, cl.OrgID
	next.User = withTokenClaims(next.User, cl)
	if extend {
		next.ExpiresAt = time.Now().UTC().Add(sessionMaxAge)
	}
	if err := saveSession(next); err != nil {
		return nil, err
	}
	return &next, nil
}

// rotatedElsewhere looks for a rotation of rec's refresh token by a
// concurrent request: the stored session already holds newer tokens, or
// the rotation was remembered (see rotationGrace). It waits briefly for
// the other request to record its result. (nil, nil) means the token was
// really rejected.
func rotatedElsewhere(ctx context.Context, c *clients, rec *sessionRecord, extend bool) (*sessionRecord, error) {
	for attempt := range 4 {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 50 * time.Millisecond)
		}
		cur, err := loadSession(rec.ID)
		if err != nil {
			return nil, err
		}
		if cur == nil {
			return nil, nil // logged out meanwhile
		}
		if cur.RefreshToken != rec.RefreshToken {
			return cur, nil
		}
		var rot rotation
		ok, err := pdk.KV.GetJSON(rotationKey(rec.RefreshToken), &rot)
		if err != nil {
			return nil, err
		}
		if ok {
			return withTokens(ctx, c, cur, rot.AccessToken, rot.RefreshToken, extend)
		}
	}
	return nil, nil
}

// activeSession loads session id and makes sure its access token is
// valid, refreshing it once when it expired; nil when the session is gone.
func activeSession(ctx context.Context, c *clients, id string) (*sessionRecord, error) {
	rec, err := loadSession(id)
	if err != nil || rec == nil {
		return nil, err
	}
	_, err = verifyToken(ctx, c, rec.AccessToken)
	switch {
	case err == nil:
		return rec, nil
	case errors.Is(err, errExpired):
		return refresh(ctx, c, rec, false)
	case pdk.IsCode(err, abi.CodeUnauthenticated):
		_ = deleteSession(rec)
		return nil, nil
	default:
		return nil, err
	}
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
	rec, err := activeSession(ctx, c, id)
	if err != nil || rec == nil {
		return nil, err
	}
	return toSession(c.cfg, rec), nil
}

// RefreshSession implements pdk.SessionProvider: it rotates the WorkOS
// refresh token and extends the session.
func (provider) RefreshSession(ctx context.Context, id string) (*abi.Session, error) {
	c, err := getClients()
	if err != nil {
		return nil, err
	}
	rec, err := loadSession(id)
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
	rec, err := loadSession(id)
	if err != nil || rec == nil {
		return err
	}
	if err := deleteSession(rec); err != nil {
		return err
	}
	if rec.WorkOSSID != "" {
		err := c.users.RevokeSession(ctx, usermanagement.RevokeSessionOpts{SessionID: rec.WorkOSSID})
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
	var ids []string
	if _, err := pdk.KV.GetJSON(userSessionsKey(userID), &ids); err != nil {
		return nil, fmt.Errorf("workos: load session index: %w", err)
	}
	out := []abi.Session{}
	for _, id := range ids {
		rec, err := loadSession(id)
		if err != nil {
			return nil, err
		}
		if rec != nil && rec.UserID == userID {
			out = append(out, *toSession(c.cfg, rec))
		}
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
		rec, err := activeSession(ctx, c, id)
		if err != nil {
			return nil, err
		}
		if rec != nil {
			u := rec.User
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
