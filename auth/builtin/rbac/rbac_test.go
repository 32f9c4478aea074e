package rbac_test

import (
	"github.com/authhost/authhost/internal/testenv/stores"
	"slices"
	"strings"
	"testing"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/auth/authtest"
	"github.com/authhost/authhost/auth/builtin/rbac"
	"github.com/authhost/authhost/store"
	"github.com/authhost/authhost/store/memory"
)

func newManager(t *testing.T, st store.Store, opts rbac.Options) *rbac.Manager {
	t.Helper()
	m, err := rbac.New(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestConformance(t *testing.T) {
	t.Parallel()
	for name, open := range stores.Backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			mk := func(t *testing.T) auth.RBACManager { return newManager(t, open(t), rbac.Options{}) }
			authtest.TestRBACManager(t, mk)
			authtest.TestDefaultRoles(t, mk)
		})
	}
	t.Run("custom roles with inheritance", func(t *testing.T) {
		t.Parallel()
		roles := []auth.RoleDefinition{
			{ID: "base", Name: "Base", Permissions: []string{"a:read"}},
			{ID: "mid", Name: "Mid", Permissions: []string{"b:*"}, Inherits: []string{"base"}},
			{ID: "top", Name: "Top", Permissions: []string{"c:write"}, Inherits: []string{"mid", "base"}},
			{ID: "loop1", Name: "Loop 1", Permissions: []string{"l:1"}, Inherits: []string{"loop2"}},
			{ID: "loop2", Name: "Loop 2", Permissions: []string{"l:2"}, Inherits: []string{"loop1"}},
		}
		authtest.TestRBACManager(t, func(*testing.T) auth.RBACManager {
			return newManager(t, memory.New(memory.Options{}), rbac.Options{Roles: roles})
		})
	})
}

// TestRoleSources checks the precedence: assignment, then mapped provider
// roles, then the default roles.
func TestRoleSources(t *testing.T) {
	t.Parallel()
	mapping := auth.RoleMapping{
		"Administrator": {auth.RoleAdmin},
		"workos-admin":  {auth.RoleAdmin},
		"staff":         {auth.RoleMember, auth.RoleViewer},
		"_default":      {auth.RoleViewer},
	}
	tests := []struct {
		name     string
		opts     rbac.Options
		assigned []string
		user     auth.User
		want     []string
	}{
		{"nothing, no default", rbac.Options{}, nil, auth.User{ID: "u"}, []string{}},
		{"nothing, default role", rbac.Options{DefaultRoles: []string{auth.RoleViewer}}, nil, auth.User{ID: "u"}, []string{auth.RoleViewer}},
		{"provider roles pass through", rbac.Options{}, nil, auth.User{ID: "u", Roles: []string{"admin"}}, []string{auth.RoleAdmin}},
		{"unknown provider roles dropped", rbac.Options{DefaultRoles: []string{auth.RoleViewer}}, nil, auth.User{ID: "u", Roles: []string{"superuser"}}, []string{auth.RoleViewer}},
		{"mapped", rbac.Options{Mapping: mapping}, nil, auth.User{ID: "u", Roles: []string{"workos-admin"}}, []string{auth.RoleAdmin}},
		{"mapped to several", rbac.Options{Mapping: mapping}, nil, auth.User{ID: "u", Roles: []string{"staff"}}, []string{auth.RoleMember, auth.RoleViewer}},
		{"unmapped gets _default", rbac.Options{Mapping: mapping}, nil, auth.User{ID: "u", Roles: []string{"contractor"}}, []string{auth.RoleViewer}},
		{"no roles gets _default", rbac.Options{Mapping: mapping}, nil, auth.User{ID: "u"}, []string{auth.RoleViewer}},
		{"assignment wins", rbac.Options{Mapping: mapping, DefaultRoles: []string{auth.RoleViewer}}, []string{auth.RoleOwner}, auth.User{ID: "u", Roles: []string{"staff"}}, []string{auth.RoleOwner}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			m := newManager(t, memory.New(memory.Options{}), tc.opts)
			if tc.assigned != nil {
				if err := m.SetUserRoles(ctx, tc.user.ID, tc.assigned); err != nil {
					t.Fatal(err)
				}
			}
			got, err := m.Roles(ctx, tc.user)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Roles = %v, want %v", got, tc.want)
			}
			perms, err := m.Permissions(ctx, tc.user)
			if err != nil {
				t.Fatal(err)
			}
			if want := auth.ResolvePermissions(tc.want, auth.DefaultRoles()); !slices.Equal(perms, want) {
				t.Fatalf("Permissions = %v, want %v", perms, want)
			}
		})
	}
}

func TestOptionErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts rbac.Options
		want string
	}{
		{"empty id", rbac.Options{Roles: []auth.RoleDefinition{{Name: "x"}}}, "roles[0]: empty id"},
		{"duplicate", rbac.Options{Roles: []auth.RoleDefinition{{ID: "a"}, {ID: "a"}}}, `roles[1]: duplicate id "a"`},
		{"bad inherit", rbac.Options{Roles: []auth.RoleDefinition{{ID: "a", Inherits: []string{"b"}}}}, `role "a" inherits unknown role "b"`},
		{"bad mapping", rbac.Options{Mapping: auth.RoleMapping{"x": {"nope"}}}, `mapping "x": unknown role "nope"`},
		{"bad default", rbac.Options{DefaultRoles: []string{"nope"}}, `default roles: unknown role "nope"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := rbac.New(memory.New(memory.Options{}), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want error containing %q", err, tc.want)
			}
		})
	}
}

func TestUnknownRoleCode(t *testing.T) {
	t.Parallel()
	m := newManager(t, memory.New(memory.Options{}), rbac.Options{})
	err := m.SetUserRoles(t.Context(), "u", []string{"root"})
	if auth.CodeOf(err) != auth.CodeInvalidRequest {
		t.Fatalf("SetUserRoles(unknown) = %v, want code invalid_request", err)
	}
}
