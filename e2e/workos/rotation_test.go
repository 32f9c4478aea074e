package workos

import (
	"testing"

	"github.com/authhost/authhost/auth/authtest"
)

// TestSessionRotationConformance runs the upstream-session suite against
// the workos plugin as authhost loads it, with the WorkOS emulator as
// issuer: refresh-token rotation on an expired access token, concurrent
// rotation, a refused refresh token, and revocation on destroy.
func TestSessionRotationConformance(t *testing.T) {
	t.Parallel()
	env := start(t, options{})
	p := env.App.Plugins.Plugin("workos")
	if p == nil {
		t.Fatal("workos plugin not loaded")
	}
	refreshToken := func(t *testing.T, id string) string {
		t.Helper()
		rt, _ := readSession(t, env, id)["refresh_token"].(string)
		if rt == "" {
			t.Fatalf("session %.8s… has no refresh token", id)
		}
		return rt
	}
	authtest.TestSessionRotation(t, p.Session(), authtest.RotationPeer{
		SignIn: func(t *testing.T) string {
			return signedIn(t, env, newUser("rot", orgID, "member").Email).Cookie("wos_session")
		},
		ExpireAccess: func(t *testing.T, id string) { expireAccessToken(t, env, id) },
		RefreshToken: refreshToken,
		Spent:        refreshRejected,
		// Presenting the token outside the plugin spends it: WorkOS refuses
		// it when the plugin presents it next.
		Withdraw: func(t *testing.T, id string) {
			if refreshRejected(t, refreshToken(t, id)) {
				t.Fatal("the session's refresh token was already spent")
			}
		},
	})
}
