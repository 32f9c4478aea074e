package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/authhost/authhost/internal/testenv/logbuf"
	"github.com/authhost/authhost/internal/testenv/wasmbuild"
)

// TestServeSIGHUPReloadsConfig: SIGHUP no longer kills serve; it re-reads
// the config file, and a changed plugin config takes effect. A config
// that does not validate is refused and the running one stays.
func TestServeSIGHUPReloadsConfig(t *testing.T) {
	t.Parallel()
	example, err := os.ReadFile("../../examples/authhost.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(t.TempDir(), "authhost.yaml")
	if err := os.WriteFile(cfgFile, example, 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	base := "http://" + addr
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, authhostBinary(t), "serve", "--config", cfgFile, "--listen", addr, "--public-url", base,
		"--plugins-dir", wasmbuild.Dir(t, "../../examples/static-users"), "--data-dir", t.TempDir())
	var out logbuf.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("authhost output:\n%s", out.String())
		}
	})
	signUp := func() (bool, int) {
		var caps struct {
			Login *struct {
				SignUpEnabled *bool `json:"signUpEnabled"`
			} `json:"login"`
		}
		code := getJSON(t, base+"/api/auth/capabilities", &caps)
		return caps.Login != nil && caps.Login.SignUpEnabled != nil && *caps.Login.SignUpEnabled, code
	}
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for !cond() {
			if time.Now().After(deadline) || cmd.ProcessState != nil {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitUntil("the server", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	if on, code := signUp(); !on || code != 200 {
		t.Fatalf("sign-up before reload = %v (%d)", on, code)
	}

	// A broken config is refused; the server keeps running as it was.
	if err := os.WriteFile(cfgFile, []byte("rbac: bultin\n"+string(example)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitUntil("the refusal", func() bool { return strings.Contains(out.String(), "config reload refused") })
	if on, code := signUp(); !on || code != 200 {
		t.Fatalf("sign-up after a refused reload = %v (%d)", on, code)
	}

	changed := strings.Replace(string(example), "allow_sign_up: true", "allow_sign_up: false", 1)
	if changed == string(example) {
		t.Fatal("example config has no allow_sign_up: true")
	}
	if err := os.WriteFile(cfgFile, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitUntil("the new plugin config", func() bool { on, code := signUp(); return code == 200 && !on })
	if !strings.Contains(out.String(), `msg="config reloaded"`) {
		t.Error("reload not logged")
	}
}
