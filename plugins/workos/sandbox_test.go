//go:build !wasip1

package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"os"
	"testing"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/host"
	"github.com/authhost/authhost/internal/testenv/wasmbuild"
	"github.com/authhost/authhost/store/memory"
)

// TestSandboxSSOFlow runs the compiled plugin in the real host (wazero,
// http_do with the allow-list, KV in the store) against the emulator.
func TestSandboxSSOFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the wasm plugin")
	}
	f := setup(t, nil) // native env only seeds the emulator and reuses its helpers
	u, _ := url.Parse(f.emu.URL)
	cfg, _ := json.Marshal(f.cfg)
	m, err := host.New(host.Config{
		PluginsDir: wasmbuild.Dir(t, "."),
		Store:      memory.New(memory.Options{}),
		Logger:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Plugins: map[string]host.PluginConfig{
			"workos": {Config: cfg, AllowedHosts: []string{u.Hostname()}, AllowPrivateNetworks: true},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	ctx := context.Background()
	if _, errs := m.Load(ctx); len(errs) > 0 {
		t.Fatalf("load: %v", errs)
	}
	p := m.Plugin("workos")
	if p == nil {
		t.Fatal("plugin workos not loaded")
	}

	verifier, challenge := pkce()
	var lu abi.URLResult
	if err := p.Call(ctx, abi.ExportSSOLoginURL, abi.SSOLoginURLRequest{
		RedirectURI: redirect, State: "st", CodeChallenge: challenge, CodeChallengeMethod: "S256",
	}, &lu); err != nil {
		t.Fatalf("sso_login_url: %v", err)
	}
	code := browserLogin(t, f, lu.URL, f.user.Email)
	var cb abi.SSOCallbackResult
	if err := p.Call(ctx, abi.ExportSSOCallback, abi.SSOCallbackRequest{Code: code, State: "st", CodeVerifier: verifier, RedirectURI: redirect}, &cb); err != nil {
		t.Fatalf("sso_callback: %v", err)
	}
	if cb.User.ID != f.user.ID || len(cb.SetCookie) != 1 {
		t.Fatalf("callback %+v", cb)
	}
	var cur abi.UserResult
	if err := p.Call(ctx, abi.ExportUserCurrent, abi.UserCurrentRequest{Request: cookieReq(cb)}, &cur); err != nil || cur.User == nil || cur.User.ID != f.user.ID {
		t.Fatalf("user_current: %+v %v", cur.User, err)
	}
	var sr abi.SessionResult
	if err := p.Call(ctx, abi.ExportSessionRefresh, abi.SessionIDRequest{SessionID: sessionID(cb)}, &sr); err != nil || sr.Session == nil {
		t.Fatalf("session_refresh: %+v %v", sr.Session, err)
	}
	f.emu.FailNext("/user_management/users/", 500, 1)
	if err := p.Call(ctx, abi.ExportUserGet, abi.UserGetRequest{ID: f.user.ID}, &cur); auth.CodeOf(err) != auth.CodeUnavailable {
		t.Fatalf("500 in sandbox: %v", err)
	}
	// The instance survived the error.
	if err := p.Call(ctx, abi.ExportUserGet, abi.UserGetRequest{ID: f.user.ID}, &cur); err != nil || cur.User == nil {
		t.Fatalf("user_get after error: %+v %v", cur.User, err)
	}
}
