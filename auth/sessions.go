package auth

import (
	"context"
	"errors"
	"fmt"
)

// ErrCannotListSessions is returned by EndUserSessions when the session
// provider can neither list a user's sessions nor end them all at once.
var ErrCannotListSessions = errors.New("the session provider cannot list a user's sessions")

// userSessionsEnder is implemented by session providers that end all of a
// user's sessions in one step (the built-in store does, atomically).
type userSessionsEnder interface {
	DestroyUserSessions(ctx context.Context, userID string) (int, error)
}

// SessionInvalidator is a cache in front of a provider that holds
// something about users (auth/sessioncache, auth/rbaccache):
// InvalidateUser drops what it holds about a user.
type SessionInvalidator interface {
	InvalidateUser(userID string)
}

// EndUserSessions ends every session of userID ("sign out everywhere") and
// returns how many it ended: in one step when the provider can, else by
// listing them and destroying each. A session cache in front of sp forgets
// the user's sessions whatever the outcome.
func EndUserSessions(ctx context.Context, sp SessionProvider, userID string) (int, error) {
	if sp == nil {
		return 0, nil
	}
	if inv, ok := sp.(SessionInvalidator); ok {
		defer inv.InvalidateUser(userID)
	}
	if e, ok := sp.(userSessionsEnder); ok {
		return e.DestroyUserSessions(ctx, userID)
	}
	lister, ok := sp.(SessionLister)
	if !ok {
		return 0, ErrCannotListSessions
	}
	sessions, err := lister.ListSessions(ctx, userID)
	if err != nil {
		return 0, fmt.Errorf("list sessions: %w", err)
	}
	n := 0
	for _, s := range sessions {
		if err := sp.DestroySession(ctx, s.ID); err != nil {
			return n, fmt.Errorf("destroy session: %w", err)
		}
		n++
	}
	return n, nil
}

// InvalidatingRBAC returns m whose SetUserRoles and ClearUserRoles also
// make every cache of caches forget the user's sessions, so a role change
// takes effect on the next request instead of when the cached session
// expires.
func InvalidatingRBAC(m RBACManager, caches ...SessionInvalidator) RBACManager {
	if len(caches) == 0 {
		return m
	}
	return invalidatingRBAC{RBACManager: m, caches: caches}
}

type invalidatingRBAC struct {
	RBACManager
	caches []SessionInvalidator
}

func (r invalidatingRBAC) SetUserRoles(ctx context.Context, userID string, roles []string) error {
	err := r.RBACManager.SetUserRoles(ctx, userID, roles)
	r.invalidate(userID)
	return err
}

func (r invalidatingRBAC) ClearUserRoles(ctx context.Context, userID string) error {
	err := r.RBACManager.ClearUserRoles(ctx, userID)
	r.invalidate(userID)
	return err
}

func (r invalidatingRBAC) invalidate(userID string) {
	for _, c := range r.caches {
		c.InvalidateUser(userID)
	}
}
