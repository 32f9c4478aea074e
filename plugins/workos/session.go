package main

import (
	"context"
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

func toSession(rec *sessionRecord) *abi.Session {
	return &abi.Session{
		ID: rec.ID, UserID: rec.UserID, CreatedAt: rec.CreatedAt, ExpiresAt: rec.ExpiresAt,
		Metadata: map[string]any{"workos_session_id": rec.WorkOSSID, "organization_id": rec.OrgID},
	}
}

// refresh exchanges the session's single-use refresh token for new tokens
// and stores them. A rejected refresh token ends the session (nil, nil).
func refresh(ctx context.Context, c *clients, rec *sessionRecord) (*sessionRecord, error) {
	res, err := c.users.AuthenticateWithRefreshToken(ctx, usermanagement.AuthenticateWithRefreshTokenOpts{
		ClientID: c.cfg.ClientID, RefreshToken: rec.RefreshToken,
	})
	if err != nil {
		cerr := classify("refresh session", err)
		if pdk.IsCode(cerr, abi.CodeInvalidCredentials) || pdk.IsCode(cerr, abi.CodeInvalidRequest) {
			_ = pdk.KV.Delete(sessionKey(rec.ID))
			return nil, nil
		}
		return nil, cerr
	}
	cl, err := verifyToken(ctx, c, res.AccessToken)
	if err != nil {
		return nil, fmt.Errorf("workos: verify refreshed access token: %w", err)
	}
	next := *rec
	next.AccessToken, next.RefreshToken = res.AccessToken, res.RefreshToken
	next.WorkOSSID, next.OrgID = cl.Sid, cl.OrgID
	next.User = withTokenClaims(next.User, cl)
	next.ExpiresAt = time.Now().UTC().Add(sessionMaxAge)
	if err := saveSession(next); err != nil {
		return nil, err
	}
	return &next, nil
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
		return refresh(ctx, c, rec)
	case pdk.IsCode(err, abi.CodeUnauthenticated):
		_ = pdk.KV.Delete(sessionKey(id))
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
	return toSession(rec), nil
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
	next, err := refresh(ctx, c, rec)
	if err != nil || next == nil {
		return nil, err
	}
	return toSession(next), nil
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
	if err := pdk.KV.Delete(sessionKey(id)); err != nil {
		return fmt.Errorf("workos: delete session: %w", err)
	}
	if rec.WorkOSSID != "" {
		err := c.users.RevokeSession(ctx, usermanagement.RevokeSessionOpts{SessionID: rec.WorkOSSID})
		if err != nil && !pdk.IsCode(classify("revoke", err), abi.CodeNotFound) {
			return classify("revoke session", err)
		}
	}
	return nil
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
