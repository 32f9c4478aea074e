package workos

import (
	"net/http"
	"testing"
)

// TestRoleFromMembership checks roles and permissions in /me from the
// user's WorkOS organization membership, mapped through role_mapping: with
// roles_from "token" the role comes from the access token (so a changed
// membership shows after the next refresh), with "memberships" from a
// live ListOrganizationMemberships (so it shows at once when the host
// caches no role answers, role_cache_seconds 0); a deactivated
// membership takes the role away, and a user without a membership in the
// configured organization gets the _default permissions.
func TestRoleFromMembership(t *testing.T) {
	t.Parallel()
	for _, from := range []string{"token", "memberships"} {
		t.Run(from, func(t *testing.T) {
			t.Parallel()
			o := options{plugin: map[string]any{"roles_from": from}}
			if from == "memberships" {
				o.host = map[string]any{"role_cache_seconds": 0}
			}
			env := start(t, o)
			// With roles from the token the session must be in the
			// configured organization; memberships work from any.
			u := newUser("rob", orgID, "member", otherOrgID, "admin")
			if from == "memberships" {
				u = newUser("rob", otherOrgID, "admin", orgID, "member")
			}
			c := signedIn(t, env, u.Email) // lands in the first membership's organization
			status, m := getMe(t, c)
			if status != http.StatusOK || len(m.Roles) != 1 || m.Roles[0] != "member" || !sameSet(m.Permissions, roleMapping["member"]) {
				t.Fatalf("/me = %d roles %v permissions %v, want the member role of %s", status, m.Roles, m.Permissions, orgID)
			}

			emu.SetMembershipRole(u.ID, orgID, "owner")
			_, m = getMe(t, c)
			want := "owner"
			if from == "token" {
				want = "member" // until the access token is refreshed
			}
			if len(m.Roles) != 1 || m.Roles[0] != want {
				t.Fatalf("/me roles right after the membership changed = %v, want [%s]", m.Roles, want)
			}
			expireAccessToken(t, env, c.Cookie("wos_session"))
			_, m = getMe(t, c)
			if len(m.Roles) != 1 || m.Roles[0] != "owner" || !sameSet(m.Permissions, []string{"*"}) {
				t.Fatalf("/me after refresh = roles %v permissions %v, want owner [*]", m.Roles, m.Permissions)
			}

			// A deactivated membership takes the role away.
			emu.DeactivateMembership(u.ID, orgID)
			expireAccessToken(t, env, c.Cookie("wos_session"))
			_, m = getMe(t, c)
			if len(m.Roles) != 0 || !sameSet(m.Permissions, roleMapping["_default"]) {
				t.Fatalf("/me after the membership was deactivated = roles %v permissions %v, want none and _default", m.Roles, m.Permissions)
			}

			outsider := newUser("out", otherOrgID, "admin")
			c = signedIn(t, env, outsider.Email)
			status, m = getMe(t, c)
			if status != http.StatusOK || len(m.Roles) != 0 || !sameSet(m.Permissions, roleMapping["_default"]) {
				t.Fatalf("/me of a non-member = %d roles %v permissions %v, want no role and _default", status, m.Roles, m.Permissions)
			}
		})
	}
}

// TestRoleMappedByHost runs the host's built-in RBAC: the WorkOS role in
// the session snapshot is mapped by the host's rbac.role_mapping onto its
// own roles and permissions.
func TestRoleMappedByHost(t *testing.T) {
	t.Parallel()
	env := start(t, options{rbac: "builtin", hostRBAC: map[string]any{
		"role_mapping": map[string][]string{"admin": {"admin"}, "member": {"viewer"}},
	}})
	u := newUser("hal", orgID, "member")
	status, m := getMe(t, signedIn(t, env, u.Email))
	if status != http.StatusOK || len(m.Roles) != 1 || m.Roles[0] != "viewer" || !sameSet(m.Permissions, []string{"studio:read", "agents:read", "workflows:read", "logs:read"}) {
		t.Fatalf("/me = %d roles %v permissions %v, want the host's viewer", status, m.Roles, m.Permissions)
	}
}

// TestRoleCache checks the host's cache of plugin RBAC answers (default
// role_cache_seconds) with live memberships: a membership changed only at
// WorkOS does not show while the answer is cached, and shows once the
// user's cached answers are dropped, as a role change or user delete
// through authhost drops them.
func TestRoleCache(t *testing.T) {
	t.Parallel()
	env := start(t, options{plugin: map[string]any{"roles_from": "memberships"}})
	u := newUser("rca", orgID, "member")
	c := signedIn(t, env, u.Email)
	if _, m := getMe(t, c); len(m.Roles) != 1 || m.Roles[0] != "member" {
		t.Fatalf("/me roles = %v, want [member]", m.Roles)
	}
	emu.SetMembershipRole(u.ID, orgID, "owner")
	if _, m := getMe(t, c); len(m.Roles) != 1 || m.Roles[0] != "member" {
		t.Fatalf("/me roles while cached = %v, want the cached [member]", m.Roles)
	}
	rc, ok := env.App.Plugins.Plugin("workos").RBAC().(interface{ InvalidateUser(string) })
	if !ok {
		t.Fatalf("the workos RBAC provider %T has no host role cache", env.App.Plugins.Plugin("workos").RBAC())
	}
	rc.InvalidateUser(u.ID)
	if _, m := getMe(t, c); len(m.Roles) != 1 || m.Roles[0] != "owner" || !sameSet(m.Permissions, []string{"*"}) {
		t.Fatalf("/me after the user's answers were dropped = roles %v permissions %v, want owner [*]", m.Roles, m.Permissions)
	}
}
