package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
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
	base, out, _ := startServeStoppable(t, pluginsDir, extraArgs...)
	return base, out
}

// startServeStoppable is startServe that also returns a function stopping
// the server (SIGTERM, then wait) before the test ends.
func startServeStoppable(t *testing.T, pluginsDir string, extraArgs ...string) (string, *logbuf.Buffer, func()) {
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
	var stopOnce sync.Once
	stop := func() {
		stopOnce.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				cancel()
				<-done
			}
		})
	}
	t.Cleanup(func() {
		stop()
		cancel()
		if t.Failed() {
			t.Logf("authhost output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			return base, &out, stop
		}
		if cmd.ProcessState != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("authhost did not start:\n%s", out.String())
	return "", nil, nil
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
		{[]string{"license"}, "", "want keygen, issue or inspect"},
		{[]string{"license", "sign"}, "", `unknown subcommand "sign"`},
		{[]string{"license", "keygen"}, "", "want --out FILE"},
		{[]string{"license", "issue", "--org", "x"}, "", "want --key FILE"},
		{[]string{"serve", "--nope"}, "", "flag provided but not defined"},
		{[]string{"serve", "extra"}, "", `unexpected argument "extra"`},
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

func TestHelpListsEveryFlagAndSucceeds(t *testing.T) {
	t.Parallel()
	cases := map[string][]string{
		"serve":           {"--config", "--listen", "--public-url", "--plugins-dir", "--data-dir", "--mode", "--log-level"},
		"inspect":         {"--json", "--cache-dir"},
		"conformance":     {"--config", "--allow-host", "--json", "--user", "--password"},
		"call":            {"--config", "--allow-host", "--cache-dir"},
		"new-provider":    {"--dir"},
		"license keygen":  {"--out"},
		"license issue":   {"--key", "--org", "--tier", "--features", "--days", "--expires"},
		"license inspect": {"--json", "--public-key", "--config"},
		"backup":          {"--config", "--data-dir", "--out"},
		"restore":         {"--config", "--data-dir"},
	}
	for cmd, flags := range cases {
		for _, h := range []string{"--help", "-h"} {
			var out bytes.Buffer
			err := run(context.Background(), append(strings.Fields(cmd), h), &out, io.Discard)
			if !errors.Is(err, errHelp) {
				t.Errorf("%s %s: err = %v, want errHelp (exit 0)", cmd, h, err)
			}
			for _, f := range flags {
				if !strings.Contains(out.String(), f) {
					t.Errorf("%s %s: help lacks %s:\n%s", cmd, h, f, out.String())
				}
			}
		}
	}
}

func TestInspectFlagsAfterFileAndNonWasm(t *testing.T) {
	t.Parallel()
	good := wasmbuild.Build(t, "../../examples/static-users")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"inspect", good, "--json"}, &out, io.Discard); err != nil {
		t.Fatalf("inspect FILE --json: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil || m["name"] != "static-users" {
		t.Fatalf("inspect FILE --json printed %s (%v)", out.String(), err)
	}
	text := filepath.Join(t.TempDir(), "notes.wasm")
	if err := os.WriteFile(text, []byte("hello, this is text"), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err := run(context.Background(), []string{"inspect", text}, &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not a WebAssembly module") || strings.Contains(err.Error(), "magic") {
		t.Fatalf("inspect of a text file: %v", err)
	}
	if !strings.Contains(out.String(), "not a WebAssembly module") {
		t.Fatalf("the report does not say it: %s", out.String())
	}
}

func TestLicenseKeygenIssueInspect(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := filepath.Join(dir, "license.key")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"license", "keygen", "--out", key}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(key); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key file: %v, %v", st, err)
	}
	var pub string
	for _, line := range strings.Split(out.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "public key:  "); ok {
			pub = v
		}
	}
	if pub == "" || strings.Contains(out.String(), mustRead(t, key)) {
		t.Fatalf("keygen output must give the public key and never the private one:\n%s", out.String())
	}
	if err := run(context.Background(), []string{"license", "keygen", "--out", key}, io.Discard, io.Discard); err == nil {
		t.Fatal("keygen overwrote an existing key file")
	}

	out.Reset()
	if err := run(context.Background(), []string{"license", "issue", "--key", key, "--org", "Acme", "--features", "rbac,audit", "--days", "30"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(out.String())

	// Only a server or command that trusts the key accepts the token.
	if err := run(context.Background(), []string{"license", "inspect", token}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("a self-issued token verified against the vendor key alone: %v", err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"license", "inspect", token, "--json", "--public-key", pub}, &out, io.Discard); err != nil {
		t.Fatalf("inspect with the key: %v\n%s", err, out.String())
	}
	var rep struct {
		Valid   bool
		License struct {
			Org      string
			Features []string
		}
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || !rep.Valid || rep.License.Org != "Acme" || strings.Join(rep.License.Features, ",") != "rbac,audit" {
		t.Fatalf("report = %s (%v)", out.String(), err)
	}
	cfgFile := filepath.Join(dir, "authhost.yaml")
	if err := os.WriteFile(cfgFile, []byte("license: {token: x.y, public_keys: ["+pub+"]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"license", "inspect", "--config", cfgFile, token}, io.Discard, io.Discard); err != nil {
		t.Fatalf("inspect trusting the config's keys: %v", err)
	}
	for _, bad := range [][]string{
		{"--features", "rbac,everything"},
		{"--expires", "2001-01-01"},
		{"--expires", "tomorrow"},
	} {
		args := append([]string{"license", "issue", "--key", key, "--org", "Acme"}, bad...)
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("issue %v was accepted", bad)
		}
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestServeFailsFast covers start-up refusals: a port in use and
// production without a license (before any plugin compiles), and a
// production configuration whose selected providers cannot be served.
func TestServeFailsFast(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	broken := filepath.Join(t.TempDir(), "broken.yaml")
	if err := os.WriteFile(broken, []byte("license: none\ncapabilities: {credentials: static-users, rbac: bultin}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"port in use", []string{"--listen", busy.Addr().String()}, "address already in use"},
		{"production without a license", []string{"--listen", "127.0.0.1:0", "--mode", "production"}, "license: none"},
		{"production with a selected provider missing", []string{"--config", broken, "--listen", "127.0.0.1:0", "--mode", "production"}, `capabilities.credentials: provider "static-users" is not loaded`},
		{"production with a typo", []string{"--config", broken, "--listen", "127.0.0.1:0", "--mode", "production"}, `did you mean "builtin"`},
	}
	for _, c := range cases {
		args := append([]string{"serve", "--config", "../../examples/authhost.yaml", "--plugins-dir", t.TempDir(), "--data-dir", t.TempDir()}, c.args...)
		start := time.Now()
		err := run(context.Background(), args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want containing %q", c.name, err, c.want)
		}
		t.Logf("%s: refused after %v", c.name, time.Since(start))
	}
}

// TestBackupRestoreKeepsSessions backs up a stopped server's data dir,
// restores it into a new one, and signs in there with the old cookie.
func TestBackupRestoreKeepsSessions(t *testing.T) {
	t.Parallel()
	plugins := wasmbuild.Dir(t, "../../examples/static-users")
	dataA, dataB := t.TempDir(), filepath.Join(t.TempDir(), "restored")
	base, _, stop := startServeStoppable(t, plugins, "--data-dir", dataA)
	req, _ := http.NewRequest("POST", base+"/api/auth/credentials/sign-in", strings.NewReader(`{"email":"admin@example.com","password":"authhost-demo"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", base)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookies := resp.Cookies()
	if resp.StatusCode != http.StatusOK || len(cookies) == 0 {
		t.Fatalf("sign-in = %d with %d cookies", resp.StatusCode, len(cookies))
	}

	backup := filepath.Join(t.TempDir(), "authhost.backup")
	if err := run(context.Background(), []string{"backup", "--data-dir", dataA, "--out", backup}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "in use by a running server") {
		t.Fatalf("backup while the server runs: %v", err)
	}
	stop()
	if err := run(context.Background(), []string{"backup", "--data-dir", dataA, "--out", backup}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"backup", "--data-dir", dataA, "--out", backup}, io.Discard, io.Discard); err == nil {
		t.Fatal("backup overwrote an existing file")
	}
	if err := run(context.Background(), []string{"restore", backup, "--data-dir", dataB}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"restore", backup, "--data-dir", dataB}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "already holds data") {
		t.Fatalf("second restore: %v", err)
	}

	baseB, _ := startServe(t, plugins, "--data-dir", dataB)
	req, _ = http.NewRequest("GET", baseB+"/api/auth/me", nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "admin@example.com") {
		t.Fatalf("/me on the restored server = %d %s", resp.StatusCode, body)
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
	bad += "\nlicense: none  # production starts without a license; the plugin config is what fails\n"
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
