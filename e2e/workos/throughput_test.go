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
	mebench.CompareWrk(t, "WorkOS", func() (string, string) { return meOfWorkOSSession(t) })
}
