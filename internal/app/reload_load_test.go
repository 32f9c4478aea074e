package app_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authhost/authhost/internal/testenv/authhostenv"
)

const reloadConfig = `
watch_plugins: false
capabilities:
  user: static-users
  credentials: static-users
  session: builtin
  rbac: builtin
plugins:
  static-users:
    config:
      allow_sign_up: true
      default_role: viewer
      min_password_length: 8
`

// withCustomSection returns wasm with a custom section appended: a second
// build of the same provider, valid, with another sha256.
func withCustomSection(wasm []byte, note string) []byte {
	name := "authhost-test"
	payload := append([]byte{byte(len(name))}, name...)
	payload = append(payload, note...)
	out := append([]byte{}, wasm...)
	out = append(out, 0) // custom section id
	n := len(payload)    // LEB128 size
	for {
		b := byte(n & 0x7f)
		n >>= 7
		if n != 0 {
			out = append(out, b|0x80)
			continue
		}
		out = append(out, b)
		break
	}
	return append(out, payload...)
}

// replaceFile writes b to path the way a deploy does: a temporary file
// renamed over the old one.
func replaceFile(t testing.TB, path string, b []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestHotReloadUnderLoad is the hot reload promise: while the plugin
// serving user and credentials is replaced 100 times (alternating two
// builds), clients hammering /api/auth/me (signed in) and
// /api/auth/capabilities see no failed request, and every replacement is
// a new generation. AUTHHOST_RELOAD_REPLACEMENTS and
// AUTHHOST_RELOAD_WORKERS change the run (BENCHMARKS.md).
func TestHotReloadUnderLoad(t *testing.T) {
	replacements, workers := envInt("AUTHHOST_RELOAD_REPLACEMENTS", 100), envInt("AUTHHOST_RELOAD_WORKERS", 16)
	env := authhostenv.Start(t, authhostenv.Options{Plugins: []string{"examples/static-users"}, Config: reloadConfig})
	c := env.Client()
	if r := c.Do(t, "POST", "/api/auth/credentials/sign-up", map[string]string{"email": "load@example.com", "password": "long-enough-1", "name": "Load"}); r.Status != http.StatusCreated {
		t.Fatalf("sign-up = %d %s", r.Status, r.Body)
	}
	session := c.Cookie("authhost_session")
	if session == "" {
		t.Fatal("no session cookie")
	}
	mgr := env.App.Plugins
	first := mgr.Plugin("static-users")
	file := first.File()
	buildA, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	builds := [2][]byte{buildA, withCustomSection(buildA, "build b")}

	tr := &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var ok, failed atomic.Int64
	// lat holds each phase's latencies (0: baseline without reloads, 1:
	// during the reloads); phase says which one requests are in.
	var phase atomic.Int32
	var latMu sync.Mutex
	var lat [2][]time.Duration
	var failMu sync.Mutex
	var failures []string
	fail := func(msg string) {
		failed.Add(1)
		failMu.Lock()
		if len(failures) < 10 {
			failures = append(failures, msg)
		}
		failMu.Unlock()
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths := [2]string{"/api/auth/me", "/api/auth/capabilities"}
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodGet, env.URL+paths[i%2], nil)
				req.AddCookie(&http.Cookie{Name: "authhost_session", Value: session})
				ph, t0 := phase.Load(), time.Now()
				resp, err := client.Do(req)
				if err != nil {
					fail(fmt.Sprintf("%s: %v", paths[i%2], err))
					continue
				}
				var body [512]byte
				n, _ := resp.Body.Read(body[:])
				for {
					if _, err := resp.Body.Read(body[:]); err != nil {
						break
					}
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					fail(fmt.Sprintf("%s: %d %s", paths[i%2], resp.StatusCode, body[:n]))
					continue
				}
				ok.Add(1)
				d := time.Since(t0)
				latMu.Lock()
				lat[ph] = append(lat[ph], d)
				latMu.Unlock()
			}
		}()
	}

	// Baseline: the same load without reloads, in the same run.
	baseStart := time.Now()
	time.Sleep(2 * time.Second)
	baseN, baseElapsed := ok.Load()+failed.Load(), time.Since(baseStart)
	phase.Store(1)
	start := time.Now()
	startN := ok.Load() + failed.Load()
	var between []int64 // requests served during each reload
	for i := range replacements {
		before := ok.Load() + failed.Load()
		replaceFile(t, file, builds[(i+1)%2])
		problems, err := env.App.Reload(context.Background())
		if err != nil || len(problems) > 0 {
			t.Fatalf("reload %d: %v %v", i+1, err, problems)
		}
		between = append(between, ok.Load()+failed.Load()-before)
		if (i+1)%25 == 0 {
			t.Logf("%d reloads, %v, %d requests", i+1, time.Since(start).Round(time.Millisecond), ok.Load()+failed.Load())
		}
	}
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()

	total := ok.Load() + failed.Load() - startN
	baseRate, rate := float64(baseN)/baseElapsed.Seconds(), float64(total)/elapsed.Seconds()
	latMu.Lock()
	p50b, p99b, p50, p99 := quantile(lat[0], 0.5), quantile(lat[0], 0.99), quantile(lat[1], 0.5), quantile(lat[1], 0.99)
	latMu.Unlock()
	t.Logf("baseline (no reloads, %v): %.0f req/s, p50 %v, p99 %v", baseElapsed.Round(time.Millisecond), baseRate, p50b, p99b)
	t.Logf("%d replacements in %v (%.1f ms each), %d workers: %d requests, %.0f req/s (%.2f× baseline), p50 %v (%.2f×), p99 %v (%.2f×), %d failed",
		replacements, elapsed.Round(time.Millisecond), float64(elapsed.Milliseconds())/float64(replacements), workers,
		total, rate, rate/baseRate, p50, float64(p50)/float64(p50b), p99, float64(p99)/float64(p99b), failed.Load())
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d requests failed during hot reload, e.g. %q", n, total, failures)
	}
	cur := mgr.Plugin("static-users")
	if cur == nil || cur.Generation() != first.Generation()+uint64(replacements) {
		t.Fatalf("generation after %d reloads: %v", replacements, cur)
	}
	if len(mgr.Plugins()) != 1 {
		t.Errorf("%d plugins loaded, want 1", len(mgr.Plugins()))
	}
	idle := 0
	for _, n := range between {
		if n == 0 {
			idle++
		}
	}
	if idle > replacements/2 {
		t.Errorf("no request overlapped %d of %d reloads: the test did not load the server", idle, replacements)
	}
	if got, want := filepath.Base(cur.File()), filepath.Base(file); got != want {
		t.Errorf("file %s, want %s", got, want)
	}
}

