package auth

import (
	"github.com/authhost/authhost/abi"
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
// are ignored and inheritance cycles are safe (the rule is abi's, shared
// with providers).
func ResolvePermissions(roleIDs []string, defs []RoleDefinition) []string {
	wire := make([]abi.RoleDefinition, len(defs))
	for i, d := range defs {
		wire[i] = abi.RoleDefinition(d)
	}
	return abi.ResolvePermissions(roleIDs, wire)
}

// DefaultMappingKey is the RoleMapping key whose value applies to roles that
// have no entry of their own, and to users with no roles at all.
const DefaultMappingKey = abi.DefaultRoleKey

// RoleMapping maps external role names (from an identity provider) to
// authhost role ids.
type RoleMapping map[string][]string

// Map translates external roles into role ids with abi.MapRoles (a role
// with no entry contributes _default; a user with no roles gets _default).
// With a nil mapping, roles pass through unchanged.
func (m RoleMapping) Map(external []string) []string {
	if m == nil {
		set := make(map[string]bool, len(external))
		for _, s := range external {
			set[s] = true
		}
		return sortedKeys(set)
	}
	return abi.MapRoles(m, external)
}

func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
