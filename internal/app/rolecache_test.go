package app

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/auth/invalidation"
	"github.com/authhost/authhost/auth/rbaccache"
	"github.com/authhost/authhost/store/memory"
)

// countingRBAC answers one role and counts its calls.
type countingRBAC struct{ calls atomic.Int64 }

func (r *countingRBAC) Roles(context.Context, auth.User) ([]string, error) {
	r.calls.Add(1)
	return []string{"member"}, nil
}

func (r *countingRBAC) Permissions(context.Context, auth.User) ([]string, error) {
	r.calls.Add(1)
	return []string{"docs:read"}, nil
}

// TestRoleChangesDropPluginRoleAnswers checks the wiring: a plugin's role
// cache is among the current generation's caches, so a role change
// through the host's role store (which a webhook user delete also makes)
// drops the user's cached answers at once.
func TestRoleChangesDropPluginRoleAnswers(t *testing.T) {
	t.Parallel()
	inner := &countingRBAC{}
	cache := rbaccache.New(inner, rbaccache.Options{TTL: time.Minute})
	var set sessionCacheSet
	set.set(cacheSinks(auth.Provider{Name: "p", RBAC: cache}))
	bus, err := invalidation.New(context.Background(), memory.New(memory.Options{}), set.sinks, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	u := auth.User{ID: "u1"}
	ask := func() {
		t.Helper()
		if _, err := cache.Roles(context.Background(), u); err != nil {
			t.Fatal(err)
		}
	}
	ask()
	ask()
	if n := inner.calls.Load(); n != 1 {
		t.Fatalf("%d provider calls before the change, want 1", n)
	}
	bus.InvalidateUser("u1")
	ask()
	if n := inner.calls.Load(); n != 2 {
		t.Fatalf("%d provider calls after the change, want 2 (the answer was not dropped)", n)
	}
	if h, m, n := set.stats(); h != 0 || m != 0 || n != 0 {
		t.Fatalf("session cache stats = %d %d %d: role caches are not session caches", h, m, n)
	}
}
