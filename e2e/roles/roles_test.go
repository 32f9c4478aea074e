// Package roles_test runs authhost end to end (internal/testenv/authhostenv,
// the wiring `authhost serve` uses) with the quick start's providers
// (static-users for users and credentials, the built-in sessions and RBAC)
// and checks the role assignment API of issue 12, item 7: a stored
// assignment is the truth, [] means no roles, DELETE returns a user to
// the default, changes reach existing sessions at once, and unknown users
// are refused.
package roles_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/authhost/authhost/internal/testenv/authhostenv"
)

// config is the quick start's: the demo owner, sign-up with the viewer
// role.
const config = `
capabilities:
  user: static-users
  credentials: static-users
  session: builtin
  rbac: builtin
  audit: [builtin]
plugins:
  static-users:
    limits: { timeout_ms: 30000 }
    config:
      allow_sign_up: true
      default_role: viewer
      min_password_length: 8
      users:
        - email: admin@example.com
          name: Demo Admin
          password_hash: "$argon2id$v=19$m=12288,t=3,p=1$qIyBpMEp+rfFhi4ro6lb/g$jq+SmBkE0qKveOCCakFlxE05ORD5ZI3rwmV0PWUFzs0"
          roles: [owner]
`

// me is the part of GET /api/auth/me these tests read.
type me struct {
	ID          string   `json:"id"`
	Roles       []string `json:"roles"`
	Permissions []string `json:"permissions"`
}

func getMe(t *testing.T, c *authhostenv.Client) me {
	t.Helper()
	r := c.Do(t, "GET", "/api/auth/me", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("/me = %d %s", r.Status, r.Body)
	}
	var m me
	r.Decode(t, &m)
	return m
}

// assignment is the body of the role assignment routes.
type assignment struct {
	UserID   string   `json:"userId"`
	Roles    []string `json:"roles"`
	Assigned bool     `json:"assigned"`
}

func rolesPath(userID string) string { return "/api/admin/users/" + url.PathEscape(userID) + "/roles" }

