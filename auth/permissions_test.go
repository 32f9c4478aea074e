package auth

import (
	"reflect"
	"testing"
)

func TestMatches(t *testing.T) {
	t.Parallel()
	cases := []struct {
		granted, required string
		want              bool
	}{
		// '*' grants everything.
		{"*", "agents:read", true},
		{"*", "agents:read:123", true},
		{"*", "anything", true},
		// exact
		{"agents:read", "agents:read", true},
		{"agents:read", "agents:write", false},
		// res:* — one namespace only (Gen A/B rule).
		{"agents:*", "agents:read", true},
		{"agents:*", "agents:delete:42", true},
		{"agents:*", "workflows:read", false},
		{"agents:*", "agentsx:read", false},
		// *:action — any resource with that action.
		{"*:read", "agents:read", true},
		{"*:read", "workflows:read:7", true},
		{"*:read", "agents:write", false},
		// *:* — everything with two parts.
		{"*:*", "agents:read", true},
		{"*:*", "agents:read:1", true},
		{"*:*:1", "agents:read:1", true},
		{"*:*:1", "agents:read:2", false},
		{"*:*:1", "agents:read", false},
		// res:action covers any id.
		{"agents:read", "agents:read:123", true},
		// res:action:id only that id.
		{"agents:read:123", "agents:read:123", true},
		{"agents:read:123", "agents:read:456", false},
		{"agents:read:123", "agents:read", false},
		// res:*:id any action on that id.
		{"agents:*:123", "agents:delete:123", true},
		{"agents:*:123", "agents:delete:124", false},
		{"agents:*:123", "agents:delete", false},
		{"agents:*:123", "workflows:read:123", false},
		// ids may contain colons.
		{"files:read:a:b", "files:read:a:b", true},
		{"files:read:a", "files:read:a:b", false},
		// fewer than two parts: exact.
		{"admin", "admin", true},
		{"admin", "admin:read", false},
		{"agents:read", "agents", false},
		// empty never matches.
		{"", "agents:read", false},
		{"*", "", false},
		{"agents:read", "", false},
	}
	for _, c := range cases {
		if got := Matches(c.granted, c.required); got != c.want {
			t.Errorf("Matches(%q, %q) = %v, want %v", c.granted, c.required, got, c.want)
		}
	}
}

func TestHasPermissionAnyAll(t *testing.T) {
	t.Parallel()
	granted := []string{"agents:*", "workflows:read"}
	if !HasPermission(granted, "agents:execute") || HasPermission(granted, "workflows:write") {
		t.Fatal("HasPermission wrong")
	}
	if !HasAnyPermission(granted, []string{"tools:read", "workflows:read"}) || HasAnyPermission(granted, nil) {
		t.Fatal("HasAnyPermission wrong")
	}
	if !HasAllPermissions(granted, []string{"agents:read", "workflows:read"}) || HasAllPermissions(granted, []string{"agents:read", "tools:read"}) {
		t.Fatal("HasAllPermissions wrong")
	}
	if !HasAllPermissions(granted, nil) {
		t.Fatal("empty requirement list must be satisfied by HasAll")
	}
	if HasPermission(nil, "agents:read") {
		t.Fatal("no permissions must grant nothing")
	}
}

func TestResolvePermissions(t *testing.T) {
	t.Parallel()
	defs := []RoleDefinition{
		{ID: "base", Permissions: []string{"a:read"}},
		{ID: "mid", Permissions: []string{"b:read"}, Inherits: []string{"base"}},
		{ID: "top", Permissions: []string{"c:read"}, Inherits: []string{"mid", "ghost"}},
		{ID: "x", Permissions: []string{"x:read"}, Inherits: []string{"y"}},
		{ID: "y", Permissions: []string{"y:read"}, Inherits: []string{"x"}},
		{ID: "self", Permissions: []string{"s:read"}, Inherits: []string{"self"}},
	}
	cases := []struct {
		name  string
		roles []string
		want  []string
	}{
		{"single", []string{"base"}, []string{"a:read"}},
		{"transitive", []string{"top"}, []string{"a:read", "b:read", "c:read"}},
		{"cycle", []string{"x"}, []string{"x:read", "y:read"}},
		{"self cycle", []string{"self"}, []string{"s:read"}},
		{"unknown ignored", []string{"nope", "base"}, []string{"a:read"}},
		{"union dedup", []string{"mid", "base"}, []string{"a:read", "b:read"}},
		{"none", nil, []string{}},
	}
	for _, c := range cases {
		got := ResolvePermissions(c.roles, defs)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: ResolvePermissions(%v) = %v, want %v", c.name, c.roles, got, c.want)
		}
	}
}

func TestDefaultRoles(t *testing.T) {
	t.Parallel()
	defs := DefaultRoles()
	perms := func(role string) []string { return ResolvePermissions([]string{role}, defs) }
	cases := []struct {
		role, perm string
		want       bool
	}{
		{RoleOwner, "anything:at:all", true},
		{RoleAdmin, "agents:write", true},
		{RoleAdmin, "workflows:delete", true},
		{RoleAdmin, "studio:admin", true},
		{RoleAdmin, PermAuditRead, true},
		{RoleAdmin, PermAuditExport, true},
		{RoleAdmin, PermUsersWrite, false}, // only owner changes role assignments
		{RoleMember, "agents:execute", true},
		{RoleMember, "agents:write", false},
		{RoleMember, PermAuditRead, false},
		{RoleViewer, "agents:read", true},
		{RoleViewer, "agents:write", false},
		{RoleViewer, PermAuditRead, false},
	}
	for _, c := range cases {
		if got := HasPermission(perms(c.role), c.perm); got != c.want {
			t.Errorf("role %s has %s = %v, want %v", c.role, c.perm, got, c.want)
		}
	}
	defs[0].Permissions[0] = "mutated"
	if DefaultRoles()[0].Permissions[0] != "*" {
		t.Fatal("DefaultRoles must return a fresh copy")
	}
}

func TestRoleMapping(t *testing.T) {
	t.Parallel()
	m := RoleMapping{"org-admin": {"admin"}, "org-member": {"member"}, DefaultMappingKey: {"viewer"}}
	cases := []struct {
		in   []string
		want []string
	}{
		{[]string{"org-admin"}, []string{"admin"}},
		{[]string{"org-admin", "org-member"}, []string{"admin", "member"}},
		{[]string{"unknown"}, []string{"viewer"}},
		{nil, []string{"viewer"}},
	}
	for _, c := range cases {
		if got := m.Map(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Map(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if got := RoleMapping(nil).Map([]string{"b", "a", "b"}); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("nil mapping = %v", got)
	}
	if got := (RoleMapping{"x": {"admin"}}).Map([]string{"y"}); len(got) != 0 {
		t.Errorf("unmapped role without _default must grant nothing, got %v", got)
	}
}
