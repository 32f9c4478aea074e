package app

import (
	"bytes"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"testing"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/internal/config"
)

func TestSelected(t *testing.T) {
	cfg := config.Config{Caps: map[string]config.StrList{
		"user":        {"static-users"},
		"credentials": {"static-users"},
		"session":     {"builtin"},
		"sso":         {"none"},
		"audit":       {"builtin", "workos"},
		"acl":         {"none"},
	}}
	sel := selected(cfg)
	tests := []struct {
		name string
		caps []abi.Capability
		want bool
	}{
		{"static-users", []abi.Capability{abi.CapUser}, true},
		{"workos", []abi.Capability{abi.CapAudit}, true}, // second of a list
		{"cloud", []abi.Capability{abi.CapSSO, abi.CapUser, abi.CapSession}, false},
		{"betterauth", []abi.Capability{abi.CapCredentials}, false},
		{"stаtic-users", []abi.Capability{abi.CapUser}, false},     // Cyrillic а
		{"static-users\x00", []abi.Capability{abi.CapUser}, false}, // NUL
		{"ＳＴＡＴＩＣ-users", []abi.Capability{abi.CapUser}, false},     // fullwidth
		{"builtin", nil, true}, // named, harmless
		{"null", []abi.Capability{abi.CapSSO}, false},
		// rbac is left unset: the default may pick any rbac provider.
		{"cloud", []abi.Capability{abi.CapSSO, abi.CapRBAC}, true},
		// webhook is not composed: leaving it unset selects nothing.
		{"other", []abi.Capability{abi.CapSSO, abi.CapWebhook}, false},
	}
	for _, tt := range tests {
		if got := sel(tt.name, tt.caps); got != tt.want {
			t.Errorf("selected(%q, %v) = %v, want %v", tt.name, tt.caps, got, tt.want)
		}
	}
}

func TestApplyMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	log := slog.New(slog.DiscardHandler)
	tests := []struct {
		mib  int
		env  string
		want int64
	}{
		{0, "", config.DefaultMemoryLimitMiB << 20},
		{96, "", 96 << 20},
		{-1, "", math.MaxInt64},   // off
		{96, "200MiB", 200 << 20}, // the environment wins
	}
	for _, tt := range tests {
		t.Setenv("GOMEMLIMIT", tt.env)
		if tt.env != "" {
			debug.SetMemoryLimit(tt.want) // what the runtime parsed at start
		}
		got := applyMemoryLimit(config.Config{MemoryLimitMiB: tt.mib}, log)
		if got != tt.want || debug.SetMemoryLimit(-1) != tt.want {
			t.Errorf("memory_limit_mib %d, GOMEMLIMIT %q: limit %d (runtime %d), want %d", tt.mib, tt.env, got, debug.SetMemoryLimit(-1), tt.want)
		}
	}
}

func TestCacheDir(t *testing.T) {
	data := t.TempDir()
	if got := cacheDir(config.Config{CacheDir: "/x", DataDir: data}); got != "/x" {
		t.Errorf("cache_dir set: %q", got)
	}
	home := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", home)
	if got, want := cacheDir(config.Config{DataDir: data}), filepath.Join(home, "authhost", "wasm"); got != want {
		t.Errorf("default: %q, want %q", got, want)
	}
	// No usable user cache dir: a file where the directory would go.
	blocked := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocked, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_CACHE_HOME", blocked)
	if got, want := cacheDir(config.Config{DataDir: data}), filepath.Join(data, "wasm-cache"); got != want {
		t.Errorf("fallback: %q, want %q", got, want)
	}
}

func TestPruneCache(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	files := []struct {
		name string
		size int
		age  time.Duration
	}{
		{"wazero-v1.8.0-amd64-linux/old", 300, 72 * time.Hour},
		{"wazero-v1.9.0-amd64-linux/mid", 300, 48 * time.Hour},
		{"wazero-v1.9.0-amd64-linux/new", 300, time.Hour},
		{"wazero-v1.9.0-amd64-linux/newest", 300, 0},
	}
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, bytes.Repeat([]byte{1}, f.size), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-f.age), now.Add(-f.age)); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.DiscardHandler)
	tests := []struct {
		max  int64
		want int64
		kept []string
	}{
		{2000, 1200, []string{"old", "mid", "new", "newest"}},
		{700, 600, []string{"new", "newest"}},
		{300, 300, []string{"newest"}},
		{0, 0, nil},
	}
	for _, tt := range tests {
		if got := pruneCache(dir, tt.max, log); got != tt.want {
			t.Errorf("max %d: %d bytes left, want %d", tt.max, got, tt.want)
		}
		for _, f := range files {
			_, err := os.Stat(filepath.Join(dir, f.name))
			kept := err == nil
			if want := slices.Contains(tt.kept, filepath.Base(f.name)); kept != want {
				t.Errorf("max %d: %s kept=%v, want %v", tt.max, f.name, kept, want)
			}
		}
	}
	if got := pruneCache(filepath.Join(dir, "absent"), 0, log); got != 0 {
		t.Errorf("absent dir: %d", got)
	}
}
