package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/internal/testenv/logbuf"
	"github.com/authhost/authhost/internal/testenv/wasmbuild"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// authhostBinary builds the CLI once per test process.
func authhostBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "authhost-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "authhost")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startServe runs `authhost serve` with the example config pointed at temp
// dirs and returns its base URL once /readyz answers.
func startServe(t *testing.T, pluginsDir string, extraArgs ...string) (string, *logbuf.Buffer) {
	t.Helper()
	bin := authhostBinary(t)
	addr := freePort(t)
	base := "http://" + addr
	args := append([]string{"serve", "--config", "../../examples/authhost.yaml", "--listen", addr,
		"--public-url", base, "--plugins-dir", pluginsDir, "--data-dir", t.TempDir()}, extraArgs...)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	var out logbuf.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("authhost output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			return base, &out
		}
		if cmd.ProcessState != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("authhost did not start:\n%s", out.String())
	return "", nil
}

func getJSON(t *testing.T, url string, out any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, body)
	}
	return resp.StatusCode
}

func TestServeExampleEndToEnd(t *testing.T) {
	t.Parallel()
	plugins := wasmbuild.Dir(t, "../../examples/static-users")
	base, out := startServe(t, plugins)

	var ready map[string]any
	if code := getJSON(t, base+"/readyz", &ready); code != http.StatusOK {
		t.Fatalf("readyz = %d %v", code, ready)
	}
	var caps struct {
		Enabled bool `json:"enabled"`
		Login   *struct {
			Type          string `json:"type"`
			SignUpEnabled *bool  `json:"signUpEnabled"`
		} `json:"login"`
	}
	if code := getJSON(t, base+"/api/auth/capabilities", &caps); code != http.StatusOK {
		t.Fatalf("capabilities status %d", code)
	}
	if !caps.Enabled || caps.Login == nil || caps.Login.Type != "credentials" || caps.Login.SignUpEnabled == nil || !*caps.Login.SignUpEnabled {
		t.Fatalf("capabilities = %+v", caps)
	}
	for _, want := range []string{
		"demo credential (do not use in production): admin@example.com / authhost-demo",
		`msg="DEMO CREDENTIAL enabled: remove it before production"`,
		`msg="plugin loaded" plugin=static-users`,
		`msg="capability composed" capability=credentials from=static-users`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestServeNotReadyWhenConfiguredPluginMissing(t *testing.T) {
	t.Parallel()
	base, _ := startServe(t, t.TempDir()) // empty plugins dir: static-users is configured but absent
	var body struct {
		Problems []string `json:"problems"`
	}
	if code := getJSON(t, base+"/readyz", &body); code != http.StatusServiceUnavailable {
		t.Fatalf("readyz = %d, want 503", code)
	}
	if len(body.Problems) == 0 || !strings.Contains(body.Problems[0], `"static-users" is not loaded`) {
		t.Fatalf("problems = %v", body.Problems)
	}
}

func TestInspect(t *testing.T) {
	t.Parallel()
	good := wasmbuild.Build(t, "../../examples/static-users")
	bad := wasmbuild.Build(t, "../../host/testdata/plugins/wrongabi")
	cases := []struct {
		name     string
		file     string
		wantErr  bool
		wantJSON func(map[string]any) bool
	}{
		{"static-users", good, false, func(m map[string]any) bool {
			return m["name"] == "static-users" && m["abi"] == abi.Version && fmt.Sprint(m["capabilities"]) == "[user credentials rbac]"
		}},
		{"wrong abi", bad, true, func(m map[string]any) bool {
			return strings.Contains(fmt.Sprint(m["problems"]), "abi 2.0")
		}},
	}
	for _, c := range cases {
		var stdout bytes.Buffer
		err := run(context.Background(), []string{"inspect", "--json", c.file}, &stdout, io.Discard)
		if (err != nil) != c.wantErr {
			t.Errorf("%s: err = %v", c.name, err)
		}
		var m map[string]any
		if jerr := json.Unmarshal(stdout.Bytes(), &m); jerr != nil || !c.wantJSON(m) {
			t.Errorf("%s: report = %s (%v)", c.name, stdout.String(), jerr)
		}
	}
}

func TestCommandLine(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args    []string
		wantOut string
		wantErr string
	}{
		{[]string{"version"}, "abi " + abi.Version, ""},
		{[]string{}, "", "no command"},
		{[]string{"bogus"}, "", `unknown command "bogus"`},
		{[]string{"inspect"}, "", "exactly one FILE.wasm"},
		{[]string{"license", "inspect", "abc.def"}, "valid:        no", "license"},
		{[]string{"serve", "--nope"}, "", "flag provided but not defined"},
		{[]string{"serve", "--config", "/does/not/exist.yaml"}, "", "no such file"},
	}
	for _, c := range cases {
		var out bytes.Buffer
		err := run(context.Background(), c.args, &out, io.Discard)
		if c.wantErr == "" && err != nil {
			t.Errorf("%v: %v", c.args, err)
		}
		if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("%v: err = %v, want %q", c.args, err, c.wantErr)
		}
		if !strings.Contains(out.String(), c.wantOut) {
			t.Errorf("%v: out = %q, want %q", c.args, out.String(), c.wantOut)
		}
	}
}

// badConfig writes the example config with static-users'
// min_password_length out of range and returns its path.
func badConfig(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../../examples/authhost.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(raw), "min_password_length: 8", "min_password_length: 5000", 1)
	if bad == string(raw) {
		t.Fatal("the example config has no min_password_length: 8 to change")
	}
	path := filepath.Join(t.TempDir(), "authhost.yaml")
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const badField = "plugins.static-users.config.min_password_length: 5000 is out of range"

// TestBadPluginConfig: a configuration the plugin refuses (authhost_configure)
// is named by field in inspect --config, in /readyz, and stops start-up in
// production mode.
func TestBadPluginConfig(t *testing.T) {
	t.Parallel()
	cfg := badConfig(t)
	users := wasmbuild.Build(t, "../../examples/static-users")
	t.Run("inspect", func(t *testing.T) {
		t.Parallel()
		var stdout bytes.Buffer
		err := run(context.Background(), []string{"inspect", "--config", cfg, users}, &stdout, io.Discard)
		if err == nil || !strings.Contains(stdout.String(), badField) {
			t.Fatalf("inspect --config = %v\n%s", err, stdout.String())
		}
		stdout.Reset()
		if err := run(context.Background(), []string{"inspect", "--config", "../../examples/authhost.yaml", users}, &stdout, io.Discard); err != nil {
			t.Fatalf("inspect with the example config = %v\n%s", err, stdout.String())
		}
	})
	t.Run("readyz", func(t *testing.T) {
		t.Parallel()
		base, _ := startServe(t, wasmbuild.Dir(t, "../../examples/static-users"), "--config", cfg)
		var body struct {
			Problems []string `json:"problems"`
		}
		if code := getJSON(t, base+"/readyz", &body); code != http.StatusServiceUnavailable || !strings.Contains(strings.Join(body.Problems, "\n"), badField) {
			t.Fatalf("readyz = %d %v", code, body.Problems)
		}
	})
	t.Run("production", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		err := run(ctx, []string{"serve", "--config", cfg, "--mode", "production", "--listen", freePort(t),
			"--plugins-dir", wasmbuild.Dir(t, "../../examples/static-users"), "--data-dir", t.TempDir()}, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), badField) {
			t.Fatalf("serve in production = %v, want an error naming %s", err, badField)
		}
	})
}
