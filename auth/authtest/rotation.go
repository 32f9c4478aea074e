package authtest

import (
	"context"
	"sync"
	"testing"

	"github.com/authhost/authhost/auth"
)

// RotationPeer drives a session provider whose sessions hold an upstream
// issuer's tokens (an OIDC provider, WorkOS) through that issuer, for
// TestSessionRotation. Every field is required.
type RotationPeer struct {
	// SignIn makes a new session by signing in at the issuer and returns
	// its id.
	SignIn func(t *testing.T) string
	// ExpireAccess makes the upstream access token of session id due, so
	// that its next validation must rotate the refresh token.
	ExpireAccess func(t *testing.T, id string)
	// RefreshToken returns the upstream refresh token session id holds now.
	RefreshToken func(t *testing.T, id string) string
	// Spent reports whether the issuer refuses refresh token rt. It may
	// spend a token that is still live.
	Spent func(t *testing.T, rt string) bool
	// Withdraw makes the issuer refuse session id's refresh token (the
	// user's grant revoked upstream).
	Withdraw func(t *testing.T, id string)
}

// TestSessionRotation checks a session provider that keeps upstream
// tokens: a validation that finds the access token due rotates the
// single-use refresh token and keeps the session; concurrent validations of
// one due session all keep it; an issuer that refuses the refresh token
// ends it; destroying it revokes its refresh token. Its cases run one
// after another (an issuer's user may be shared between them).
func TestSessionRotation(t *testing.T, p auth.SessionProvider, peer RotationPeer) {
	t.Helper()
	validate := func(t *testing.T, ctx context.Context, id string) *auth.Session {
		t.Helper()
		s, err := p.ValidateSession(ctx, id)
		if err != nil {
			t.Fatalf("validate: %v", err)
		}
		return s
	}
	t.Run("RotateOnValidate", func(t *testing.T) {
		ctx := context.Background()
		id := peer.SignIn(t)
		t.Cleanup(func() { _ = p.DestroySession(context.Background(), id) })
		first := validate(t, ctx, id)
		if first == nil {
			t.Fatal("a new session is not valid")
		}
		before := peer.RefreshToken(t, id)
		peer.ExpireAccess(t, id)
		s := validate(t, ctx, id)
		if s == nil || s.ID != id || s.UserID != first.UserID {
			t.Fatalf("validate with a due access token = %+v, want session %s of %s", s, id, first.UserID)
		}
		after := peer.RefreshToken(t, id)
		if after == before {
			t.Fatal("the refresh token was not rotated")
		}
		if !peer.Spent(t, before) {
			t.Fatal("the rotated-away refresh token still works at the issuer")
		}
		if validate(t, ctx, id) == nil {
			t.Fatal("session invalid after rotation")
		}
	})
	t.Run("ConcurrentRotation", func(t *testing.T) {
		ctx := context.Background()
		id := peer.SignIn(t)
		t.Cleanup(func() { _ = p.DestroySession(context.Background(), id) })
		for round := range 3 {
			peer.ExpireAccess(t, id)
			var wg sync.WaitGroup
			got := make([]*auth.Session, 8)
			errs := make([]error, len(got))
			for i := range got {
				wg.Add(1)
				go func() {
					defer wg.Done()
					got[i], errs[i] = p.ValidateSession(ctx, id)
				}()
			}
			wg.Wait()
			for i := range got {
				if errs[i] != nil || got[i] == nil || got[i].ID != id {
					t.Fatalf("round %d: concurrent validation %d = %+v, %v; the session must survive", round, i, got[i], errs[i])
				}
			}
		}
		if validate(t, ctx, id) == nil {
			t.Fatal("session invalid after concurrent rotations")
		}
	})
	t.Run("RefusedEnds", func(t *testing.T) {
		ctx := context.Background()
		id := peer.SignIn(t)
		peer.Withdraw(t, id)
		peer.ExpireAccess(t, id)
		if s := validate(t, ctx, id); s != nil {
			t.Fatalf("session with a refused refresh token = %+v, want ended", s)
		}
		if s := validate(t, ctx, id); s != nil {
			t.Fatalf("ended session validated again = %+v", s)
		}
	})
	t.Run("DestroyRevokes", func(t *testing.T) {
		ctx := context.Background()
		id := peer.SignIn(t)
		rt := peer.RefreshToken(t, id)
		if err := p.DestroySession(ctx, id); err != nil {
			t.Fatalf("destroy: %v", err)
		}
		if s := validate(t, ctx, id); s != nil {
			t.Fatalf("destroyed session = %+v", s)
		}
		if !peer.Spent(t, rt) {
			t.Fatal("the destroyed session's refresh token still works at the issuer")
		}
		if err := p.DestroySession(ctx, id); err != nil {
			t.Fatalf("destroying twice: %v", err)
		}
	})
}
