// Package jsclient runs the JavaScript packages' tests (clients/js:
// @authhost/client and @authhost/react) against the real server, and one
// Chromium test of examples/react-app. authhost runs in-process through
// authhostenv with the quick-start config (examples/authhost.yaml) and
// the static-users provider built from source; the npm tests get its URL
// in AUTHHOST_URL. Set AUTHHOST_JS_REGENERATE=1 to rewrite the generated
// OpenAPI types (clients/js/packages/client/src/schema.ts) from that
// server first.
package jsclient

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authhost/authhost/internal/testenv/authhostenv"
)

// jsDir is the npm workspace of the JavaScript packages.
var jsDir = filepath.Join(authhostenv.RepoRoot(), "clients", "js")

// requireNode skips t (fails it when CI=true) unless node, npm and the
// installed packages of dir are present.
func requireNode(t *testing.T, dir, probe string) {
	t.Helper()
	var missing string
	if _, err := exec.LookPath("npm"); err != nil {
		missing = "npm is not installed (Node 20 is needed)"
	} else if _, err := os.Stat(filepath.Join(dir, "node_modules", probe)); err != nil {
		missing = fmt.Sprintf("%s/node_modules is missing; run: bash .ci/install-deps", dir)
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("jsclient: %s (CI=true, so it is required)", missing)
	}
	t.Skipf("jsclient: %s", missing)
}

// quickStart returns the quick-start config with extra YAML appended.
func quickStart(t *testing.T, extra string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(authhostenv.RepoRoot(), "examples", "authhost.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n" + extra
}

// startQuickStart starts authhost with the quick-start config.
func startQuickStart(t *testing.T, extra string) *authhostenv.Env {
	t.Helper()
	return authhostenv.Start(t, authhostenv.Options{Plugins: []string{"examples/static-users"}, Config: quickStart(t, extra)})
}

// npm runs npm with args in dir and env added, failing t with its output.
func npm(t *testing.T, ctx context.Context, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, "npm", args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "FORCE_COLOR=0", "NO_COLOR=1"), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("npm %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

// TestJSClient runs `npm test` in clients/js: the typecheck, the drift
// check of the generated types, and the client and hook tests against the
// live server (the throttle test against a second one, so its failed
// sign-ins do not lock out the address the other tests sign in from).
func TestJSClient(t *testing.T) {
	requireNode(t, jsDir, "vitest")
	main := startQuickStart(t, "")
	throttle := startQuickStart(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	env := []string{"AUTHHOST_URL=" + main.URL, "AUTHHOST_THROTTLE_URL=" + throttle.URL, "CI=true"}
	if os.Getenv("AUTHHOST_JS_REGENERATE") == "1" {
		t.Log(npm(t, ctx, jsDir, env, "run", "generate", "--", main.URL))
	}
	out := npm(t, ctx, jsDir, env, "test")
	// The vitest summary (files and test counts) for the Go test log.
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines {
		if s := strings.TrimSpace(l); strings.HasPrefix(s, "Test Files") || strings.HasPrefix(s, "Tests ") {
			t.Log(s)
		}
	}
}
