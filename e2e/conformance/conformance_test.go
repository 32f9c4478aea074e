// Package conformance runs `authhost conformance` (internal/conformance)
// against the first-party providers with their test peers: cloud with
// the OIDC provider, betterauth with a real Better Auth server, workos with
// the WorkOS emulator, and the AssemblyScript example (as-users). Every
// case must pass.
package conformance

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authhost/authhost/internal/config"
	"github.com/authhost/authhost/internal/conformance"
	"github.com/authhost/authhost/internal/testenv/ascbuild"
	"github.com/authhost/authhost/internal/testenv/authhostenv"
	"github.com/authhost/authhost/internal/testenv/betterauth"
	"github.com/authhost/authhost/internal/testenv/oidc"
	"github.com/authhost/authhost/internal/testenv/wasmbuild"
	"github.com/authhost/authhost/internal/testenv/workos"
)

// run runs conformance on the provider built from pluginDir with cfg as its
// plugins entry, and fails t for every failed case; it returns the names
// of the cases run.
func run(t *testing.T, pluginDir, name string, cfg config.Plugin) map[string]bool {
	t.Helper()
	return runWasm(t, wasmbuild.Build(t, filepath.Join(authhostenv.RepoRoot(), pluginDir)), name, cfg)
}

// runWasm is run for an already built module.
func runWasm(t *testing.T, wasm, name string, cfg config.Plugin) map[string]bool {
	t.Helper()
	ran := map[string]bool{}
	conformance.Run(t.Context(), conformance.Options{File: wasm, Plugins: map[string]config.Plugin{name: cfg}}, func(r conformance.Result) {
		ran[r.Case] = true
		if !r.Pass {
			t.Errorf("FAIL %s\n    %s", r.Case, strings.Join(r.Failures, "\n    "))
		}
	})
	return ran
}

func host(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Hostname()
}

func wantCases(t *testing.T, ran map[string]bool, names ...string) {
	t.Helper()
	for _, n := range names {
		if !ran[n] {
			t.Errorf("case %s did not run (ran %v)", n, ran)
		}
	}
}

func TestCloud(t *testing.T) {
	t.Parallel()
	op := oidc.New(t)
	ran := run(t, "plugins/cloud", "cloud", config.Plugin{
		AllowedHosts: []string{host(t, op.Issuer)}, AllowPrivateNetworks: true,
		Config: map[string]any{"issuer": op.Issuer, "client_id": op.ClientID, "client_secret": op.ClientSecret,
			"scopes": []string{"openid", "profile", "email", "offline_access"}},
	})
	wantCases(t, ran, "abi/load", "abi/envelope/sso_callback", "capabilities/sso/LoginURL", "capabilities/sso/CallbackBadCode",
		"capabilities/session/UnknownSession", "abi/no-trap")
}

func TestWorkOS(t *testing.T) {
	t.Parallel()
	emu := workos.Start(t)
	ran := run(t, "plugins/workos", "workos", config.Plugin{
		AllowedHosts: []string{host(t, emu.URL)}, AllowPrivateNetworks: true,
		Config: map[string]any{"api_key": emu.APIKey, "client_id": emu.ClientID, "endpoint": emu.URL, "organization_id": "org_conformance",
			"webhook_secret": "whsec_conformance"},
	})
	wantCases(t, ran, "abi/load", "abi/envelope/webhook_handle", "capabilities/sso/LoginURL", "capabilities/sso/CallbackBadCode",
		"capabilities/session/UnknownSession", "abi/no-trap")
}

func TestBetterAuth(t *testing.T) {
	t.Parallel()
	peer := betterauth.Start(t)
	ran := run(t, "plugins/betterauth", "betterauth", config.Plugin{
		AllowedHosts: []string{host(t, peer.URL)}, AllowPrivateNetworks: true,
		Config: map[string]any{"base_url": peer.URL},
	})
	wantCases(t, ran, "abi/load", "capabilities/credentials/SignUp", "capabilities/credentials/SignInFailuresAlike",
		"capabilities/credentials/SignInLookalikes", "capabilities/user/GetKnown", "capabilities/session/UnknownSession", "abi/no-trap")
}

// TestASUsers: the AssemblyScript provider, written from SPEC.md with the
// published as-pdk, passes the same checks as the Go ones.
func TestASUsers(t *testing.T) {
	t.Parallel()
	entry := filepath.Join(authhostenv.RepoRoot(), "examples", "as-users", "assembly", "index.ts")
	wasm := ascbuild.Build(t, entry, "-O2", "--exportStart", "_initialize")
	ran := runWasm(t, wasm, "as-users", config.Plugin{Config: map[string]any{
		"allow_sign_up": true, "default_role": "viewer", "min_password_length": 8, "argon2_memory_kib": 64, "argon2_time": 1,
	}})
	wantCases(t, ran, "abi/load", "abi/describe", "capabilities/credentials/SignUp", "capabilities/credentials/SignInFailuresAlike",
		"capabilities/credentials/SignInLookalikes", "capabilities/user/GetKnown", "abi/no-trap")
}
