package host

import (
	"slices"
	"testing"
	"time"

	"github.com/authhost/authhost/auth"
)

// TestRoleCache: a plugin's rbac_roles and rbac_permissions answers are
// reused per user for RoleCacheSeconds (default 30 s) without a plugin
// call, dropped by InvalidateUser, and asked every time with 0.
func TestRoleCache(t *testing.T) {
	t.Parallel()
	zero, five := 0, 5
	cases := []struct {
		name   string
		secs   *int
		ttl    time.Duration
		cached bool
	}{
		{"default", nil, DefaultRoleCacheSeconds * time.Second, true},
		{"five seconds", &five, 5 * time.Second, true},
		{"turned off", &zero, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f, errs := newFixture(t, func(cfg *Config) {
				cfg.Plugins["allcaps"] = PluginConfig{RoleCacheSeconds: c.secs}
			}, "allcaps")
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			p := f.plugin(t, "allcaps")
			rp := p.RBAC()
			inv, ok := rp.(auth.SessionInvalidator)
			if ok != c.cached {
				t.Fatalf("rbac adapter is a cache: %v, want %v", ok, c.cached)
			}
			u := auth.User{ID: "u", Roles: []string{"x"}}
			ask := func() {
				t.Helper()
				roles, err := rp.Roles(ctx, u)
				perms, err2 := rp.Permissions(ctx, u)
				if err != nil || err2 != nil || !slices.Equal(roles, []string{"member", "x"}) || !slices.Equal(perms, []string{"docs:read"}) {
					t.Fatalf("Roles = %v, %v; Permissions = %v, %v", roles, err, perms, err2)
				}
			}
			calls := p.Stats().Calls
			for range 5 {
				ask()
			}
			want := calls + 10
			if c.cached {
				want = calls + 2
			}
			if got := p.Stats().Calls; got != want {
				t.Fatalf("plugin calls = %d, want %d", got-calls, want-calls)
			}
			if !c.cached {
				return
			}
			f.clock.Advance(c.ttl - time.Second)
			ask()
			if p.Stats().Calls != want {
				t.Fatal("an answer was asked again before it lapsed")
			}
			f.clock.Advance(time.Second)
			ask()
			if want += 2; p.Stats().Calls != want {
				t.Fatal("a lapsed answer was not asked again")
			}
			inv.InvalidateUser("u")
			ask()
			if want += 2; p.Stats().Calls != want {
				t.Fatal("InvalidateUser did not drop the user's answers")
			}
		})
	}
}
