package mebench

import (
	"net/http"
	"testing"
)

// TestBuiltin checks the baseline the figures are compared with: the
// signed-up user's session answers /me.
func TestBuiltin(t *testing.T) {
	meURL, cookie := Builtin(t)
	req, _ := http.NewRequest("GET", meURL, nil)
	req.Header.Set("Cookie", cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /me = %d", resp.StatusCode)
	}
}

// TestBuiltinWrk measures the built-in baseline alone with wrk, to compare
// two builds of authhost back to back (wrk is not in CI):
//
//	AUTHHOST_WRK=1 go test ./internal/testenv/mebench -run TestBuiltinWrk -v
func TestBuiltinWrk(t *testing.T) {
	if !WrkEnabled() {
		t.Skip("set AUTHHOST_WRK=1 with wrk on PATH to measure /me with wrk")
	}
	meURL, cookie := Builtin(t)
	r := Wrk(t, meURL, cookie)
	t.Logf("built-in session: %.0f req/s\n%s", r.RequestsPerSec, r.Output)
}

// BenchmarkBuiltin measures the built-in baseline alone under parallel
// load, to compare two builds of authhost back to back:
//
//	go test ./internal/testenv/mebench -run '^$' -bench Builtin -benchtime 3s -count 3
func BenchmarkBuiltin(b *testing.B) {
	meURL, cookie := Builtin(b) // once: the sub-benchmark runs several rounds
	b.Run("me", func(b *testing.B) { Parallel(b, meURL, cookie) })
}
