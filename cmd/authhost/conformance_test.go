package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authhost/authhost/internal/conformance"
	"github.com/authhost/authhost/internal/testenv/wasmbuild"
	"github.com/authhost/authhost/internal/wasmenv"
)

// conformanceCache is the compilation cache the conformance tests share.
var conformanceCache = filepath.Join(os.TempDir(), "authhost-cmd-test-cache")

// writeBrokenConfig writes an authhost config selecting defect of the
// broken test provider.
func writeBrokenConfig(t *testing.T, defect string) string {
	t.Helper()
	cfg, _ := json.Marshal(map[string]any{"plugins": map[string]any{"broken": map[string]any{"config": map[string]string{"defect": defect}}}})
	path := filepath.Join(t.TempDir(), "authhost.json")
	if err := os.WriteFile(path, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// staticUsersConfig is the quick-start config with a call timeout that a
// loaded machine cannot exceed (argon2id in Wasm, with the whole suite
// running on two cores, took more than the quick start's 5 s).
func staticUsersConfig(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../../examples/authhost.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(raw), "timeout_ms: 5000", "timeout_ms: 120000", 1)
	if cfg == string(raw) {
		t.Fatal("examples/authhost.yaml: no timeout_ms: 5000 to raise")
	}
	path := filepath.Join(t.TempDir(), "authhost.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestConformanceCatchesBrokenProviders feeds deliberately broken
// providers to `authhost conformance` and checks that each defect fails
// the case named for it (and that the same provider without a defect
// passes).
func TestConformanceCatchesBrokenProviders(t *testing.T) {
	t.Parallel()
	wasm := wasmbuild.Build(t, "testdata/broken")
	noexport := wasmbuild.Build(t, "../../host/testdata/plugins/noexport")
	cases := []struct {
		defect string
		failed []string // case names that must fail; none: must pass
		says   string   // text the failure must show
	}{
		{"", nil, ""},
		{"missing_export", []string{"abi/load"}, "sso_callback"}, // host/testdata/plugins/noexport
		{"bad_envelope", []string{"abi/envelope/user_get", "capabilities/credentials/SignIn"}, `envelope has unknown field`},
		{"wrong_code", []string{"capabilities/credentials/SignInFailuresAlike"}, "want invalid_credentials"},
		{"trap", []string{"capabilities/credentials/SignInFailuresAlike", "abi/no-trap"}, "credentials_sign_in (failure)"},
		{"enumeration", []string{"capabilities/credentials/SignInFailuresAlike"}, "reveals which accounts exist"},
		{"implements_lying", []string{"abi/implements"}, "lists credentials_password_reset_request but it answers not_supported"},
	}
	for _, tc := range cases {
		t.Run("defect="+tc.defect, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			args := []string{"conformance", "--cache-dir", conformanceCache, "--config", writeBrokenConfig(t, tc.defect),
				"--user", "ada@example.com", "--password", "correct horse", wasm}
			if tc.defect == "missing_export" {
				args[len(args)-1] = noexport
			}
			err := run(context.Background(), args, &out, io.Discard)
			if tc.failed == nil {
				if err != nil {
					t.Fatalf("correct provider failed: %v\n%s", err, out.String())
				}
				return
			}
			if !errors.Is(err, errConformance) {
				t.Fatalf("err = %v, want errConformance\n%s", err, out.String())
			}
			for _, name := range tc.failed {
				if !strings.Contains(out.String(), "FAIL "+name+"\n") {
					t.Errorf("case %s did not fail:\n%s", name, out.String())
				}
			}
			if !strings.Contains(out.String(), tc.says) || !strings.Contains(out.String(), "SPEC.md §") {
				t.Errorf("output lacks %q or a SPEC.md section:\n%s", tc.says, out.String())
			}
		})
	}
}

// TestConformanceStaticUsers runs conformance, in JSON, against the
// example provider with the quick-start config: every case passes and
// the credentials suite signs up and in.
func TestConformanceStaticUsers(t *testing.T) {
	t.Parallel()
	wasm := wasmbuild.Build(t, "../../examples/static-users")
	var out bytes.Buffer
	err := run(context.Background(), []string{"conformance", "--json", "--cache-dir", conformanceCache, "--config", staticUsersConfig(t), wasm}, &out, io.Discard)
	if err != nil {
		t.Fatalf("conformance: %v\n%s", err, out.String())
	}
	seen := map[string]bool{}
	dec := json.NewDecoder(&out)
	for dec.More() {
		var r conformance.Result
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		seen[r.Case] = r.Pass
	}
	for _, name := range []string{"abi/load", "abi/implements", "abi/envelope/credentials_sign_in", "capabilities/credentials/SignUp",
		"capabilities/credentials/SignInFailuresAlike", "capabilities/user/GetKnown", "capabilities/rbac/RolesAndPermissions", "abi/no-trap"} {
		if !seen[name] {
			t.Errorf("case %s missing or failed: %v", name, seen)
		}
	}
}

// TestCall runs one export of static-users with its config and checks
// that the envelope and the host function traffic (KV, log) are printed,
// and that a bad export or input is an error.
func TestCall(t *testing.T) {
	t.Parallel()
	wasm := wasmbuild.Build(t, "../../examples/static-users")
	cfg := staticUsersConfig(t)
	var out bytes.Buffer
	err := run(context.Background(), []string{"call", "--cache-dir", conformanceCache, "--config", cfg, wasm,
		"credentials_sign_up", `{"email":"call@example.com","password":"long-enough-1"}`}, &out, io.Discard)
	if err != nil {
		t.Fatalf("call: %v\n%s", err, out.String())
	}
	for _, want := range []string{`host kv_get {"key":"user/email/call@example.com"} -> {"ok":true,"data":{"found":false}}`, "host kv_set ", "host log ", `"ok": true`, `"email": "call@example.com"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := run(context.Background(), []string{"call", "--cache-dir", conformanceCache, "--config", cfg, wasm, "credentials_sign_in", `{"email":"nobody@example.com","password":"x"}`}, &out, io.Discard); err != nil {
		t.Fatalf("failed envelope is not a command error: %v", err)
	}
	if !strings.Contains(out.String(), `"code": "invalid_credentials"`) {
		t.Errorf("failed envelope not printed:\n%s", out.String())
	}
	if err := run(context.Background(), []string{"call", "--cache-dir", conformanceCache, wasm, "no_such_export"}, io.Discard, io.Discard); err == nil {
		t.Error("call of a missing export succeeded")
	}
	var ue usageError
	if err := run(context.Background(), []string{"call", wasm}, io.Discard, io.Discard); !errors.As(err, &ue) {
		t.Errorf("call without export: err = %v, want a usage error", err)
	}
}

// TestNewProviderPassesConformance scaffolds a provider the way
// `go tool task new-provider` does, runs its own pdktest unit test, builds
// it to Wasm and runs conformance on it with the config it came with. The
// time taken is logged (target: 2 minutes on a warm cache), not asserted.
func TestNewProviderPassesConformance(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and tests a scaffolded provider (-short)")
	}
	start := time.Now()
	// Inside the module (testdata is outside ./...), so it builds against
	// this checkout's pdk without a go.mod of its own.
	dir, err := os.MkdirTemp("testdata", "scaffold-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	pkgDir := filepath.Join(dir, "hello")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"new-provider", "--dir", pkgDir, "hello"}, &out, io.Discard); err != nil {
		t.Fatalf("new-provider: %v", err)
	}
	if err := run(context.Background(), []string{"new-provider", "--dir", pkgDir, "hello"}, io.Discard, io.Discard); err == nil {
		t.Error("new-provider over an existing provider succeeded")
	}
	goCmd := func(env []string, args ...string) {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Env = append(os.Environ(), env...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, b)
		}
	}
	goCmd(nil, "vet", "./"+pkgDir)
	goCmd(nil, "test", "-count=1", "./"+pkgDir)
	wasm := filepath.Join(dir, "hello.wasm")
	goCmd(wasmenv.Env(), wasmenv.BuildArgs("./"+pkgDir, wasm)...)
	out.Reset()
	err = run(context.Background(), []string{"conformance", "--cache-dir", conformanceCache, "--config", filepath.Join(pkgDir, "authhost.yaml"), wasm}, &out, io.Discard)
	if err != nil {
		t.Fatalf("conformance of the scaffold: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "PASS capabilities/credentials/SignInFailuresAlike") {
		t.Errorf("credentials suite did not run:\n%s", out.String())
	}
	t.Logf("scaffold to a passing conformance run in %s", time.Since(start).Round(time.Second))
}
