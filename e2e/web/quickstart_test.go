package web

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authhost/authhost/internal/testenv/authhostenv"
	"github.com/authhost/authhost/internal/testenv/logbuf"
	"github.com/authhost/authhost/internal/testenv/wasmbuild"
)

// TestQuickStartOnAnyPort is issue 15 item 1: the quick start (the
// binary, examples/authhost.yaml, `--listen :<port>` as AUTHHOST_ADDR
// sets it, no public_url) signs in from http://127.0.0.1:<port> and from
// http://localhost:<port>, not only from the address public_url follows.
func TestQuickStartOnAnyPort(t *testing.T) {
	t.Parallel()
	root := authhostenv.RepoRoot()
	bin := filepath.Join(t.TempDir(), "authhost")
	if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(root, "cmd", "authhost")).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	plugins := wasmbuild.Dir(t, filepath.Join(root, "examples", "static-users"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()

	// The quick start's config as it ships, but for the plugin call
	// timeout: the demo admin's argon2id hash needs more than 5 s when the
	// whole suite shares two cores.
	raw, err := os.ReadFile(filepath.Join(root, "examples", "authhost.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "authhost.yaml")
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(raw), "timeout_ms: 5000", "timeout_ms: 60000", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "serve", "--config", cfg,
		"--listen", ":"+port, "--plugins-dir", plugins, "--data-dir", t.TempDir())
	var logs logbuf.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("authhost log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get("http://127.0.0.1:" + port + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	for _, host := range []string{"127.0.0.1", "localhost"} {
		tb := newTab(t, "http://"+host+":"+port)
		tb.signIn("admin@example.com", "authhost-demo")
		if tb.path() != "/account" {
			t.Errorf("sign-in from http://%s:%s ended at %s: %q", host, port, tb.path(), tb.text("main"))
			continue
		}
		if got := tb.text("#account-email"); got != "admin@example.com" {
			t.Errorf("from %s: account email = %q", host, got)
		}
	}
	if strings.Contains(logs.String(), "cross-site request refused") {
		t.Errorf("a loopback alias was refused:\n%s", logs.String())
	}
}
