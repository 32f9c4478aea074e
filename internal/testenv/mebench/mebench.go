// Package mebench measures GET /api/auth/me of a signed-in session under
// concurrent load, for the throughput figures of issue #14: in a Go
// benchmark (Parallel: b.RunParallel clients, keep-alive) and with wrk
// (Wrk: an external load generator, run only when AUTHHOST_WRK is set and
// wrk is installed; it is not in CI). Builtin starts the baseline every
// figure is compared with in the same run: the quick start's composition,
// static-users signing in and the host's own sessions and RBAC.
package mebench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/authhost/authhost/internal/testenv/authhostenv"
	"github.com/authhost/authhost/internal/testenv/cputime"
)

// builtinConfig is the quick start's composition.
const builtinConfig = `
capabilities:
  user: static-users
  credentials: static-users
  session: builtin
  rbac: builtin
  audit: [builtin]
plugins:
  static-users:
    config:
      allow_sign_up: true
      default_role: member
      min_password_length: 8
`

// Builtin starts authhost with the quick start's composition, signs a
// user up and returns the /me URL and the session's Cookie header value.
func Builtin(tb testing.TB) (meURL, cookie string) {
	tb.Helper()
	env := authhostenv.Start(tb, authhostenv.Options{Plugins: []string{"examples/static-users"}, Config: builtinConfig})
	c := env.Client()
	r := c.Do(tb, "POST", "/api/auth/credentials/sign-up", map[string]string{"email": "bench@example.com", "password": "bench-password"})
	if r.Status != http.StatusCreated {
		tb.Fatalf("mebench: sign-up = %d %s", r.Status, r.Body)
	}
	return env.URL + "/api/auth/me", "authhost_session=" + c.Cookie("authhost_session")
}

// Parallel runs GET meURL with cookie from b.RunParallel clients over one
// keep-alive transport; any answer but 200 fails b. Besides ns/op it
// reports req/s and cpu-µs/op.
func Parallel(b *testing.B, meURL, cookie string) {
	b.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	defer client.CloseIdleConnections()
	get := func() error {
		req, err := http.NewRequestWithContext(context.Background(), "GET", meURL, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Cookie", cookie)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s = %d", meURL, resp.StatusCode)
		}
		return nil
	}
	if err := get(); err != nil { // signed in at all
		b.Fatal(err)
	}
	b.ResetTimer()
	cpu0 := cputime.Process()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := get(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	// The CPU the whole process (server, plugins and clients) spent per
	// request: steadier than wall time on a shared, busy machine.
	b.ReportMetric(float64(cputime.Process()-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
}

// WrkEnabled reports whether AUTHHOST_WRK is set and wrk is on PATH.
func WrkEnabled() bool {
	if os.Getenv("AUTHHOST_WRK") == "" {
		return false
	}
	_, err := exec.LookPath("wrk")
	return err == nil
}

// WrkArgs are wrk's load settings: 2 threads, 32 connections, 10 s.
var WrkArgs = []string{"-t2", "-c32", "-d10s"}

// Result is one wrk run.
type Result struct {
	// RequestsPerSec is wrk's Requests/sec.
	RequestsPerSec float64
	// Output is wrk's report.
	Output string
}

var (
	rpsLine    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	non2xxLine = regexp.MustCompile(`Non-2xx or 3xx responses:\s+([0-9]+)`)
	errorsLine = regexp.MustCompile(`Socket errors:.*`)
)

// Wrk runs wrk (WrkArgs) against meURL with cookie and fails t when a
// response was not 2xx/3xx or a socket failed.
func Wrk(t testing.TB, meURL, cookie string) Result {
	t.Helper()
	args := append(append([]string{}, WrkArgs...), "--latency", "-H", "Cookie: "+cookie, meURL)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "wrk", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("mebench: wrk: %v\n%s", err, out)
	}
	if m := non2xxLine.FindSubmatch(out); m != nil {
		t.Fatalf("mebench: wrk saw %s non-2xx answers\n%s", m[1], out)
	}
	if m := errorsLine.Find(out); m != nil {
		t.Fatalf("mebench: wrk: %s\n%s", m, out)
	}
	m := rpsLine.FindSubmatch(out)
	if m == nil {
		t.Fatalf("mebench: no Requests/sec in wrk's output\n%s", out)
	}
	rps, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatalf("mebench: Requests/sec %q: %v", m[1], err)
	}
	return Result{RequestsPerSec: rps, Output: string(out)}
}

// CompareWrk measures /me with wrk for a provider's session (name and the
// function that signs in and returns its /me URL and Cookie value) against the built-in baseline
// in the same run, and logs both: the body of every e2e
// TestMeThroughputWrk. It skips t unless WrkEnabled.
func CompareWrk(t *testing.T, name string, session func() (meURL, cookie string)) {
	t.Helper()
	if !WrkEnabled() {
		t.Skip("set AUTHHOST_WRK=1 with wrk on PATH to measure /me with wrk")
	}
	builtinURL, builtinCookie := Builtin(t)
	url, cookie := session()
	builtin := Wrk(t, builtinURL, builtinCookie)
	got := Wrk(t, url, cookie)
	t.Logf("built-in session: %.0f req/s\n%s", builtin.RequestsPerSec, builtin.Output)
	t.Logf("%s session: %.0f req/s (%.2f× built-in)\n%s", name, got.RequestsPerSec, got.RequestsPerSec/builtin.RequestsPerSec, got.Output)
}
