package server

import (
	"context"
	"net/http"
	"testing"

	"github.com/authhost/authhost/auth"
)

// lookupFails is the real user provider whose GetUser fails with code, as
// a provider that cannot look users up (not_supported) or is down
// (unavailable) answers.
type lookupFails struct {
	auth.UserProvider
	code auth.Code
}

func (l lookupFails) GetUser(context.Context, string) (*auth.User, error) {
	return nil, &auth.Error{Code: l.code, Message: "user lookup: " + string(l.code)}
}

// TestPutRolesUserLookup checks what PUT /admin/users/{id}/roles does when
// the user provider cannot say whether the user exists: without a user
// provider or with one answering not_supported the assignment is stored
// and audited as unchecked; a failing provider stores nothing (503).
func TestPutRolesUserLookup(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		user   func(auth.UserProvider) auth.UserProvider
		status int
	}{
		{"no user provider", func(auth.UserProvider) auth.UserProvider { return nil }, http.StatusOK},
		{"not supported", func(u auth.UserProvider) auth.UserProvider { return lookupFails{u, auth.CodeNotSupported} }, http.StatusOK},
		{"unavailable", func(u auth.UserProvider) auth.UserProvider { return lookupFails{u, auth.CodeUnavailable} }, http.StatusServiceUnavailable},
		{"internal", func(u auth.UserProvider) auth.UserProvider { return lookupFails{u, auth.CodeInternal} }, http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var roles auth.RBACManager
			h := newHarness(t, func(c *Config) {
				composed := *c.Auth
				composed.User = tc.user(composed.User)
				c.Auth = &composed
				roles = c.Auth.RBAC.(auth.RBACManager)
			})
			owner := h.client(t)
			if r := owner.signIn(demoEmail, demoPassword); r.status != http.StatusOK {
				t.Fatalf("sign-in = %d %s", r.status, r.body)
			}
			r := owner.do("PUT", "/api/admin/users/usr_unchecked/roles", `{"roles":["member"]}`, nil)
			if r.status != tc.status {
				t.Fatalf("PUT = %d %s, want %d", r.status, r.body, tc.status)
			}
			_, assigned, err := roles.UserRoles(context.Background(), "usr_unchecked")
			if err != nil {
				t.Fatal(err)
			}
			if stored := tc.status == http.StatusOK; assigned != stored {
				t.Fatalf("assignment stored = %v, want %v", assigned, stored)
			}
			events := h.events(t, auth.AuditFilter{Action: "admin.roles.update"})
			if tc.status != http.StatusOK {
				if len(events) != 0 {
					t.Fatalf("a refused PUT was audited: %+v", events)
				}
				return
			}
			if len(events) != 1 || events[0].Metadata["userChecked"] != false {
				t.Fatalf("audit = %+v, want one admin.roles.update with userChecked false", events)
			}
		})
	}
}
