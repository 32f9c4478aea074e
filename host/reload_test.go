package host

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authhost/authhost/abi"
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

// withCustomSection returns wasm with a custom section appended: another
// build of the same provider, valid, with another sha256.
func withCustomSection(wasm []byte, note string) []byte {
	name := "authhost-test"
	payload := append([]byte{byte(len(name))}, name...)
	payload = append(payload, note...)
	out := append([]byte{0}, byte(len(payload))) // custom section id, size (< 128)
	return append(append(slices.Clone(wasm), out...), payload...)
}

// writeFileAtomicT writes b to path through a temporary file renamed over
// it, as a deploy does.
func writeFileAtomicT(t testing.TB, path string, b []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestReloadReplace: what each change of the plugins directory or of the
// settings does to each plugin (kept as the same object with the same
// pool, loaded anew, unloaded, or kept serving after a failed
// replacement), to the plugins handed back as superseded, and to the log.
func TestReloadReplace(t *testing.T) {
	t.Parallel()
	const (
		kept   = "kept"   // the same *Plugin, pool, generation and loadedAt
		fresh  = "new"    // a new *Plugin of generation 2
		gone   = "gone"   // unloaded, superseded
		failed = "failed" // the previous version keeps serving, with a load error
	)
	read := func(t *testing.T, path string) []byte {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name string
		// change edits the plugins dir (holding echo.wasm and echob.wasm)
		// and the manager's settings before the reload.
		change func(t *testing.T, m *Manager, dir string)
		want   map[string]string // echo, echob → kept, new, gone, failed
		added  string            // a provider that appears, at generation 2
	}{
		{name: "nothing changed", change: func(*testing.T, *Manager, string) {},
			want: map[string]string{"echo": kept, "echob": kept}},
		{name: "same bytes rewritten", change: func(t *testing.T, _ *Manager, dir string) {
			writeFileAtomicT(t, filepath.Join(dir, "echo.wasm"), read(t, wasmPath(t, "echo")))
		}, want: map[string]string{"echo": kept, "echob": kept}},
		{name: "bytes changed", change: func(t *testing.T, _ *Manager, dir string) {
			writeFileAtomicT(t, filepath.Join(dir, "echo.wasm"), withCustomSection(read(t, wasmPath(t, "echo")), "b"))
		}, want: map[string]string{"echo": fresh, "echob": kept}},
		{name: "config of this plugin changed", change: func(t *testing.T, m *Manager, _ string) {
			setPluginConfigs(t, m, map[string]PluginConfig{"echo": {Config: json.RawMessage(`{"a":1}`)}})
		}, want: map[string]string{"echo": fresh, "echob": kept}},
		{name: "limits of this plugin changed", change: func(t *testing.T, m *Manager, _ string) {
			setPluginConfigs(t, m, map[string]PluginConfig{"echo": {Limits: Limits{PoolSize: 7}}})
		}, want: map[string]string{"echo": fresh, "echob": kept}},
		{name: "egress of this plugin changed", change: func(t *testing.T, m *Manager, _ string) {
			setPluginConfigs(t, m, map[string]PluginConfig{"echo": {AllowedHosts: []string{"example.com"}}})
		}, want: map[string]string{"echo": fresh, "echob": kept}},
		{name: "session cache cap of this plugin changed", change: func(t *testing.T, m *Manager, _ string) {
			zero := 0
			setPluginConfigs(t, m, map[string]PluginConfig{"echo": {SessionCacheSeconds: &zero}})
		}, want: map[string]string{"echo": fresh, "echob": kept}},
		{name: "config of another plugin changed", change: func(t *testing.T, m *Manager, _ string) {
			setPluginConfigs(t, m, map[string]PluginConfig{"echob": {Config: json.RawMessage(`{"a":1}`)}})
		}, want: map[string]string{"echo": kept, "echob": fresh}},
		{name: "config of an absent plugin changed", change: func(t *testing.T, m *Manager, _ string) {
			setPluginConfigs(t, m, map[string]PluginConfig{"workos": {Config: json.RawMessage(`{"a":1}`)}})
		}, want: map[string]string{"echo": kept, "echob": kept}},
		{name: "empty config entry equals the defaults", change: func(t *testing.T, m *Manager, _ string) {
			setPluginConfigs(t, m, map[string]PluginConfig{"echo": {}})
		}, want: map[string]string{"echo": kept, "echob": kept}},
		{name: "selection changed", change: func(_ *testing.T, m *Manager, _ string) {
			m.SetSelected(func(name string, _ []abi.Capability) bool { return name != "echo" })
		}, want: map[string]string{"echo": fresh, "echob": kept}},
		{name: "removed", change: func(t *testing.T, _ *Manager, dir string) {
			if err := os.Remove(filepath.Join(dir, "echo.wasm")); err != nil {
				t.Fatal(err)
			}
		}, want: map[string]string{"echo": gone, "echob": kept}},
		{name: "added", change: func(t *testing.T, _ *Manager, dir string) {
			copyWasm(t, wasmPath(t, "allcaps"), filepath.Join(dir, "allcaps.wasm"))
		}, want: map[string]string{"echo": kept, "echob": kept}, added: "allcaps"},
		{name: "renamed with the same bytes", change: func(t *testing.T, _ *Manager, dir string) {
			if err := os.Rename(filepath.Join(dir, "echo.wasm"), filepath.Join(dir, "echo-v2.wasm")); err != nil {
				t.Fatal(err)
			}
		}, want: map[string]string{"echo": fresh, "echob": kept}},
		{name: "half-written", change: func(t *testing.T, _ *Manager, dir string) {
			b := read(t, wasmPath(t, "echo"))
			if err := os.WriteFile(filepath.Join(dir, "echo.wasm"), b[:len(b)/2], 0o644); err != nil {
				t.Fatal(err)
			}
		}, want: map[string]string{"echo": failed, "echob": kept}},
		{name: "empty", change: func(t *testing.T, _ *Manager, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "echo.wasm"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}, want: map[string]string{"echo": failed, "echob": kept}},
		{name: "not wasm", change: func(t *testing.T, _ *Manager, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "echo.wasm"), []byte("\x00asn\x01\x00\x00\x00garbage"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, want: map[string]string{"echo": failed, "echob": kept}},
		{name: "broken config of this plugin", change: func(t *testing.T, m *Manager, _ string) {
			setPluginConfigs(t, m, map[string]PluginConfig{"echo": {SHA256: strings.Repeat("0", 64)}})
		}, want: map[string]string{"echo": failed, "echob": kept}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, errs := newFixture(t, nil, "echo", "echob")
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			old := map[string]*Plugin{"echo": f.plugin(t, "echo"), "echob": f.plugin(t, "echob")}
			loadedAt := old["echo"].LoadedAt()
			for name, p := range old {
				if p.Generation() != 1 || len(p.SHA256()) != 64 || p.LoadedAt().IsZero() {
					t.Fatalf("first load of %s: generation %d sha256 %q loaded %v", name, p.Generation(), p.SHA256(), p.LoadedAt())
				}
				if err := callNoop(p); err != nil { // a warm pool to keep
					t.Fatal(err)
				}
			}
			loadedLogs, unchangedLogs := len(f.logs.find("plugin loaded")), len(f.logs.find("plugin unchanged"))
			f.clock.Advance(time.Minute)
			tc.change(t, f.m, f.m.cfg.PluginsDir)
			plugins, superseded, errs := f.m.Reload(ctx)

			var wantSuperseded []*Plugin
			wantErrs, wantLoaded, wantUnchanged := 0, 0, 0
			for _, name := range []string{"echo", "echob"} {
				p, cur := old[name], f.m.Plugin(name)
				switch tc.want[name] {
				case kept, failed:
					if cur != p || cur.pool != p.pool || cur.Generation() != 1 || !cur.LoadedAt().Equal(loadedAt) {
						t.Errorf("%s: want the previous plugin kept (same object %v, same pool %v), generation %d, loadedAt %v",
							name, cur == p, cur != nil && cur.pool == p.pool, cur.Generation(), cur.LoadedAt())
					}
					if err := callNoop(p); err != nil {
						t.Errorf("%s: kept plugin stopped serving: %v", name, err)
					}
					if st := p.Stats(); st.InstancesCreated != 1 || st.Calls != 1+1 {
						t.Errorf("%s: kept plugin's pool was reset or warmed again: %+v", name, st)
					}
					if tc.want[name] == failed {
						wantErrs++
						if f.m.LoadFailures()[p.File()] == nil {
							t.Errorf("%s: load failures = %v", name, f.m.LoadFailures())
						}
					} else {
						wantUnchanged++
					}
				case fresh:
					wantLoaded++
					wantSuperseded = append(wantSuperseded, p)
					if cur == nil || cur == p || cur.pool == p.pool || cur.Generation() != 2 || !cur.LoadedAt().Equal(loadedAt.Add(time.Minute)) {
						t.Fatalf("%s: want a new plugin of generation 2, got %v", name, cur)
					}
					if err := callNoop(cur); err != nil {
						t.Errorf("%s: new plugin: %v", name, err)
					}
				case gone:
					wantSuperseded = append(wantSuperseded, p)
					if cur != nil {
						t.Errorf("%s: still loaded", name)
					}
				}
			}
			if tc.added != "" {
				wantLoaded++
				if p := f.m.Plugin(tc.added); p == nil || p.Generation() != 2 {
					t.Errorf("added %s: %v", tc.added, p)
				}
			}
			if len(errs) != wantErrs {
				t.Errorf("errs = %v, want %d", errs, wantErrs)
			}
			if len(plugins) != len(f.m.Plugins()) {
				t.Errorf("returned %d plugins, %d current", len(plugins), len(f.m.Plugins()))
			}
			if !sameSet(superseded, wantSuperseded) {
				t.Errorf("superseded = %v, want %v", names(superseded), names(wantSuperseded))
			}
			if n := len(f.logs.find("plugin loaded")) - loadedLogs; n != wantLoaded {
				t.Errorf("%d \"plugin loaded\" lines, want %d", n, wantLoaded)
			}
			if n := len(f.logs.find("plugin unchanged")) - unchangedLogs; n != wantUnchanged {
				t.Errorf("%d \"plugin unchanged\" lines, want %d", n, wantUnchanged)
			}
			if wantErrs > 0 {
				if recs := f.logs.find("plugin replacement failed to load: the previous version keeps serving"); len(recs) != 1 || recs[0].Level != slog.LevelError {
					t.Errorf("not logged at error: %v", recs)
				}
			}
			// Superseded: still serving until released, closed after.
			for _, p := range superseded {
				if err := callNoop(p); err != nil {
					t.Fatalf("superseded %s before release: %v", p.Name(), err)
				}
				f.m.Release(p)
				f.m.Release(p) // twice is harmless
				if err := callNoop(p); !errors.Is(err, ErrClosed) {
					t.Fatalf("superseded %s after release: %v", p.Name(), err)
				}
			}
			for _, name := range []string{"echo", "echob"} {
				p := f.m.Plugin(name)
				if p == nil {
					continue
				}
				f.m.Release(p) // current: not released
				if err := callNoop(p); err != nil {
					t.Fatalf("current %s after a stray release: %v", p.Name(), err)
				}
			}
		})
	}
}

// TestReloadRestoredFile: a file that failed to load and is then restored
// to the bytes that are serving keeps the serving plugin, and its load
// error clears; a later real change still loads anew.
func TestReloadRestoredFile(t *testing.T) {
	t.Parallel()
	f, errs := newFixture(t, nil, "echo")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	old := f.plugin(t, "echo")
	file := old.File()
	good, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, good[:len(good)/3], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, superseded, errs := f.m.Reload(ctx); len(errs) != 1 || len(superseded) != 0 || f.m.Plugin("echo") != old {
		t.Fatalf("half-written: errs %v, superseded %v", errs, superseded)
	}
	writeFileAtomicT(t, file, good)
	if _, superseded, errs := f.m.Reload(ctx); len(errs) != 0 || len(superseded) != 0 || f.m.Plugin("echo") != old || len(f.m.LoadFailures()) != 0 {
		t.Fatalf("restored: errs %v, superseded %v, failures %v", errs, superseded, f.m.LoadFailures())
	}
	writeFileAtomicT(t, file, withCustomSection(good, "b"))
	if _, superseded, errs := f.m.Reload(ctx); len(errs) != 0 || len(superseded) != 1 || superseded[0] != old || f.m.Plugin("echo").Generation() != 4 {
		t.Fatalf("replaced: errs %v, superseded %v, current %v", errs, superseded, f.m.Plugin("echo"))
	}
}

// setPluginConfigs is Manager.SetPluginConfigs, failing the test on error.
func setPluginConfigs(t *testing.T, m *Manager, pcs map[string]PluginConfig) {
	t.Helper()
	if err := m.SetPluginConfigs(pcs); err != nil {
		t.Fatal(err)
	}
}

// sameSet reports whether a and b hold the same plugins.
func sameSet(a, b []*Plugin) bool {
	if len(a) != len(b) {
		return false
	}
	in := map[*Plugin]bool{}
	for _, p := range a {
		in[p] = true
	}
	for _, p := range b {
		if !in[p] {
			return false
		}
	}
	return true
}

func names(ps []*Plugin) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = fmt.Sprintf("%s@%d", p.Name(), p.Generation())
	}
	return out
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

