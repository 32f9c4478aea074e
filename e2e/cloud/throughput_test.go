package cloud

import (
	"testing"

	"github.com/authhost/authhost/internal/testenv/mebench"
	"github.com/authhost/authhost/internal/testenv/oidc"
)

// meOfCloudSession starts authhost with the cloud plugin (session and
// rbac: cloud), signs alice in and returns /me's URL and her session's
// Cookie header value.
func meOfCloudSession(tb testing.TB) (meURL, cookie string) {
	tb.Helper()
	f := start(tb, options{})
	c := f.env.Client()
	f.signIn(tb, c, oidc.TestUser, oidc.TestPassword)
	return f.env.URL + "/api/auth/me", "authhost_cloud=" + c.Cookie("authhost_cloud")
}

// BenchmarkMe measures GET /api/auth/me under parallel load (4×GOMAXPROCS
// clients, keep-alive) with a cloud session against the built-in baseline
// (static-users, the host's own sessions and RBAC) in the same run; ns/op
// is the inverse of throughput and req/s reports it.
//
//	go test ./e2e/cloud -run '^$' -bench Me -benchtime 3s
func BenchmarkMe(b *testing.B) {
	builtinURL, builtinCookie := mebench.Builtin(b)
	cloudURL, cloudCookie := meOfCloudSession(b)
	b.Run("builtin", func(b *testing.B) { mebench.Parallel(b, builtinURL, builtinCookie) })
	b.Run("cloud", func(b *testing.B) { mebench.Parallel(b, cloudURL, cloudCookie) })
}

// TestMeThroughputWrk measures the same with wrk (-t2 -c32 -d10s), the
// issue's tool, when asked to (wrk is not in CI):
//
//	AUTHHOST_WRK=1 go test ./e2e/cloud -run TestMeThroughputWrk -v
func TestMeThroughputWrk(t *testing.T) {
	mebench.CompareWrk(t, "cloud", func() (string, string) { return meOfCloudSession(t) })
}
