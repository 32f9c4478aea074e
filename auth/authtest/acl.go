package authtest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/authhost/authhost/auth"
)

// TestACLManager checks an auth.ACLManager: grant, check, merge, revoke,
// list and role subjects. newManager returns a manager with no grants that
// takes a user's roles from auth.User.Roles and matches the subject
// "role:<id>" to users with role id.
func TestACLManager(t *testing.T, newManager func(t *testing.T) auth.ACLManager) {
	t.Helper()
	alice := auth.User{ID: "alice"}
	bob := auth.User{ID: "bob"}
	agent1 := auth.Resource{Type: "agent", ID: "a1"}
	agent2 := auth.Resource{Type: "agent", ID: "a2"}
	wf1 := auth.Resource{Type: "workflow", ID: "a1"}

	run := func(name string, fn func(t *testing.T, ctx context.Context, m auth.ACLManager)) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, t.Context(), newManager(t))
		})
	}
	can := func(t *testing.T, ctx context.Context, m auth.ACLManager, u auth.User, res auth.Resource, action string, want bool) {
		t.Helper()
		got, err := m.CanAccess(ctx, u, res, action)
		if err != nil {
			t.Fatalf("CanAccess(%s, %v, %s): %v", u.ID, res, action, err)
		}
		if got != want {
			t.Fatalf("CanAccess(%s, %v, %s) = %v, want %v", u.ID, res, action, got, want)
		}
	}
	grant := func(t *testing.T, ctx context.Context, m auth.ACLManager, subject string, res auth.Resource, actions ...string) *auth.ACLGrant {
		t.Helper()
		g, err := m.Grant(ctx, subject, res, actions, "admin-1")
		if err != nil {
			t.Fatalf("Grant(%s, %v, %v): %v", subject, res, actions, err)
		}
		return g
	}
	list := func(t *testing.T, ctx context.Context, m auth.ACLManager, u auth.User, typ, action string) []string {
		t.Helper()
		ids, err := m.ListAccessible(ctx, u, typ, action)
		if err != nil {
			t.Fatalf("ListAccessible: %v", err)
		}
		slices.Sort(ids)
		return ids
	}

	run("GrantAndCheck", func(t *testing.T, ctx context.Context, m auth.ACLManager) {
		can(t, ctx, m, alice, agent1, "read", false)
		g := grant(t, ctx, m, "alice", agent1, "read")
		if g.Subject != "alice" || g.Resource != agent1 || !slices.Equal(g.Actions, []string{"read"}) || g.GrantedBy != "admin-1" || g.GrantedAt.IsZero() {
			t.Fatalf("Grant = %+v", g)
		}
		can(t, ctx, m, alice, agent1, "read", true)
		can(t, ctx, m, alice, agent1, "write", false) // other action
		can(t, ctx, m, bob, agent1, "read", false)    // other user
		can(t, ctx, m, alice, agent2, "read", false)  // other resource
		can(t, ctx, m, alice, wf1, "read", false)     // same id, other type
		can(t, ctx, m, auth.User{ID: "alice2"}, agent1, "read", false)
		can(t, ctx, m, auth.User{ID: "ali"}, agent1, "read", false)
	})

	run("Wildcard", func(t *testing.T, ctx context.Context, m auth.ACLManager) {
		grant(t, ctx, m, "alice", agent1, "*")
		for _, a := range []string{"read", "write", "execute", "delete"} {
			can(t, ctx, m, alice, agent1, a, true)
		}
		can(t, ctx, m, alice, agent2, "read", false)
		if ids := list(t, ctx, m, alice, "agent", "anything"); !slices.Equal(ids, []string{"a1"}) {
			t.Fatalf("ListAccessible with * grant = %v", ids)
		}
	})

	run("Merge", func(t *testing.T, ctx context.Context, m auth.ACLManager) {
		grant(t, ctx, m, "alice", agent1, "read")
		g := grant(t, ctx, m, "alice", agent1, "write", "read")
		if !sameSet(g.Actions, []string{"read", "write"}) {
			t.Fatalf("merged actions = %v", g.Actions)
		}
		can(t, ctx, m, alice, agent1, "read", true)
		can(t, ctx, m, alice, agent1, "write", true)
		gs, err := m.Grants(ctx, "alice", &agent1)
		if err != nil || len(gs) != 1 || !sameSet(gs[0].Actions, []string{"read", "write"}) {
			t.Fatalf("Grants = %+v, %v", gs, err)
		}
	})

	run("Revoke", func(t *testing.T, ctx context.Context, m auth.ACLManager) {
		grant(t, ctx, m, "alice", agent1, "read", "write", "execute")
		if err := m.Revoke(ctx, "alice", agent1, []string{"write"}); err != nil {
			t.Fatal(err)
		}
		can(t, ctx, m, alice, agent1, "write", false)
		can(t, ctx, m, alice, agent1, "read", true)
		if err := m.Revoke(ctx, "alice", agent1, []string{"read", "execute"}); err != nil {
			t.Fatal(err)
		}
		can(t, ctx, m, alice, agent1, "read", false)
		if gs, _ := m.Grants(ctx, "alice", nil); len(gs) != 0 {
			t.Fatalf("grant without actions kept: %+v", gs)
		}

		grant(t, ctx, m, "alice", agent1, "read", "write")
		if err := m.Revoke(ctx, "alice", agent1, nil); err != nil { // all
			t.Fatal(err)
		}
		can(t, ctx, m, alice, agent1, "read", false)
		can(t, ctx, m, alice, agent1, "write", false)
		if ids := list(t, ctx, m, alice, "agent", "read"); len(ids) != 0 {
			t.Fatalf("ListAccessible after revoke = %v", ids)
		}
		// Revoking what was never granted is fine.
		if err := m.Revoke(ctx, "nobody", agent2, nil); err != nil {
			t.Fatalf("Revoke(missing): %v", err)
		}
		if err := m.Revoke(ctx, "nobody", agent2, []string{"read"}); err != nil {
			t.Fatalf("Revoke(missing action): %v", err)
		}
	})

	run("Roles", func(t *testing.T, ctx context.Context, m auth.ACLManager) {
		grant(t, ctx, m, "role:editor", agent1, "write")
		grant(t, ctx, m, "role:viewer", agent2, "read")
		editor := auth.User{ID: "carol", Roles: []string{"editor"}}
		both := auth.User{ID: "dave", Roles: []string{"viewer", "editor"}}
		can(t, ctx, m, editor, agent1, "write", true)
		can(t, ctx, m, editor, agent2, "read", false)
		can(t, ctx, m, both, agent2, "read", true)
		can(t, ctx, m, both, agent1, "write", true)
		can(t, ctx, m, alice, agent1, "write", false)
		// A user whose id looks like a role subject gets nothing from it.
		can(t, ctx, m, auth.User{ID: "editor"}, agent1, "write", false)
		can(t, ctx, m, auth.User{ID: "role:editor"}, agent1, "write", false)

		grant(t, ctx, m, "dave", auth.Resource{Type: "agent", ID: "a3"}, "read")
		if ids := list(t, ctx, m, both, "agent", "read"); !slices.Equal(ids, []string{"a2", "a3"}) {
			t.Fatalf("ListAccessible(user+role) = %v", ids)
		}
		if ids := list(t, ctx, m, both, "agent", "write"); !slices.Equal(ids, []string{"a1"}) {
			t.Fatalf("ListAccessible(write) = %v", ids)
		}
	})

	run("ListAccessible", func(t *testing.T, ctx context.Context, m auth.ACLManager) {
		grant(t, ctx, m, "alice", agent1, "read")
		grant(t, ctx, m, "alice", agent2, "read", "write")
		grant(t, ctx, m, "alice", wf1, "read")
		grant(t, ctx, m, "alice", auth.Resource{Type: "agents", ID: "x"}, "read") // type prefix neighbour
		grant(t, ctx, m, "bob", auth.Resource{Type: "agent", ID: "b1"}, "read")
		tests := []struct {
			user   auth.User
			typ    string
			action string
			want   []string
		}{
			{alice, "agent", "read", []string{"a1", "a2"}},
			{alice, "agent", "write", []string{"a2"}},
			{alice, "agent", "delete", []string{}},
			{alice, "workflow", "read", []string{"a1"}},
			{alice, "agents", "read", []string{"x"}},
			{alice, "tool", "read", []string{}},
			{bob, "agent", "read", []string{"b1"}},
			{auth.User{ID: "nobody"}, "agent", "read", []string{}},
		}
		for _, tc := range tests {
			got := list(t, ctx, m, tc.user, tc.typ, tc.action)
			if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Errorf("ListAccessible(%s, %s, %s) = %v, want %v", tc.user.ID, tc.typ, tc.action, got, tc.want)
			}
		}
	})

	run("Grants", func(t *testing.T, ctx context.Context, m auth.ACLManager) {
		grant(t, ctx, m, "alice", agent1, "read")
		grant(t, ctx, m, "alice", wf1, "read")
		grant(t, ctx, m, "bob", agent1, "write")
		grant(t, ctx, m, "role:viewer", agent2, "read")
		count := func(subject string, res *auth.Resource) int {
			t.Helper()
			gs, err := m.Grants(ctx, subject, res)
			if err != nil {
				t.Fatalf("Grants(%q, %v): %v", subject, res, err)
			}
			for _, g := range gs {
				if (subject != "" && g.Subject != subject) || (res != nil && g.Resource != *res) {
					t.Fatalf("Grants(%q, %v) returned %+v", subject, res, g)
				}
			}
			return len(gs)
		}
		for _, tc := range []struct {
			subject string
			res     *auth.Resource
			want    int
		}{
			{"", nil, 4},
			{"alice", nil, 2},
			{"bob", nil, 1},
			{"role:viewer", nil, 1},
			{"", &agent1, 2},
			{"alice", &agent1, 1},
			{"alice", &agent2, 0},
			{"carol", nil, 0},
		} {
			if got := count(tc.subject, tc.res); got != tc.want {
				t.Errorf("Grants(%q, %v) has %d, want %d", tc.subject, tc.res, got, tc.want)
			}
		}
	})

	run("Escaping", func(t *testing.T, ctx context.Context, m auth.ACLManager) {
		odd := auth.Resource{Type: "a/b", ID: "c/d"}
		grant(t, ctx, m, "user/1", odd, "read")
		can(t, ctx, m, auth.User{ID: "user/1"}, odd, "read", true)
		can(t, ctx, m, auth.User{ID: "user"}, odd, "read", false)
		can(t, ctx, m, auth.User{ID: "user/1"}, auth.Resource{Type: "a", ID: "b/c/d"}, "read", false)
		if ids := list(t, ctx, m, auth.User{ID: "user/1"}, "a/b", "read"); !slices.Equal(ids, []string{"c/d"}) {
			t.Fatalf("ListAccessible = %v", ids)
		}
		if ids := list(t, ctx, m, auth.User{ID: "user/1"}, "a", "read"); len(ids) != 0 {
			t.Fatalf("ListAccessible(a) = %v", ids)
		}
	})

	run("InvalidGrant", func(t *testing.T, ctx context.Context, m auth.ACLManager) {
		for _, tc := range []struct {
			subject string
			res     auth.Resource
			actions []string
		}{
			{"", agent1, []string{"read"}},
			{"alice", auth.Resource{ID: "x"}, []string{"read"}},
			{"alice", auth.Resource{Type: "agent"}, []string{"read"}},
			{"alice", agent1, nil},
		} {
			if _, err := m.Grant(ctx, tc.subject, tc.res, tc.actions, "x"); err == nil {
				t.Errorf("Grant(%q, %v, %v) succeeded", tc.subject, tc.res, tc.actions)
			}
		}
	})

	run("ConcurrentGrants", func(t *testing.T, ctx context.Context, m auth.ACLManager) {
		// Concurrent grants of different actions to one subject all merge.
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i := range 20 {
			wg.Go(func() {
				if _, err := m.Grant(ctx, "alice", agent1, []string{fmt.Sprintf("act%d", i)}, "x"); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		gs, err := m.Grants(ctx, "alice", &agent1)
		if err != nil || len(gs) != 1 || len(gs[0].Actions) != 20 {
			t.Fatalf("after concurrent grants: %+v, %v", gs, err)
		}
	})
}
