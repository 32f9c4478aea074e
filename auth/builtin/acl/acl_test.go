package acl_test

import (
	"github.com/authhost/authhost/internal/testenv/stores"
	"slices"
	"testing"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/auth/authtest"
	"github.com/authhost/authhost/auth/builtin/acl"
	"github.com/authhost/authhost/auth/builtin/rbac"
	"github.com/authhost/authhost/store/memory"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	for name, open := range stores.Backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			authtest.TestACLManager(t, func(t *testing.T) auth.ACLManager { return acl.New(open(t), acl.Options{}) })
		})
	}
}

// TestRolesFromRBAC matches role subjects through the RBAC manager's
// assignments rather than the roles on auth.User.
func TestRolesFromRBAC(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := memory.New(memory.Options{})
	r, err := rbac.New(st, rbac.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := acl.New(st, acl.Options{Roles: r})
	res := auth.Resource{Type: "agent", ID: "a1"}
	if _, err := m.Grant(ctx, "role:admin", res, []string{"write"}, "owner"); err != nil {
		t.Fatal(err)
	}
	u := auth.User{ID: "u1", Roles: []string{"admin"}} // provider role, passes through
	if ok, _ := m.CanAccess(ctx, u, res, "write"); !ok {
		t.Fatal("provider role admin not matched")
	}
	if err := r.SetUserRoles(ctx, "u1", []string{auth.RoleViewer}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := m.CanAccess(ctx, u, res, "write"); ok {
		t.Fatal("assignment to viewer did not override the provider role")
	}
}

type agent struct{ id, name string }

func TestFilterAccessible(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	m := acl.New(memory.New(memory.Options{}), acl.Options{})
	for _, id := range []string{"a3", "a1"} {
		if _, err := m.Grant(ctx, "alice", auth.Resource{Type: "agent", ID: id}, []string{"read"}, "x"); err != nil {
			t.Fatal(err)
		}
	}
	items := []agent{{"a1", "one"}, {"a2", "two"}, {"a3", "three"}, {"a4", "four"}}
	tests := []struct {
		user   auth.User
		action string
		want   []string
	}{
		{auth.User{ID: "alice"}, "read", []string{"a1", "a3"}},
		{auth.User{ID: "alice"}, "write", nil},
		{auth.User{ID: "bob"}, "read", nil},
	}
	for _, tc := range tests {
		got, err := acl.FilterAccessible(ctx, m, tc.user, items, func(a agent) string { return a.id }, "agent", tc.action)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, a := range got {
			ids = append(ids, a.id)
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("FilterAccessible(%s, %s) = %v, want %v", tc.user.ID, tc.action, ids, tc.want)
		}
	}
}
