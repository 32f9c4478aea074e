package auth_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/auth/builtin/session"
)

// idpRoles is a provider's current roles per user, changed behind the
// host's back; fail makes it unavailable.
type idpRoles struct {
	mu    sync.Mutex
	roles map[string][]string
	fail  bool
	calls int
}

func (r *idpRoles) Roles(_ context.Context, u auth.User) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.fail {
		return nil, auth.Errorf(auth.CodeUnavailable, "down")
	}
	return slices.Clone(r.roles[u.ID]), nil
}

// Capabilities whose methods these tests never call.
type (
	someUsers struct{ auth.UserProvider }
	someCreds struct{ auth.CredentialsProvider }
	someSSO   struct{ auth.SSOProvider }
	someRBAC  struct{ auth.RBACProvider }
)

// TestHostSessionRolesFollowTheProvider checks which host sessions get
// their sign-in role snapshot refreshed from the user provider: those of
// sign-ins the user provider itself served, with the built-in sessions and
// RBAC; a failing provider keeps the snapshot.
func TestHostSessionRolesFollowTheProvider(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		sel     auth.Selection
		source  string // the sign-in capability of the session
		refresh bool
	}{
		{"credentials from the user provider", nil, auth.CapCredentials, true},
		{"sso from the user provider", auth.Selection{auth.CapSSO: {"users"}}, auth.CapSSO, true},
		{"sso from another provider", auth.Selection{auth.CapSSO: {"idp"}}, auth.CapSSO, false},
		{"rbac by a plugin", auth.Selection{auth.CapRBAC: {"users"}}, auth.CapCredentials, false},
		{"no user provider", auth.Selection{auth.CapUser: {auth.NoneName}}, auth.CapCredentials, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			idp := &idpRoles{roles: map[string][]string{"u1": {"admin"}}}
			users := auth.Provider{Name: "users", User: someUsers{}, Credentials: someCreds{}, SSO: someSSO{}, RBAC: someRBAC{}, UserRoles: idp}
			other := auth.Provider{Name: "idp", SSO: someSSO{}}
			builtin := auth.Provider{Name: auth.BuiltinName, Session: session.NewMemory(session.Options{}), RBAC: someRBAC{}}
			sel := auth.Selection{auth.CapSSO: {auth.NoneName}, auth.CapRBAC: {auth.BuiltinName}}
			for k, v := range tc.sel {
				sel[k] = v
			}
			c, err := auth.Compose([]auth.Provider{users, other}, builtin, sel)
			if err != nil {
				t.Fatal(err)
			}
			s, err := c.Session.CreateSession(ctx, "u1", auth.SnapshotMetadata(auth.User{ID: "u1", Roles: []string{"viewer"}}, tc.source))
			if err != nil {
				t.Fatal(err)
			}
			cookies, err := c.Session.SessionCookies(ctx, s)
			if err != nil || len(cookies) == 0 {
				t.Fatalf("cookies = %v, %v", cookies, err)
			}
			r := httptest.NewRequest("GET", "/api/auth/me", nil)
			r.Header.Set("Cookie", strings.SplitN(cookies[0], ";", 2)[0])
			rolesNow := func() []string {
				t.Helper()
				u, _, err := c.CurrentUser(ctx, r)
				if err != nil || u == nil {
					t.Fatalf("CurrentUser = %+v, %v", u, err)
				}
				return u.Roles
			}
			want := []string{"viewer"}
			if tc.refresh {
				want = []string{"admin"}
			}
			if got := rolesNow(); !slices.Equal(got, want) {
				t.Fatalf("roles = %v, want %v", got, want)
			}
			idp.mu.Lock()
			idp.roles["u1"], idp.fail = nil, false // revoked at the provider
			idp.mu.Unlock()
			if tc.refresh {
				want = nil
			}
			if got := rolesNow(); !slices.Equal(got, want) {
				t.Fatalf("after the provider revoked the role: roles = %v, want %v", got, want)
			}
			idp.mu.Lock()
			idp.roles["u1"], idp.fail = []string{"owner"}, true
			idp.mu.Unlock()
			if got := rolesNow(); !slices.Equal(got, []string{"viewer"}) {
				t.Fatalf("provider down: roles = %v, want the snapshot [viewer]", got)
			}
			if !tc.refresh && idp.calls != 0 {
				t.Fatalf("the provider was asked %d times for a session it did not sign in", idp.calls)
			}
		})
	}
}
