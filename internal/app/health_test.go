package app

import (
	"errors"
	"strings"
	"testing"

	"github.com/authhost/authhost/host"
	"github.com/authhost/authhost/internal/config"
)

func TestAssess(t *testing.T) {
	t.Parallel()
	cfg := config.Defaults()
	cfg.Caps = map[string]config.StrList{"credentials": {"static-users"}, "rbac": {"bultin"}, "sso": {"okta"}}
	cfg.Plugins = map[string]config.Plugin{
		"static-users": {},
		"cloud":        {}, // configured, not selected, absent
		"spare":        {Optional: true},
	}
	corrupt := &host.LoadError{File: "/p/static-users.wasm", Err: errors.New("/p/static-users.wasm: not a WebAssembly module")}
	stray := &host.LoadError{File: "/p/stray.wasm", Err: errors.New("/p/stray.wasm: describe: deadline exceeded")}
	strayNamed := &host.LoadError{File: "/p/x.wasm", Name: "other", Err: errors.New("/p/x.wasm: name clash")}
	missing := []error{
		&missingProvider{capability: "credentials", name: "static-users"},
		&missingProvider{capability: "rbac", name: "bultin"},
		&missingProvider{capability: "sso", name: "okta"},
	}
	h := assess(cfg, map[string]bool{}, []error{corrupt, stray, strayNamed, errors.New("host: plugins dir: no such file")}, missing)

	want := []string{
		"host: plugins dir: no such file",
		`capabilities.credentials: provider "static-users" is not loaded: /p/static-users.wasm: not a WebAssembly module`,
		`capabilities.rbac: provider "bultin" is not loaded (did you mean "builtin"?)`,
		`capabilities.sso: provider "okta" is not loaded`,
		`configured plugin "cloud" is not loaded`,
	}
	if strings.Join(h.problems, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(h.problems, "\n"), strings.Join(want, "\n"))
	}
	if len(h.degraded) != 2 || h.degraded[0].File != "stray.wasm" || !strings.Contains(h.degraded[0].Error, "stray.wasm") || !strings.Contains(h.degraded[1].Error, "name clash") {
		t.Errorf("degraded = %+v", h.degraded)
	}
	if ok, _ := h.readiness()(); ok {
		t.Error("ready with problems")
	}

	// Only a stray file failing: ready, reported as degraded.
	h = assess(config.Defaults(), map[string]bool{}, []error{stray}, nil)
	if ok, problems := h.readiness()(); !ok || len(h.degraded) != 1 {
		t.Errorf("a stray file made the server unready: %v %v", problems, h.degraded)
	}
}

func TestDidYouMean(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"bultin": "builtin", "Builtin": "builtin", "buildin": "builtin", "non": "none", "nome": "none", "workos": "", "builtin": "", "okta": ""} {
		if got := didYouMean(in); got != want {
			t.Errorf("didYouMean(%q) = %q, want %q", in, got, want)
		}
	}
}