// quantile returns the q-quantile of ds (sorted in place).
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[int(q*float64(len(ds)-1))].Round(10 * time.Microsecond)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// waitFor polls cond until it holds or 30 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWatchPlugins: the plugins directory is watched. A replaced file
// swaps in; a half-written one is refused and the previous version keeps
// serving (reported in /api/admin/plugins-visible load failures); its
// completion swaps in; a removed file unloads and readiness says so.
func TestWatchPlugins(t *testing.T) {
	cfg := strings.Replace(reloadConfig, "watch_plugins: false", "watch_plugins: true", 1) + `
      users:
        - email: admin@example.com
          name: Demo Admin
          password_hash: "$argon2id$v=19$m=12288,t=3,p=1$qIyBpMEp+rfFhi4ro6lb/g$jq+SmBkE0qKveOCCakFlxE05ORD5ZI3rwmV0PWUFzs0"
          roles: [owner]
`
	env := authhostenv.Start(t, authhostenv.Options{Plugins: []string{"examples/static-users"}, Config: cfg})
	mgr := env.App.Plugins
	first := mgr.Plugin("static-users")
	file := first.File()
	buildA, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	buildB := withCustomSection(buildA, "build b")
	gen := func() uint64 {
		if p := mgr.Plugin("static-users"); p != nil {
			return p.Generation()
		}
		return 0
	}
	replaceFile(t, file, buildB)
	waitFor(t, "the replaced file to load", func() bool { return gen() > first.Generation() })
	second := mgr.Plugin("static-users")
	if second.SHA256() == first.SHA256() {
		t.Fatal("replaced file has the old sha256")
	}

	owner := env.Client()
	if r := owner.Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": "admin@example.com", "password": "authhost-demo"}); r.Status != 200 {
		t.Fatalf("owner sign-in = %d %s", r.Status, r.Body)
	}
	type status struct {
		Generation uint64    `json:"generation"`
		SHA256     string    `json:"sha256"`
		LoadedAt   time.Time `json:"loadedAt"`
		LoadError  string    `json:"loadError"`
	}
	adminStatus := func() status {
		t.Helper()
		var body struct{ Plugins []status }
		r := owner.Do(t, "GET", "/api/admin/plugins", nil)
		r.Decode(t, &body)
		if r.Status != 200 || len(body.Plugins) != 1 {
			t.Fatalf("admin plugins = %d %s", r.Status, r.Body)
		}
		return body.Plugins[0]
	}
	if st := adminStatus(); st.Generation != second.Generation() || st.SHA256 != second.SHA256() || st.LoadedAt.IsZero() || st.LoadError != "" {
		t.Fatalf("admin status = %+v, want generation %d sha256 %s", st, second.Generation(), second.SHA256())
	}

	// Half-written in place: refused, the previous version serves on.
	if err := os.WriteFile(file, buildA[:len(buildA)/3], 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the half-written file to be reported", func() bool { return mgr.LoadFailures()[file] != nil })
	if mgr.Plugin("static-users") != second {
		t.Fatal("a half-written file replaced the serving version")
	}
	c := env.Client()
	if r := c.Do(t, "GET", "/api/auth/capabilities", nil); r.Status != 200 || !strings.Contains(string(r.Body), `"credentials"`) {
		t.Fatalf("capabilities while the file is half-written = %d %s", r.Status, r.Body)
	}
	if !strings.Contains(env.Logs(), "previous version keeps serving") {
		t.Error("refused replacement not logged")
	}
	if st := adminStatus(); st.Generation != second.Generation() || st.LoadError == "" {
		t.Errorf("admin status while the file is half-written = %+v", st)
	}
	if err := os.WriteFile(file, buildA, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the completed file to load", func() bool { p := mgr.Plugin("static-users"); return p != nil && p != second })
	if len(mgr.LoadFailures()) != 0 {
		t.Errorf("load failures after the file completed: %v", mgr.LoadFailures())
	}
	// The admin route reloads too (same-origin POST, plugins:manage): the
	// file is unchanged, so the serving plugin is kept as it is, and the
	// answer says so (its generation, not the reload's).
	third := mgr.Plugin("static-users")
	r := owner.Do(t, "POST", "/api/admin/plugins/reload", nil)
	var reloaded struct{ Plugins []status }
	r.Decode(t, &reloaded)
	if r.Status != 200 || mgr.Plugin("static-users") != third || len(reloaded.Plugins) != 1 || reloaded.Plugins[0].Generation != third.Generation() {
		t.Fatalf("admin reload = %d %s, plugin kept %v", r.Status, r.Body, mgr.Plugin("static-users") == third)
	}
	// A file replaced, then the admin route: a new generation.
	replaceFile(t, file, buildB)
	if r := owner.Do(t, "POST", "/api/admin/plugins/reload", nil); r.Status != 200 || gen() <= third.Generation() {
		t.Fatalf("admin reload of a replaced file = %d %s, generation %d -> %d", r.Status, r.Body, third.Generation(), gen())
	}

	// Removed: unloaded, the capability fails closed, not ready.
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the removed file to unload", func() bool { return mgr.Plugin("static-users") == nil })
	if r := c.Do(t, "GET", "/readyz", nil); r.Status != http.StatusServiceUnavailable {
		t.Errorf("readyz after removal = %d %s", r.Status, r.Body)
	}
	if r := c.Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": "a@example.com", "password": "long-enough-1"}); r.Status < 400 {
		t.Errorf("sign-in after removal = %d", r.Status)
	}
}
