package authtest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/authhost/authhost/auth"
)

// TestRBACManager checks an auth.RBACManager: role definitions, assigning,
// replacing and clearing roles, an empty assignment meaning no roles, and permissions resolved from assigned
// roles (inheritance included). newManager returns a manager with no
// assignments and at least one role definition.
func TestRBACManager(t *testing.T, newManager func(t *testing.T) auth.RBACManager) {
	t.Helper()
	run := func(name string, fn func(t *testing.T, ctx context.Context, m auth.RBACManager, defs []auth.RoleDefinition)) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			m := newManager(t)
			defs, err := m.RoleDefinitions(ctx)
			if err != nil {
				t.Fatalf("RoleDefinitions: %v", err)
			}
			if len(defs) == 0 {
				t.Fatal("RoleDefinitions is empty")
			}
			fn(t, ctx, m, defs)
		})
	}

	run("Definitions", func(t *testing.T, ctx context.Context, m auth.RBACManager, defs []auth.RoleDefinition) {
		seen := map[string]bool{}
		for _, d := range defs {
			if d.ID == "" || seen[d.ID] {
				t.Fatalf("role id %q empty or duplicate", d.ID)
			}
			seen[d.ID] = true
		}
		// The result is a copy.
		defs[0].ID = "mutated"
		if len(defs[0].Permissions) > 0 {
			defs[0].Permissions[0] = "mutated:perm"
		}
		again, _ := m.RoleDefinitions(ctx)
		if again[0].ID == "mutated" || (len(again[0].Permissions) > 0 && again[0].Permissions[0] == "mutated:perm") {
			t.Fatal("RoleDefinitions returned shared state")
		}
	})

	run("AssignAndResolve", func(t *testing.T, ctx context.Context, m auth.RBACManager, defs []auth.RoleDefinition) {
		for i, d := range defs {
			uid := fmt.Sprintf("user-%d", i)
			if err := m.SetUserRoles(ctx, uid, []string{d.ID}); err != nil {
				t.Fatalf("SetUserRoles(%q): %v", d.ID, err)
			}
			got, assigned, err := m.UserRoles(ctx, uid)
			if err != nil || !assigned || !slices.Equal(got, []string{d.ID}) {
				t.Fatalf("UserRoles = %v, %v, %v; want [%s], assigned", got, assigned, err, d.ID)
			}
			roles, err := m.Roles(ctx, auth.User{ID: uid})
			if err != nil || !slices.Equal(roles, []string{d.ID}) {
				t.Fatalf("Roles = %v, %v; want [%s]", roles, err, d.ID)
			}
			perms, err := m.Permissions(ctx, auth.User{ID: uid})
			if err != nil {
				t.Fatal(err)
			}
			want := auth.ResolvePermissions([]string{d.ID}, defs)
			slices.Sort(perms)
			if !slices.Equal(perms, want) {
				t.Fatalf("Permissions(%s) = %v, want %v", d.ID, perms, want)
			}
			for _, p := range d.Permissions {
				if !auth.HasPermission(perms, p) {
					t.Fatalf("role %s lacks its own permission %q", d.ID, p)
				}
			}
		}
	})

	run("ReplaceAndClear", func(t *testing.T, ctx context.Context, m auth.RBACManager, defs []auth.RoleDefinition) {
		ids := make([]string, len(defs))
		for i, d := range defs {
			ids[i] = d.ID
		}
		uid := "user/with/slashes"
		if err := m.SetUserRoles(ctx, uid, ids); err != nil {
			t.Fatal(err)
		}
		got, _, _ := m.UserRoles(ctx, uid)
		if !sameSet(got, ids) {
			t.Fatalf("UserRoles = %v, want %v", got, ids)
		}
		if err := m.SetUserRoles(ctx, uid, ids[:1]); err != nil {
			t.Fatal(err)
		}
		if got, _, _ := m.UserRoles(ctx, uid); !slices.Equal(got, ids[:1]) {
			t.Fatalf("after replace UserRoles = %v, want %v", got, ids[:1])
		}
		// Neighbouring user ids are unaffected.
		if got, assigned, _ := m.UserRoles(ctx, "user"); len(got) != 0 || assigned {
			t.Fatalf("UserRoles(user) = %v, %v", got, assigned)
		}
		// Clearing removes the assignment; clearing again is no error.
		for range 2 {
			if err := m.ClearUserRoles(ctx, uid); err != nil {
				t.Fatal(err)
			}
			if got, assigned, err := m.UserRoles(ctx, uid); err != nil || len(got) != 0 || assigned {
				t.Fatalf("after clear UserRoles = %v, %v, %v; want no assignment", got, assigned, err)
			}
		}
	})

	// An empty assignment is an assignment: the user has no roles and no
	// permissions, whatever the identity provider says and whatever the
	// default is, until it is cleared.
	run("EmptyAssignment", func(t *testing.T, ctx context.Context, m auth.RBACManager, defs []auth.RoleDefinition) {
		u := auth.User{ID: "emptied", Roles: []string{defs[0].ID}}
		before, err := m.Roles(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		for _, empty := range [][]string{{}, nil} {
			if err := m.SetUserRoles(ctx, u.ID, empty); err != nil {
				t.Fatal(err)
			}
			if got, assigned, err := m.UserRoles(ctx, u.ID); err != nil || got == nil || len(got) != 0 || !assigned {
				t.Fatalf("UserRoles after SetUserRoles(%#v) = %#v, %v, %v; want [], assigned", empty, got, assigned, err)
			}
			if roles, err := m.Roles(ctx, u); err != nil || len(roles) != 0 {
				t.Fatalf("Roles after SetUserRoles(%#v) = %v, %v; want none", empty, roles, err)
			}
			if perms, err := m.Permissions(ctx, u); err != nil || len(perms) != 0 {
				t.Fatalf("Permissions after SetUserRoles(%#v) = %v, %v; want none", empty, perms, err)
			}
		}
		if err := m.ClearUserRoles(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if after, err := m.Roles(ctx, u); err != nil || !slices.Equal(after, before) {
			t.Fatalf("Roles after ClearUserRoles = %v, %v; want %v as before any assignment", after, err, before)
		}
	})

	run("UnknownRole", func(t *testing.T, ctx context.Context, m auth.RBACManager, defs []auth.RoleDefinition) {
		if err := m.SetUserRoles(ctx, "u", []string{"no-such-role-xyz"}); err == nil {
			t.Fatal("SetUserRoles accepted an undefined role")
		}
		if got, assigned, _ := m.UserRoles(ctx, "u"); len(got) != 0 || assigned {
			t.Fatalf("rejected assignment was stored: %v, %v", got, assigned)
		}
	})

	run("NoRoles", func(t *testing.T, ctx context.Context, m auth.RBACManager, defs []auth.RoleDefinition) {
		if got, assigned, err := m.UserRoles(ctx, "stranger"); err != nil || got == nil || len(got) != 0 || assigned {
			t.Fatalf("UserRoles(stranger) = %#v, %v, %v; want [], not assigned", got, assigned, err)
		}
		if err := m.ClearUserRoles(ctx, ""); auth.CodeOf(err) != auth.CodeInvalidRequest {
			t.Fatalf("ClearUserRoles(\"\") = %v, want invalid_request", err)
		}
	})

	run("Concurrent", func(t *testing.T, ctx context.Context, m auth.RBACManager, defs []auth.RoleDefinition) {
		var wg sync.WaitGroup
		errs := make(chan error, 32)
		for i := range 32 {
			wg.Go(func() {
				if err := m.SetUserRoles(ctx, fmt.Sprintf("c-%d", i), []string{defs[i%len(defs)].ID}); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		for i := range 32 {
			got, _, _ := m.UserRoles(ctx, fmt.Sprintf("c-%d", i))
			if !slices.Equal(got, []string{defs[i%len(defs)].ID}) {
				t.Fatalf("c-%d has %v", i, got)
			}
		}
	})
}

// TestDefaultRoles checks a manager configured with auth.DefaultRoles
// against the reference permission cases: owner's "*" grants everything,
// admin has agents:*, workflows:* and studio:*, viewer is read-only.
func TestDefaultRoles(t *testing.T, newManager func(t *testing.T) auth.RBACManager) {
	t.Helper()
	cases := []struct {
		role string
		perm string
		want bool
	}{
		{auth.RoleOwner, "agents:delete", true},
		{auth.RoleOwner, "anything:at:all", true},
		{auth.RoleOwner, "users:write", true},
		{auth.RoleAdmin, "agents:read", true},
		{auth.RoleAdmin, "agents:write", true},
		{auth.RoleAdmin, "agents:delete", true},
		{auth.RoleAdmin, "workflows:execute", true},
		{auth.RoleAdmin, "studio:admin", true},
		{auth.RoleAdmin, "audit:read", true},
		{auth.RoleAdmin, "users:write", false},
		{auth.RoleMember, "agents:execute", true},
		{auth.RoleMember, "agents:write", false},
		{auth.RoleMember, "audit:read", false},
		{auth.RoleViewer, "agents:read", true},
		{auth.RoleViewer, "workflows:read", true},
		{auth.RoleViewer, "agents:write", false},
		{auth.RoleViewer, "agents:execute", false},
		{auth.RoleViewer, "settings:write", false},
	}
	t.Run("DefaultRoles", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		m := newManager(t)
		for _, tc := range cases {
			uid := "default-" + tc.role
			if err := m.SetUserRoles(ctx, uid, []string{tc.role}); err != nil {
				t.Fatal(err)
			}
			perms, err := m.Permissions(ctx, auth.User{ID: uid})
			if err != nil {
				t.Fatal(err)
			}
			if got := auth.HasPermission(perms, tc.perm); got != tc.want {
				t.Errorf("%s has %s = %v, want %v (perms %v)", tc.role, tc.perm, got, tc.want, perms)
			}
		}
	})
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
