package workos

import (
	"testing"

	"github.com/authhost/authhost/internal/testenv/mebench"
)

// meOfWorkOSSession starts authhost with the workos plugin (session and
// rbac: workos), signs a member in and returns /me's URL and the
// session's Cookie header value.
func meOfWorkOSSession(t *testing.T) (meURL, cookie string) {
	t.Helper()
	env := start(t, options{})
	c := signedIn(t, env, newUser("bench", orgID, "member").Email)
	return env.URL + "/api/auth/me", "wos_session=" + c.Cookie("wos_session")
}

// TestMeThroughputWrk measures GET /api/auth/me with a WorkOS session with
// wrk (-t2 -c32 -d10s) against the built-in baseline (static-users, the
// host's own sessions and RBAC) in the same run, when asked to (wrk is not
// in CI):
//
//	AUTHHOST_WRK=1 go test ./e2e/workos -run TestMeThroughputWrk -v
func TestMeThroughputWrk(t *testing.T) {
	if !mebench.WrkEnabled() {
		t.Skip("set AUTHHOST_WRK=1 with wrk on PATH to measure /me with wrk")
	}
	builtinURL, builtinCookie := mebench.Builtin(t)
	url, cookie := meOfWorkOSSession(t)
	builtin := mebench.Wrk(t, builtinURL, builtinCookie)
	wos := mebench.Wrk(t, url, cookie)
	t.Logf("built-in session: %.0f req/s\n%s", builtin.RequestsPerSec, builtin.Output)
	t.Logf("WorkOS session:   %.0f req/s (%.2f× built-in)\n%s", wos.RequestsPerSec, wos.RequestsPerSec/builtin.RequestsPerSec, wos.Output)
}
