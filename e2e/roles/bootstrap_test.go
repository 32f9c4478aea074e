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
func TestBootstrapOwners(t *testing.T) {
	t.Parallel()
	env := authhostenv.Start(t, authhostenv.Options{Plugins: []string{"examples/static-users"},
		Config: config + "bootstrap_owners: [\"  Ｏwner@Example.COM \", \"demoted@example.com\"]\n"})

	// Sign-up is a sign-in: the fullwidth, upper-case, padded config entry
	// matches the address the server normalises.
	owner := env.Client()
	if r := owner.Do(t, "POST", "/api/auth/credentials/sign-up", map[string]string{"email": "owner@example.com", "password": "long-enough-1", "name": "O"}); r.Status != http.StatusCreated {
		t.Fatalf("sign-up = %d %s", r.Status, r.Body)
	}
	if m := getMe(t, owner); !slices.Equal(m.Roles, []string{"owner"}) {
		t.Fatalf("bootstrap owner's roles = %v, want [owner]", m.Roles)
	}

	// Someone else gets the provider's default role.
	other := env.Client()
	if r := other.Do(t, "POST", "/api/auth/credentials/sign-up", map[string]string{"email": "owner+x@example.com", "password": "long-enough-1", "name": "X"}); r.Status != http.StatusCreated {
		t.Fatalf("sign-up = %d %s", r.Status, r.Body)
	}
	if m := getMe(t, other); !slices.Equal(m.Roles, []string{"viewer"}) {
		t.Fatalf("other user's roles = %v, want [viewer]", m.Roles)
	}

	// A listed user whose assignment an owner set before its next sign-in
	// keeps that assignment.
	demoted := env.Client()
	if r := demoted.Do(t, "POST", "/api/auth/credentials/sign-up", map[string]string{"email": "demoted@example.com", "password": "long-enough-1", "name": "D"}); r.Status != http.StatusCreated {
		t.Fatalf("sign-up = %d %s", r.Status, r.Body)
	}
	d := getMe(t, demoted)
	if !slices.Equal(d.Roles, []string{"owner"}) {
		t.Fatalf("second bootstrap owner's roles = %v, want [owner]", d.Roles)
	}
	if r := owner.Do(t, "PUT", rolesPath(d.ID), map[string][]string{"roles": {"member"}}); r.Status != http.StatusOK {
		t.Fatalf("PUT member = %d %s", r.Status, r.Body)
	}
	again := env.Client()
	if r := again.Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": "demoted@example.com", "password": "long-enough-1"}); r.Status != http.StatusOK {
		t.Fatalf("sign-in = %d %s", r.Status, r.Body)
	}
	if m := getMe(t, again); !slices.Equal(m.Roles, []string{"member"}) {
		t.Fatalf("roles after an owner's change and a new sign-in = %v, want [member]", m.Roles)
	}
}