// TestReloadConcurrent: reloads race each other, calls, and a deploy
// that keeps replacing one file. Reloads are serialized (each is a
// generation of its own), every superseded plugin is handed out exactly
// once, the plugin whose file never changes stays the same object with
// the same pool throughout, and no call fails: a caller holds a plugin
// until its call ends, and superseded plugins are released only after.
func TestReloadConcurrent(t *testing.T) {
	t.Parallel()
	f, errs := newFixture(t, nil, "echo", "echob")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	stable := f.plugin(t, "echob")
	file := f.plugin(t, "echo").File()
	buildA, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	builds := [2][]byte{buildA, withCustomSection(buildA, "b")}

	const reloaders, reloads, callers = 4, 6, 4
	var mu sync.Mutex
	seen := map[*Plugin]int{}
	var calls, failed atomic.Int64
	stop := make(chan struct{})
	var callWG, wg sync.WaitGroup
	for range callers {
		callWG.Add(1)
		go func() {
			defer callWG.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, name := range []string{"echo", "echob"} {
					p := f.m.Plugin(name)
					if p == nil {
						failed.Add(1)
						continue
					}
					if err := callNoop(p); err != nil {
						t.Errorf("%s@%d: %v", name, p.Generation(), err)
						failed.Add(1)
					}
					calls.Add(1)
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // the deploy: replaces echo.wasm between reloads
		defer wg.Done()
		for i := range reloads {
			writeFileAtomicT(t, file, builds[(i+1)%2])
		}
	}()
	for range reloaders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range reloads {
				_, superseded, errs := f.m.Reload(ctx)
				if len(errs) > 0 {
					t.Error(errs)
				}
				mu.Lock()
				for _, p := range superseded {
					seen[p]++
				}
				mu.Unlock()
				if f.m.Plugin("echob") != stable {
					t.Error("the unchanged plugin was replaced")
				}
			}
		}()
	}
	wg.Wait()
	_, superseded, errs := f.m.Reload(ctx) // after the last write
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, p := range superseded {
		seen[p]++
	}
	close(stop)
	callWG.Wait()
	for p, c := range seen {
		if c != 1 {
			t.Errorf("%s gen %d superseded %d times", p.Name(), p.Generation(), c)
		}
		if p == stable {
			t.Error("the unchanged plugin was superseded")
		}
		f.m.Release(p)
	}
	cur := f.plugin(t, "echo")
	if cur.SHA256() != fileSHA256(t, file) {
		t.Errorf("echo serves sha256 %s, the file has %s", cur.SHA256(), fileSHA256(t, file))
	}
	if got := f.m.generation; got != reloaders*reloads+2 {
		t.Errorf("manager generation %d, want %d", got, reloaders*reloads+2)
	}
	if stable.Generation() != 1 || f.m.Plugin("echob") != stable || stable.Stats().InstancesCreated > callers+1 {
		t.Errorf("unchanged plugin: generation %d, same %v, stats %+v", stable.Generation(), f.m.Plugin("echob") == stable, stable.Stats())
	}
	if calls.Load() == 0 || failed.Load() > 0 {
		t.Errorf("%d calls, %d failed", calls.Load(), failed.Load())
	}
	if err := callNoop(cur); err != nil {
		t.Error(err)
	}
}
