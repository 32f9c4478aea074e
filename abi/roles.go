package abi

import "sort"

// DefaultRoleKey is the role-mapping key whose value applies to roles that
// have no entry of their own, and to users with no roles at all.
const DefaultRoleKey = "_default"

// ResolvePermissions returns the sorted union of the permissions of the
// given roles and of every role they inherit, transitively. Unknown roles
// are ignored and inheritance cycles are safe. Host and providers share
// this one definition of role inheritance.
func ResolvePermissions(roleIDs []string, defs []RoleDefinition) []string {
	byID := make(map[string]RoleDefinition, len(defs))
	for _, d := range defs {
		byID[d.ID] = d
	}
	visited := map[string]bool{}
	perms := map[string]bool{}
	var visit func(id string)
	visit = func(id string) {
		if visited[id] {
			return
		}
		visited[id] = true
		d, ok := byID[id]
		if !ok {
			return
		}
		for _, p := range d.Permissions {
			perms[p] = true
		}
		for _, parent := range d.Inherits {
			visit(parent)
		}
	}
	for _, id := range roleIDs {
		visit(id)
	}
	return sortedSet(perms)
}

// MapRoles translates external role names through mapping (name → values,
// which may be role ids or permissions) and returns the sorted union. A
// role with no entry contributes the _default entry, and so does a user
// with no roles; without a _default entry unmapped roles give nothing, so
// an unknown role never grants access.
func MapRoles(mapping map[string][]string, roles []string) []string {
	out := map[string]bool{}
	add := func(vals []string) {
		for _, v := range vals {
			out[v] = true
		}
	}
	if len(roles) == 0 {
		add(mapping[DefaultRoleKey])
	}
	for _, r := range roles {
		if vals, ok := mapping[r]; ok && r != DefaultRoleKey {
			add(vals)
		} else {
			add(mapping[DefaultRoleKey])
		}
	}
	return sortedSet(out)
}

func sortedSet(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