func TestRoleAssignment(t *testing.T) {
	t.Parallel()
	env := authhostenv.Start(t, authhostenv.Options{Plugins: []string{"examples/static-users"}, Config: config})
	owner := env.Client()
	if r := owner.Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": "admin@example.com", "password": "authhost-demo"}); r.Status != http.StatusOK {
		t.Fatalf("owner sign-in = %d %s", r.Status, r.Body)
	}
	ownerID := getMe(t, owner).ID
	// Two sessions of one viewer, signed in before any change.
	viewer := env.Client()
	if r := viewer.Do(t, "POST", "/api/auth/credentials/sign-up", map[string]string{"email": "vera@example.com", "password": "long-enough-1", "name": "Vera"}); r.Status != http.StatusCreated {
		t.Fatalf("sign-up = %d %s", r.Status, r.Body)
	}
	viewer2 := env.Client()
	if r := viewer2.Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": "vera@example.com", "password": "long-enough-1"}); r.Status != http.StatusOK {
		t.Fatalf("second sign-in = %d %s", r.Status, r.Body)
	}
	vera := getMe(t, viewer)
	if !slices.Equal(vera.Roles, []string{"viewer"}) {
		t.Fatalf("new user's roles = %v, want [viewer]", vera.Roles)
	}
	assignmentOf := func(userID string) assignment {
		t.Helper()
		r := owner.Do(t, "GET", rolesPath(userID), nil)
		if r.Status != http.StatusOK {
			t.Fatalf("GET roles of %q = %d %s", userID, r.Status, r.Body)
		}
		var a assignment
		r.Decode(t, &a)
		return a
	}
	if a := assignmentOf(vera.ID); a.Assigned || len(a.Roles) != 0 {
		t.Fatalf("assignment before any PUT = %+v, want none", a)
	}

	// [] is an assignment of no roles, seen at once by both sessions.
	r := owner.Do(t, "PUT", rolesPath(vera.ID), map[string][]string{"roles": {}})
	var put assignment
	r.Decode(t, &put)
	if r.Status != http.StatusOK || !put.Assigned || put.Roles == nil || len(put.Roles) != 0 {
		t.Fatalf("PUT [] = %d %s, want 200 with roles [] assigned", r.Status, r.Body)
	}
	for name, c := range map[string]*authhostenv.Client{"first": viewer, "second": viewer2} {
		if m := getMe(t, c); len(m.Roles) != 0 || len(m.Permissions) != 0 {
			t.Errorf("%s session after PUT []: roles %v permissions %v, want none", name, m.Roles, m.Permissions)
		}
	}
	if a := assignmentOf(vera.ID); !a.Assigned || len(a.Roles) != 0 {
		t.Fatalf("GET after PUT [] = %+v, want an empty assignment", a)
	}

	// An assignment replaces the default, also at once.
	if r := owner.Do(t, "PUT", rolesPath(vera.ID), map[string][]string{"roles": {"member", "member"}}); r.Status != http.StatusOK {
		t.Fatalf("PUT member = %d %s", r.Status, r.Body)
	}
	if m := getMe(t, viewer2); !slices.Equal(m.Roles, []string{"member"}) {
		t.Fatalf("roles after PUT member = %v, want [member]", m.Roles)
	}

	// DELETE returns the user to the provider's default role.
	r = owner.Do(t, "DELETE", rolesPath(vera.ID), nil)
	var del assignment
	r.Decode(t, &del)
	if r.Status != http.StatusOK || del.Assigned {
		t.Fatalf("DELETE = %d %s, want 200 and no assignment", r.Status, r.Body)
	}
	if m := getMe(t, viewer); !slices.Equal(m.Roles, []string{"viewer"}) {
		t.Fatalf("roles after DELETE = %v, want [viewer] again", m.Roles)
	}
	if a := assignmentOf(vera.ID); a.Assigned {
		t.Fatalf("GET after DELETE = %+v, want no assignment", a)
	}
	// DELETE of a user without an assignment (or unknown) is no error.
	if r := owner.Do(t, "DELETE", rolesPath("usr_never_existed"), nil); r.Status != http.StatusOK {
		t.Fatalf("DELETE without an assignment = %d %s", r.Status, r.Body)
	}

	// The case: the owner set to [] loses "*" at once, on this
	// session too, and can no longer assign roles.
	if r := owner.Do(t, "PUT", rolesPath(ownerID), map[string][]string{"roles": {}}); r.Status != http.StatusOK {
		t.Fatalf("owner PUT [] on itself = %d %s", r.Status, r.Body)
	}
	if m := getMe(t, owner); len(m.Roles) != 0 || len(m.Permissions) != 0 {
		t.Fatalf("owner after PUT []: roles %v permissions %v, want none", m.Roles, m.Permissions)
	}
	if r := owner.Do(t, "PUT", rolesPath(vera.ID), map[string][]string{"roles": {"owner"}}); r.Status != http.StatusForbidden {
		t.Fatalf("role-less owner assigning roles = %d, want 403", r.Status)
	}
}

// TestRoleAssignmentUnknownUser checks PUT asks the user provider: ids it
// does not know, in every encoding an attacker might try, answer 404 and
// store nothing.
func TestRoleAssignmentUnknownUser(t *testing.T) {
	t.Parallel()
	env := authhostenv.Start(t, authhostenv.Options{Plugins: []string{"examples/static-users"}, Config: config})
	owner := env.Client()
	if r := owner.Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": "admin@example.com", "password": "authhost-demo"}); r.Status != http.StatusOK {
		t.Fatalf("owner sign-in = %d %s", r.Status, r.Body)
	}
	ownerID := getMe(t, owner).ID
	for _, id := range []string{
		"usr_doesnotexist",
		"null",
		"admin@example.com",    // an email is not an id
		ownerID + "\u200b",     // zero-width space after a real id
		ownerID + "\x00",       // NUL after a real id
		ownerID + " ",          // trailing space
		"\u0430" + ownerID[1:], // Cyrillic look-alike first letter
		"USR" + ownerID[3:],    // case changed
		"../" + ownerID,        // path tricks
		"127.0.0.1",            // an IP literal
		"ｕｓｒ_" + ownerID[4:],   // fullwidth letters
	} {
		r := owner.Do(t, "PUT", rolesPath(id), map[string][]string{"roles": {"owner"}})
		if r.Status != http.StatusNotFound {
			t.Errorf("PUT roles of %q = %d %s, want 404", id, r.Status, r.Body)
			continue
		}
		g := owner.Do(t, "GET", rolesPath(id), nil)
		var a assignment
		g.Decode(t, &a)
		if a.Assigned {
			t.Errorf("PUT of unknown %q stored an assignment: %+v", id, a)
		}
	}
	// The real id still works.
	if r := owner.Do(t, "PUT", rolesPath(ownerID), map[string][]string{"roles": {"owner"}}); r.Status != http.StatusOK {
		t.Fatalf("PUT roles of the owner = %d %s", r.Status, r.Body)
	}
}
