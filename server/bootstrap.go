package server

import (
	"net/http"

	"github.com/authhost/authhost/auth"
	authid "github.com/authhost/authhost/auth/identity"
)

// bootstrapOwners is the set of normalised emails that are granted the
// owner role at sign-in while they have no stored role assignment.
type bootstrapOwners map[string]bool

// newBootstrapOwners normalises emails the way sign-in does
// (authid.Email); an address that does not normalise matches nobody.
func newBootstrapOwners(emails []string) bootstrapOwners {
	set := bootstrapOwners{}
	for _, e := range emails {
		if n, err := authid.Email(e); err == nil {
			set[n] = true
		}
	}
	return set
}

// bootstrapOwner grants u the owner role when its email is a bootstrap
// owner, the provider says the email is verified, and it has no stored
// role assignment: the way to make the first
// owner of a deployment whose users live in an identity provider. A user
// whose assignment an owner changed (even to no roles) keeps it; one whose
// assignment was removed (DELETE) is granted owner again while the email
// stays listed. Failures are logged and do not fail the sign-in.
func (s *Server) bootstrapOwner(r *http.Request, u auth.User) {
	if len(s.owners) == 0 {
		return
	}
	email, err := authid.Email(u.Email)
	if err != nil || !s.owners[email] {
		return
	}
	if !emailVerified(u) {
		// Anyone can sign up with an unclaimed address (static-users,
		// Better Auth without verification, an IdP that does not verify):
		// that must not make them owner.
		s.log.Warn("bootstrap_owners: not granted, the provider does not say the email is verified", "user", u.ID)
		return
	}
	m, ok := s.composed(r.Context()).RBAC.(auth.RBACManager)
	if !ok {
		s.log.Warn("bootstrap_owners: the RBAC provider cannot assign roles", "user", u.ID)
		return
	}
	ctx := r.Context()
	if _, assigned, err := m.UserRoles(ctx, u.ID); err != nil || assigned {
		if err != nil {
			s.log.Warn("bootstrap_owners: reading the role assignment failed", "user", u.ID, "error", err)
		}
		return
	}
	if err := m.SetUserRoles(ctx, u.ID, []string{auth.RoleOwner}); err != nil {
		s.log.Warn("bootstrap_owners: granting owner failed", "user", u.ID, "error", err)
		return
	}
	s.log.Info("bootstrap_owners: granted owner at first sign-in", "user", u.ID, "email", email)
	s.emit(r, auth.AuditEvent{Actor: actorOf(r, &u), Action: "admin.roles.update", Outcome: auth.OutcomeSuccess,
		Resource: &auth.AuditResource{Type: "user", ID: u.ID}, Metadata: map[string]any{"roles": auth.RoleOwner, "bootstrap": true}})
}

// emailVerified reports whether the provider vouches for u's email:
// metadata emailVerified (Better Auth) or email_verified (OIDC, WorkOS, a
// static-users config entry) set to true. Sign-ups that no one verified
// carry neither.
func emailVerified(u auth.User) bool {
	for _, k := range []string{"emailVerified", "email_verified"} {
		if v, ok := u.Metadata[k].(bool); ok && v {
			return true
		}
	}
	return false
}
