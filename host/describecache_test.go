package host

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/host/internal/engine"
)

// countingEngine counts the compiles of the engine it wraps.
type countingEngine struct {
	engine.Engine
	n atomic.Int64
}

func (e *countingEngine) Compile(ctx context.Context, wasm []byte, opts engine.Options) (engine.Module, error) {
	e.n.Add(1)
	return e.Engine.Compile(ctx, wasm, opts)
}

// newCacheDir returns a cache directory with no describe records that
// shares the tests' compiled code (so that no test compiles cold).
func newCacheDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(testCacheDir, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(testCacheDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != describeDir {
			if err := os.Symlink(filepath.Join(testCacheDir, e.Name()), filepath.Join(dir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// loadCounted loads echo, selected or not as selected says, with the
// describe cache in cacheDir, and returns the fixture, its compile count
// and the load errors.
func loadCounted(t *testing.T, cacheDir string, selected bool, mutate func(*Config)) (*fixture, *countingEngine, []error) {
	t.Helper()
	var eng *countingEngine
	f, errs := newFixtureWith(t, func(c *Config) {
		c.CacheDir = cacheDir
		c.Selected = func(string, []abi.Capability) bool { return selected }
		if mutate != nil {
			mutate(c)
		}
	}, func(m *Manager) {
		eng = &countingEngine{Engine: m.eng}
		m.eng = eng
	}, "echo")
	return f, eng, errs
}

// TestDescribeCacheSkipsCompile: a second start loads a plugin nothing
// selects from its cached describe without compiling it, and reports it
// exactly as the first start did; a call compiles it then.
func TestDescribeCacheSkipsCompile(t *testing.T) {
	t.Parallel()
	dir := newCacheDir(t)
	first, eng1, errs := loadCounted(t, dir, false, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if eng1.n.Load() == 0 {
		t.Fatal("the first load compiled nothing")
	}
	want := first.plugin(t, "echo")
	if _, err := os.Stat(filepath.Join(dir, describeDir, want.SHA256()+".json")); err != nil {
		t.Fatalf("no describe record: %v", err)
	}
	second, eng2, errs := loadCounted(t, dir, false, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if n := eng2.n.Load(); n != 0 {
		t.Fatalf("second load compiled %d times; want none", n)
	}
	got := second.plugin(t, "echo")
	if !reflect.DeepEqual(got.Describe(), want.Describe()) || !slices.Equal(got.Exports(), want.Exports()) || got.SHA256() != want.SHA256() {
		t.Fatalf("cached load differs:\n got %+v %v %s\nwant %+v %v %s", got.Describe(), got.Exports(), got.SHA256(), want.Describe(), want.Exports(), want.SHA256())
	}
	if st := got.Stats(); st.Instances != 0 || st.PoolWarm != 0 || st.CodeBytes != 0 {
		t.Fatalf("cached plugin holds instances or code: %+v", st)
	}
	if compiled(got) {
		t.Fatal("cached plugin has a module")
	}
	if _, err := got.CallRaw(ctx, "noop", nil); err != nil {
		t.Fatalf("call on the cached plugin: %v", err)
	}
	if st := got.Stats(); st.CodeBytes == 0 && runtime.GOOS == "linux" {
		t.Fatalf("compiled on demand, but CodeBytes = 0: %+v", st)
	}
	if n := eng2.n.Load(); n != 1 {
		t.Fatalf("the call compiled %d times; want 1", n)
	}
}

// TestDescribeCacheNotUsed: the record is ignored (the plugin compiled as
// at a first start) when the plugin is selected, its configuration
// changed, or the record is for another abi or format; a pin is checked
// either way.
func TestDescribeCacheNotUsed(t *testing.T) {
	t.Parallel()
	tamper := func(field string, value any) func(t *testing.T, path string) {
		return func(t *testing.T, path string) {
			var rec map[string]any
			if err := json.Unmarshal(mustRead(t, path), &rec); err != nil {
				t.Fatal(err)
			}
			rec[field] = value
			raw, _ := json.Marshal(rec)
			if err := os.WriteFile(path, raw, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name     string
		selected bool
		mutate   func(*Config)
		tamper   func(t *testing.T, path string)
		wantErr  string
	}{
		{name: "selected", selected: true},
		{name: "config changed", mutate: func(c *Config) { c.Plugins["echo"] = PluginConfig{Config: json.RawMessage(`{"greeting":"hi"}`)} }},
		{name: "limits changed", mutate: func(c *Config) { c.Defaults.MaxMemoryMiB = 48 }},
		{name: "other abi", tamper: tamper("abi", "0.9")},
		{name: "other format", tamper: tamper("format", describeFormat+1)},
		{name: "other file", tamper: tamper("sha256", strings.Repeat("0", 64))},
		{name: "malformed", tamper: func(t *testing.T, path string) { _ = os.WriteFile(path, []byte("null"), 0o600) }},
		{name: "capability without its export", tamper: tamper("exports", []string{abi.ExportDescribe})},
		{name: "pin mismatch", mutate: func(c *Config) { c.Plugins["echo"] = PluginConfig{SHA256: strings.Repeat("ab", 32)} }, wantErr: "does not match plugins.echo.sha256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := newCacheDir(t)
			first, _, errs := loadCounted(t, dir, false, nil)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if tc.tamper != nil {
				tc.tamper(t, filepath.Join(dir, describeDir, first.plugin(t, "echo").SHA256()+".json"))
			}
			second, eng, errs := loadCounted(t, dir, tc.selected, tc.mutate)
			if tc.wantErr != "" {
				if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.wantErr) {
					t.Fatalf("load errors %v; want one containing %q", errs, tc.wantErr)
				}
				return
			}
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if eng.n.Load() == 0 {
				t.Fatal("loaded from the record; want a compile")
			}
			p := second.plugin(t, "echo")
			if tc.selected {
				waitStats(t, p, func(st Stats) bool { return st.Instances == 1 && st.PoolWarm == 1 })
			}
		})
	}
}
