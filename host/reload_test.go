package host

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func fileSHA256(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestReloadReplace: what each change of the plugins directory does to
// the current plugin set, to the plugins handed back as superseded, and to
// the previous version.
func TestReloadReplace(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// change edits the plugins dir holding echo.wasm.
		change func(t *testing.T, dir string)
		// wantNew: echo is a new generation; wantGone: echo is unloaded;
		// else the previous echo keeps serving.
		wantNew, wantGone bool
		wantFailure       string // in LoadFailures()[echo.wasm]
	}{
		{name: "same file rewritten", change: func(t *testing.T, dir string) {
			copyWasm(t, wasmPath(t, "echo"), filepath.Join(dir, "echo.wasm"))
		}, wantNew: true},
		{name: "half-written", change: func(t *testing.T, dir string) {
			b, err := os.ReadFile(wasmPath(t, "echo"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "echo.wasm"), b[:len(b)/2], 0o644); err != nil {
				t.Fatal(err)
			}
		}, wantFailure: "echo.wasm"},
		{name: "empty", change: func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "echo.wasm"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}, wantFailure: "echo.wasm"},
		{name: "not wasm", change: func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "echo.wasm"), []byte("\x00asn\x01\x00\x00\x00garbage"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, wantFailure: "echo.wasm"},
		{name: "removed", change: func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "echo.wasm")); err != nil {
				t.Fatal(err)
			}
		}, wantGone: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, errs := newFixture(t, nil, "echo")
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			old := f.plugin(t, "echo")
			if old.Generation() != 1 || len(old.SHA256()) != 64 || old.LoadedAt().IsZero() {
				t.Fatalf("first load: generation %d sha256 %q loaded %v", old.Generation(), old.SHA256(), old.LoadedAt())
			}
			tc.change(t, f.m.cfg.PluginsDir)
			plugins, superseded, errs := f.m.Reload(ctx)
			cur := f.m.Plugin("echo")
			switch {
			case tc.wantGone:
				if cur != nil || len(plugins) != 0 || len(superseded) != 1 || superseded[0] != old {
					t.Fatalf("removed: current %v, plugins %d, superseded %v", cur, len(plugins), superseded)
				}
			case tc.wantNew:
				if cur == nil || cur == old || cur.Generation() != 2 || len(superseded) != 1 || superseded[0] != old || len(errs) > 0 {
					t.Fatalf("replaced: current %v, superseded %v, errs %v", cur, superseded, errs)
				}
				if cur.SHA256() != old.SHA256() {
					t.Errorf("same bytes, different sha256: %s %s", cur.SHA256(), old.SHA256())
				}
			default:
				if cur != old || len(superseded) != 0 || len(errs) != 1 {
					t.Fatalf("failed replacement: current is old %v, superseded %v, errs %v", cur == old, superseded, errs)
				}
				if err := callNoop(old); err != nil {
					t.Fatalf("previous version stopped serving: %v", err)
				}
				if e := f.m.LoadFailures()[filepath.Join(f.m.cfg.PluginsDir, tc.wantFailure)]; e == nil {
					t.Errorf("load failures = %v", f.m.LoadFailures())
				}
				if recs := f.logs.find("plugin replacement failed to load: the previous version keeps serving"); len(recs) != 1 || recs[0].Level != slog.LevelError {
					t.Errorf("not logged at error: %v", recs)
				}
				return
			}
			// Superseded: still serving until released, closed after.
			if err := callNoop(old); err != nil {
				t.Fatalf("superseded plugin before release: %v", err)
			}
			f.m.Release(old)
			f.m.Release(old) // twice is harmless
			if err := callNoop(old); !errors.Is(err, ErrClosed) {
				t.Fatalf("superseded plugin after release: %v", err)
			}
			if cur != nil {
				if err := callNoop(cur); err != nil {
					t.Fatalf("new plugin: %v", err)
				}
				f.m.Release(cur) // current: not released
				if err := callNoop(cur); err != nil {
					t.Fatalf("current plugin after a stray release: %v", err)
				}
			}
		})
	}
}

// TestReloadPin: plugins.<name>.sha256 refuses any other file, whatever
// the case of the digest; malformed digests are refused by the config.
func TestReloadPin(t *testing.T) {
	t.Parallel()
	good := fileSHA256(t, wasmPath(t, "echo"))
	other := strings.Repeat("0", 64)
	cases := []struct {
		name, pin string
		wantLoad  bool
		wantCfg   bool // the config itself is refused
	}{
		{name: "match", pin: good, wantLoad: true},
		{name: "match upper", pin: strings.ToUpper(good), wantLoad: true},
		{name: "other", pin: other},
		{name: "short", pin: good[:63], wantCfg: true},
		{name: "fullwidth digit", pin: good[:63] + "０", wantCfg: true},
		{name: "nul", pin: good[:63] + "\x00", wantCfg: true},
		{name: "space", pin: " " + good, wantCfg: true},
		{name: "null word", pin: "null", wantCfg: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mutate := func(c *Config) { c.Plugins["echo"] = PluginConfig{SHA256: tc.pin} }
			if tc.wantCfg {
				cfg := Config{PluginsDir: t.TempDir(), Plugins: map[string]PluginConfig{"echo": {SHA256: tc.pin}}}
				if _, err := cfg.normalize(); err == nil || !strings.Contains(err.Error(), "SHA256") {
					t.Fatalf("config accepted a malformed pin: %v", err)
				}
				return
			}
			f, errs := newFixture(t, mutate, "echo")
			loaded := f.m.Plugin("echo") != nil
			if loaded != tc.wantLoad {
				t.Fatalf("loaded = %v, errs %v", loaded, errs)
			}
			if !tc.wantLoad && (len(errs) != 1 || !strings.Contains(errs[0].Error(), "does not match plugins.echo.sha256")) {
				t.Errorf("errs = %v", errs)
			}
		})
	}
}

// TestReloadConcurrent: concurrent reloads are serialized: each one is a
// generation of its own, every superseded plugin is handed out exactly
// once.
func TestReloadConcurrent(t *testing.T) {
	t.Parallel()
	f, errs := newFixture(t, nil, "echo", "echob")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	const n = 8
	var mu sync.Mutex
	seen := map[*Plugin]int{}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, superseded, errs := f.m.Reload(ctx)
			if len(errs) > 0 {
				t.Error(errs)
			}
			mu.Lock()
			for _, p := range superseded {
				seen[p]++
			}
			mu.Unlock()
			for _, p := range superseded {
				f.m.Release(p)
			}
		}()
	}
	wg.Wait()
	if g := f.plugin(t, "echo").Generation(); g != n+1 {
		t.Errorf("generation = %d, want %d", g, n+1)
	}
	if len(seen) != 2*n {
		t.Errorf("%d superseded plugins, want %d", len(seen), 2*n)
	}
	for p, c := range seen {
		if c != 1 {
			t.Errorf("%s gen %d superseded %d times", p.Name(), p.Generation(), c)
		}
	}
	if err := callNoop(f.plugin(t, "echob")); err != nil {
		t.Error(err)
	}
}
