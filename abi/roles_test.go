package abi

import (
	"reflect"
	"testing"
)

func TestMapRoles(t *testing.T) {
	t.Parallel()
	m := map[string][]string{"org-admin": {"admin"}, "org-member": {"member"}, DefaultRoleKey: {"viewer"}}
	cases := []struct {
		mapping map[string][]string
		in      []string
		want    []string
	}{
		{m, []string{"org-admin"}, []string{"admin"}},
		{m, []string{"org-admin", "org-member"}, []string{"admin", "member"}},
		{m, []string{"unknown"}, []string{"viewer"}},
		{m, []string{"org-admin", "unknown"}, []string{"admin", "viewer"}},
		{m, nil, []string{"viewer"}},
		{m, []string{DefaultRoleKey}, []string{"viewer"}}, // "_default" is not a role name
		{map[string][]string{"x": {"admin"}}, []string{"y"}, []string{}},
		{nil, []string{"y"}, []string{}},
	}
	for _, c := range cases {
		if got := MapRoles(c.mapping, c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("MapRoles(%v, %v) = %v, want %v", c.mapping, c.in, got, c.want)
		}
	}
}

func TestResolvePermissions(t *testing.T) {
	t.Parallel()
	defs := []RoleDefinition{
		{ID: "base", Permissions: []string{"a:read"}},
		{ID: "top", Permissions: []string{"b:read"}, Inherits: []string{"base", "ghost"}},
		{ID: "x", Permissions: []string{"x:read"}, Inherits: []string{"y"}},
		{ID: "y", Permissions: []string{"y:read"}, Inherits: []string{"x"}},
	}
	cases := []struct {
		roles []string
		want  []string
	}{
		{[]string{"top"}, []string{"a:read", "b:read"}},
		{[]string{"x"}, []string{"x:read", "y:read"}},
		{[]string{"nope"}, []string{}},
	}
	for _, c := range cases {
		if got := ResolvePermissions(c.roles, defs); !reflect.DeepEqual(got, c.want) {
			t.Errorf("ResolvePermissions(%v) = %v, want %v", c.roles, got, c.want)
		}
	}
}
