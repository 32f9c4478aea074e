package auth

import (
	"sort"
	"strings"
)

// Matches reports whether the granted permission covers the required one.
// Permissions have the form resource:action[:id]. The rules, applied to the
// granted side:
//
//   - every permission
//     *:*          every resource and action (*:*:id: that id only)
//     *:action     that action on any resource
//     res:*        any action on res (with or without an id)
//     res:*:id     any action on that id of res
//     res:action   res:action and res:action:<any id>
//     res:action:id only that id
//
// Strings with fewer than two parts compare exactly. An empty required
// permission never matches, so a missing permission can never be satisfied
// by accident.
func Matches(granted, required string) bool {
	if required == "" || granted == "" {
		return false
	}
	if granted == "*" {
		return true
	}
	g := strings.SplitN(granted, ":", 3)
	r := strings.SplitN(required, ":", 3)
	if len(g) < 2 || len(r) < 2 {
		return granted == required
	}
	if g[0] != "*" && g[0] != r[0] {
		return false
	}
	if g[1] != "*" && g[1] != r[1] {
		return false
	}
	if len(g) == 3 {
		return len(r) == 3 && (g[2] == "*" || g[2] == r[2])
	}
	return true
}

// HasPermission reports whether any granted permission matches required.
func HasPermission(granted []string, required string) bool {
	for _, g := range granted {
		if Matches(g, required) {
			return true
		}
	}
	return false
}

// HasAnyPermission reports whether at least one of required is granted.
// An empty required list is never satisfied.
func HasAnyPermission(granted, required []string) bool {
	for _, r := range required {
		if HasPermission(granted, r) {
			return true
		}
	}
	return false
}

// HasAllPermissions reports whether every one of required is granted. An
// empty required list is satisfied.
func HasAllPermissions(granted, required []string) bool {
	for _, r := range required {
		if !HasPermission(granted, r) {
			return false
		}
	}
	return true
}

// ResolvePermissions returns the sorted union of the permissions of the
// given roles and of every role they inherit, transitively. Unknown roles
// are ignored and inheritance cycles are safe.
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
	return sortedKeys(perms)
}

// DefaultMappingKey is the RoleMapping key whose value applies to roles that
// have no entry of their own, and to users with no roles at all.
const DefaultMappingKey = "_default"

// RoleMapping maps external role names (from an identity provider) to
// authhost role ids.
type RoleMapping map[string][]string

// Map translates external roles into role ids. A role with no mapping
// entry contributes the _default entry; a user with no roles gets the
// _default entry. With a nil mapping, roles pass through unchanged.
func (m RoleMapping) Map(external []string) []string {
	if m == nil {
		return uniqueSorted(external)
	}
	out := map[string]bool{}
	add := func(ids []string) {
		for _, id := range ids {
			out[id] = true
		}
	}
	if len(external) == 0 {
		add(m[DefaultMappingKey])
	}
	for _, r := range external {
		if ids, ok := m[r]; ok {
			add(ids)
		} else {
			add(m[DefaultMappingKey])
		}
	}
	return sortedKeys(out)
}

func uniqueSorted(in []string) []string {
	set := make(map[string]bool, len(in))
	for _, s := range in {
		set[s] = true
	}
	return sortedKeys(set)
}

func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
