package roles_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/authhost/authhost/internal/testenv/authhostenv"
)

// TestBootstrapOwners is issue 15 item 5: an email in bootstrap_owners
// (matched after normalisation) is granted owner at its first sign-in,
// only while it has no stored role assignment; other users are not.
// bootstrapConfig lists two accounts whose email the operator vouches for
// (email_verified in their static-users entry) and no roles of their own.
const bootstrapConfig = `
capabilities:
  user: static-users
  credentials: static-users
  session: builtin
  rbac: builtin
  audit: [builtin]
bootstrap_owners: ["  Ｏwner@Example.COM ", "demoted@example.com", "unclaimed@example.com"]
plugins:
  static-users:
    limits: { timeout_ms: 30000 }
    config:
      allow_sign_up: true
      default_role: viewer
      min_password_length: 8
      users:
        - id: u_owner
          email: owner@example.com
          name: Owner
          password_hash: "$argon2id$v=19$m=12288,t=3,p=1$qIyBpMEp+rfFhi4ro6lb/g$jq+SmBkE0qKveOCCakFlxE05ORD5ZI3rwmV0PWUFzs0"
          metadata: { email_verified: true }
        - id: u_demoted
          email: demoted@example.com
          name: Demoted
          password_hash: "$argon2id$v=19$m=12288,t=3,p=1$qIyBpMEp+rfFhi4ro6lb/g$jq+SmBkE0qKveOCCakFlxE05ORD5ZI3rwmV0PWUFzs0"
          metadata: { email_verified: true }
`

func signIn(t *testing.T, c *authhostenv.Client, email string) {
	t.Helper()
	if r := c.Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": email, "password": "authhost-demo"}); r.Status != http.StatusOK {
		t.Fatalf("sign-in %s = %d %s", email, r.Status, r.Body)
	}
}

func TestBootstrapOwners(t *testing.T) {
	t.Parallel()
	env := authhostenv.Start(t, authhostenv.Options{Plugins: []string{"examples/static-users"}, Config: bootstrapConfig})

	// A verified listed email becomes owner at its first sign-in; the
	// fullwidth, upper-case, padded config entry matches the address the
	// server normalises.
	owner := env.Client()
	signIn(t, owner, "owner@example.com")
	if m := getMe(t, owner); !slices.Equal(m.Roles, []string{"owner"}) {
		t.Fatalf("bootstrap owner's roles = %v, want [owner]", m.Roles)
	}

	// The attack: signing up with a listed address nobody has claimed yet.
	// A sign-up is not verified, so it gets the default role.
	attacker := env.Client()
	if r := attacker.Do(t, "POST", "/api/auth/credentials/sign-up", map[string]string{"email": "unclaimed@example.com", "password": "long-enough-1", "name": "A"}); r.Status != http.StatusCreated {
		t.Fatalf("sign-up = %d %s", r.Status, r.Body)
	}
	if m := getMe(t, attacker); !slices.Equal(m.Roles, []string{"viewer"}) {
		t.Fatalf("an unverified sign-up with a listed email got %v, want [viewer]", m.Roles)
	}

	// A listed user whose assignment an owner set before its next sign-in
	// keeps that assignment.
	demoted := env.Client()
	signIn(t, demoted, "demoted@example.com")
	d := getMe(t, demoted)
	if !slices.Equal(d.Roles, []string{"owner"}) {
		t.Fatalf("second bootstrap owner's roles = %v, want [owner]", d.Roles)
	}
	if r := owner.Do(t, "PUT", rolesPath(d.ID), map[string][]string{"roles": {"member"}}); r.Status != http.StatusOK {
		t.Fatalf("PUT member = %d %s", r.Status, r.Body)
	}
	again := env.Client()
	signIn(t, again, "demoted@example.com")
	if m := getMe(t, again); !slices.Equal(m.Roles, []string{"member"}) {
		t.Fatalf("roles after an owner's change and a new sign-in = %v, want [member]", m.Roles)
	}
}
