package auth

import (
	"context"
	"maps"
	"net/http"
	"time"

	"github.com/authhost/authhost/abi"
)

// Session metadata keys under which a session keeps a snapshot of the
// user, so resolving a request needs no provider call. They are the ABI's
// (abi.SessionMeta*): plugin sessions carry the same keys.
const (
	MetaEmail     = abi.SessionMetaEmail
	MetaName      = abi.SessionMetaName
	MetaAvatarURL = abi.SessionMetaAvatarURL
	MetaRoles     = abi.SessionMetaRoles
	MetaSource    = abi.SessionMetaSource
	// MetaSlidingTTL is a provider session's sliding lifetime in seconds:
	// the host refreshes the session once less than half of it is left.
	// Without it the host's own session TTL applies.
	MetaSlidingTTL = abi.SessionMetaSlidingTTL
	// MetaUserMetadata holds the user's own metadata (User.Metadata, e.g. a
	// provider's email-verified flag and account timestamps) as an object.
	MetaUserMetadata = abi.SessionMetaUserMetadata
)

// SnapshotMetadata returns session metadata holding u's profile and roles
// (abi.SessionSnapshot, without u's own metadata: host sessions keep the
// profile only).
func SnapshotMetadata(u User, source string) map[string]any {
	return abi.SessionSnapshot(abi.User{ID: u.ID, Email: u.Email, Name: u.Name, AvatarURL: u.AvatarURL, Roles: u.Roles}, source)
}

// UserFromSession rebuilds the user snapshot a session carries.
func UserFromSession(s *Session) User {
	u := User{ID: s.UserID}
	str := func(k string) string { v, _ := s.Metadata[k].(string); return v }
	u.Email, u.Name, u.AvatarURL = str(MetaEmail), str(MetaName), str(MetaAvatarURL)
	switch roles := s.Metadata[MetaRoles].(type) {
	case []any:
		for _, r := range roles {
			if rs, ok := r.(string); ok {
				u.Roles = append(u.Roles, rs)
			}
		}
	case []string:
		u.Roles = append(u.Roles, roles...)
	}
	if md, ok := s.Metadata[MetaUserMetadata].(map[string]any); ok && len(md) > 0 {
		u.Metadata = maps.Clone(md)
	}
	return u
}

// CurrentUser resolves the request to a user: first through the host's
// session (cookie or bearer token), then, for providers that manage their
// own sessions, through the user provider, unless that provider serves
// the session too and recognises requests only by it (SessionOnly): then
// a request without a valid session is anonymous. It returns (nil, nil,
// nil) for an anonymous request and the session when one was used.
func (c *Composed) CurrentUser(ctx context.Context, r *http.Request) (*User, *Session, error) {
	if c.Session != nil {
		id, err := c.Session.SessionIDFromRequest(ctx, r)
		if err != nil {
			return nil, nil, err
		}
		if id != "" {
			s, err := c.Session.ValidateSession(ctx, id)
			if err != nil {
				return nil, nil, err
			}
			if s != nil {
				u := UserFromSession(s)
				c.refreshRoles(ctx, s, &u)
				return &u, s, nil
			}
		}
	}
	if c.User != nil && !c.sessionOnlyUser && (c.ManagesSessions(CapUser) || c.Session == nil) {
		u, err := c.User.CurrentUser(ctx, r)
		return u, nil, err
	}
	return nil, nil, nil
}

// refreshRoles replaces the roles that a session the host created took
// from the provider at sign-in with those the provider reports now
// (Provider.UserRoles, cached by the host for the plugin's
// role_cache_seconds), so a role changed at the identity provider takes
// effect on existing sessions within that time instead of at the next
// sign-in. A failure keeps the snapshot (an outage locks nobody out).
func (c *Composed) refreshRoles(ctx context.Context, s *Session, u *User) {
	if src, _ := s.Metadata[MetaSource].(string); c.userRoles == nil || !c.rolesFrom[src] {
		return
	}
	if roles, err := c.userRoles.Roles(ctx, *u); err == nil {
		u.Roles = roles
	}
}

// SlidingTTL is the sliding lifetime of s: the provider's (MetaSlidingTTL)
// when it sets one, else def.
func SlidingTTL(s *Session, def time.Duration) time.Duration {
	switch v := s.Metadata[MetaSlidingTTL].(type) {
	case float64:
		if v > 0 {
			return time.Duration(v * float64(time.Second))
		}
	case int:
		if v > 0 {
			return time.Duration(v) * time.Second
		}
	case int64:
		if v > 0 {
			return time.Duration(v) * time.Second
		}
	}
	return def
}
