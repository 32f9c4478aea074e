package host

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authhost/authhost/internal/testenv/wasmbuild"
	"github.com/authhost/authhost/store"
)

// testCacheDir is the wazero compilation cache shared by the tests (and
// kept across runs: entries are keyed by module hash and wazero version, and
// written with rename, so concurrent test processes can share it).
var testCacheDir = filepath.Join(os.TempDir(), "authhost-host-test-cache")

// testEngine is the engine the host tests run on: the default (wazero)
// unless AUTHHOST_TEST_ENGINE names another, e.g.
//
//	AUTHHOST_TEST_ENGINE=extism go test ./host/...
var testEngine = os.Getenv("AUTHHOST_TEST_ENGINE")

// wasmPath builds testdata/plugins/NAME once per process.
func wasmPath(t testing.TB, name string) string {
	t.Helper()
	return wasmbuild.Build(t, filepath.Join("testdata", "plugins", name))
}

// pluginsDir returns a fresh plugins dir holding NAME.wasm for each name.
func pluginsDir(t testing.TB, names ...string) string {
	t.Helper()
	dirs := make([]string, len(names))
	for i, n := range names {
		dirs[i] = filepath.Join("testdata", "plugins", n)
	}
	return wasmbuild.Dir(t, dirs...)
}

type fixture struct {
	m     *Manager
	store *memStore
	logs  *recorder
	clock *fakeClock
}

// newFixture loads the named plugins into a new Manager; mutate may adjust
// the config first. Load errors are returned, not fatal.
func newFixture(t testing.TB, mutate func(*Config), names ...string) (*fixture, []error) {
	t.Helper()
	return newFixtureWith(t, mutate, nil, names...)
}

// newFixtureWith is newFixture with prep run on the Manager before Load.
func newFixtureWith(t testing.TB, mutate func(*Config), prep func(*Manager), names ...string) (*fixture, []error) {
	t.Helper()
	f := &fixture{store: newMemStore(), logs: newRecorder(), clock: &fakeClock{t: time.Now()}}
	cfg := Config{
		PluginsDir: pluginsDir(t, names...),
		CacheDir:   testCacheDir,
		Engine:     testEngine,
		Store:      f.store,
		Logger:     slog.New(f.logs),
		Plugins:    map[string]PluginConfig{},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	m.now = f.clock.Now
	if prep != nil {
		prep(m)
	}
	t.Cleanup(func() { m.Close() })
	f.m = m
	_, errs := m.Load(context.Background())
	return f, errs
}

func (f *fixture) plugin(t testing.TB, name string) *Plugin {
	t.Helper()
	p := f.m.Plugin(name)
	if p == nil {
		t.Fatalf("plugin %q not loaded", name)
	}
	return p
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// memStore is a minimal map-based store.Store (no store/memory exists yet).
type memStore struct {
	mu    sync.Mutex
	data  map[string]memEntry
	clock fakeClock
}

type memEntry struct {
	v   []byte
	exp time.Time
}

func newMemStore() *memStore {
	return &memStore{data: map[string]memEntry{}, clock: fakeClock{t: time.Now()}}
}

func (s *memStore) live(e memEntry) bool { return e.exp.IsZero() || s.clock.Now().Before(e.exp) }

func (s *memStore) Get(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.data[key]
	if !ok || !s.live(e) {
		return nil, store.ErrNotFound
	}
	return append([]byte(nil), e.v...), nil
}

func (s *memStore) Scan(_ context.Context, prefix string, opts store.ScanOptions, fn func(string, []byte) error) error {
	s.mu.Lock()
	var keys []string
	for k, e := range s.data {
		if strings.HasPrefix(k, prefix) && s.live(e) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	s.mu.Unlock()
	for _, k := range keys {
		v, err := s.Get(context.Background(), k)
		if err != nil {
			continue
		}
		if err := fn(k, v); err != nil {
			if err == store.ErrStopScan {
				return nil
			}
			return err
		}
	}
	return nil
}

func (s *memStore) Put(_ context.Context, key string, value []byte, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := memEntry{v: append([]byte(nil), value...)}
	if ttl > 0 {
		e.exp = s.clock.Now().Add(ttl)
	}
	s.data[key] = e
	return nil
}

func (s *memStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.data, key)
	return nil
}

func (s *memStore) Update(ctx context.Context, fn func(tx store.Txn) error) error {
	return fn(s)
}

func (s *memStore) Close() error { return nil }

func (s *memStore) keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.data {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// recorder is a slog.Handler that keeps every record.
type recorder struct {
	sink  *logSink
	attrs []slog.Attr
}

type logSink struct {
	mu   sync.Mutex
	recs []logRecord
}

type logRecord struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

func newRecorder() *recorder { return &recorder{sink: &logSink{}} }

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	lr := logRecord{Level: rec.Level, Msg: rec.Message, Attrs: map[string]string{}}
	for _, a := range r.attrs {
		lr.Attrs[a.Key] = a.Value.String()
	}
	rec.Attrs(func(a slog.Attr) bool {
		lr.Attrs[a.Key] = a.Value.String()
		return true
	})
	r.sink.mu.Lock()
	r.sink.recs = append(r.sink.recs, lr)
	r.sink.mu.Unlock()
	return nil
}

func (r *recorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &recorder{sink: r.sink, attrs: append(append([]slog.Attr(nil), r.attrs...), as...)}
}

func (r *recorder) WithGroup(string) slog.Handler { return r }

// find returns the records whose message contains msg.
func (r *recorder) find(msg string) []logRecord {
	r.sink.mu.Lock()
	defer r.sink.mu.Unlock()
	var out []logRecord
	for _, rec := range r.sink.recs {
		if strings.Contains(rec.Msg, msg) {
			out = append(out, rec)
		}
	}
	return out
}
