package host

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/store"
	badgerstore "github.com/authhost/authhost/store/badger"
	"github.com/authhost/authhost/store/memory"
)

func openBadger(t *testing.T, dir string) *badgerstore.Store {
	t.Helper()
	st, err := badgerstore.Open(dir, badgerstore.Options{GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// actualUsage sums what the store really holds under name's KV prefix.
func actualUsage(t *testing.T, st store.Store, name string) kvCounter {
	t.Helper()
	var u kvCounter
	prefix := "plugin/" + name + "/kv/"
	err := st.Scan(context.Background(), prefix, store.ScanOptions{}, func(k string, v []byte) error {
		u.Bytes += int64(len(k) - len(prefix) + len(v))
		u.Keys++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestKVQuota: kv_set past the key or byte quota is invalid_request
// "quota exceeded"; overwrites count their difference, deletes give room
// back, and the usage reported matches what the store holds.
func TestKVQuota(t *testing.T) {
	t.Parallel()
	st := memory.New(memory.Options{})
	f, errs := newFixture(t, func(c *Config) {
		c.Store = st
		c.Plugins["echo"] = PluginConfig{Limits: Limits{MaxKVKeys: 3, MaxKVBytes: 100}}
	}, "echo", "echob")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p, other := f.plugin(t, "echo"), f.plugin(t, "echob")
	set := func(p *Plugin, key string, n int) error {
		return hostcall(p, abi.HostKVSet, abi.KVSetRequest{Key: key, Value: []byte(strings.Repeat("v", n))}, nil)
	}
	del := func(key string) {
		t.Helper()
		if err := hostcall(p, abi.HostKVDelete, abi.KVDeleteRequest{Key: key}, nil); err != nil {
			t.Fatal(err)
		}
	}
	quota := func(err error) bool {
		return auth.CodeOf(err) == auth.CodeInvalidRequest && strings.Contains(err.Error(), "quota exceeded")
	}
	steps := []struct {
		name      string
		do        func() error
		refused   bool
		wantBytes int64
		wantKeys  int64
	}{
		{"first key", func() error { return set(p, "a", 9) }, false, 10, 1},
		{"second key", func() error { return set(p, "b", 9) }, false, 20, 2},
		{"third key", func() error { return set(p, "c", 9) }, false, 30, 3},
		{"fourth key", func() error { return set(p, "d", 1) }, true, 30, 3},
		{"overwrite grows", func() error { return set(p, "a", 69) }, false, 90, 3},
		{"overwrite past bytes", func() error { return set(p, "b", 20) }, true, 90, 3},
		{"overwrite shrinks", func() error { return set(p, "a", 0) }, false, 21, 3},
		{"delete", func() error { del("b"); return nil }, false, 11, 2},
		{"delete missing key", func() error { del("zz"); return nil }, false, 11, 2},
		{"key after delete", func() error { return set(p, "d", 1) }, false, 13, 3},
		{"other plugin has its own quota", func() error { return set(other, "x", 200) }, false, 13, 3},
	}
	for _, s := range steps {
		err := s.do()
		if s.refused != quota(err) || !s.refused && err != nil {
			t.Fatalf("%s: err = %v, refused want %v", s.name, err, s.refused)
		}
		u, err := f.m.KVUsage(context.Background(), "echo")
		if err != nil {
			t.Fatal(err)
		}
		if u.Bytes != s.wantBytes || u.Keys != s.wantKeys || u.MaxBytes != 100 || u.MaxKeys != 3 {
			t.Fatalf("%s: usage = %+v, want %d bytes in %d keys", s.name, u, s.wantBytes, s.wantKeys)
		}
		if a := actualUsage(t, st, "echo"); a.Bytes != u.Bytes || a.Keys != u.Keys {
			t.Fatalf("%s: usage %+v but the store holds %+v", s.name, u, a)
		}
	}
	var r abi.KVGetResult
	if err := hostcall(p, abi.HostKVGet, abi.KVGetRequest{Key: "b"}, &r); err != nil || r.Found {
		t.Errorf("refused overwrite changed b: %+v, %v", r, err)
	}
	if u, _ := f.m.KVUsage(context.Background(), "echob"); u.MaxKeys != defaultMaxKVKeys || u.MaxBytes != defaultMaxKVBytes || u.Keys != 1 {
		t.Errorf("default quota usage = %+v", u)
	}
	if st := p.Stats(); st.Discards != 0 {
		t.Errorf("quota refusals discarded instances: %+v", st)
	}
}

// TestKVQuotaExpiredKeys: keys the store expired stop counting once a write
// needs their room (they are swept), and an overwrite of an expired key
// replaces what it counted instead of adding to it.
func TestKVQuotaExpiredKeys(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{t: time.Now()}
	st := memory.New(memory.Options{Now: clk.Now})
	f, errs := newFixtureWith(t, func(c *Config) {
		c.Store = st
		c.Plugins["echo"] = PluginConfig{Limits: Limits{MaxKVKeys: 4}}
	}, func(m *Manager) { m.now = clk.Now }, "echo")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p := f.plugin(t, "echo")
	set := func(key string, ttl int64) error {
		return hostcall(p, abi.HostKVSet, abi.KVSetRequest{Key: key, Value: []byte("value"), TTLSeconds: ttl}, nil)
	}
	for _, k := range []string{"t1", "t2", "t3"} {
		if err := set(k, 60); err != nil {
			t.Fatal(err)
		}
	}
	if err := set("keep", 0); err != nil {
		t.Fatal(err)
	}
	if err := set("new", 0); auth.CodeOf(err) != auth.CodeInvalidRequest {
		t.Fatalf("fifth key before expiry: %v, want quota exceeded", err)
	}
	clk.Advance(61 * time.Second)
	// Overwriting an expired key does not count it twice.
	if err := set("t1", 0); err != nil {
		t.Fatal(err)
	}
	if u, _ := f.m.KVUsage(context.Background(), "echo"); u.Keys != 4 {
		t.Fatalf("after overwriting an expired key: %+v, want 4 keys", u)
	}
	// t2 and t3 expired: the write that needs their room sweeps them.
	for _, k := range []string{"new", "new2"} {
		if err := set(k, 0); err != nil {
			t.Fatalf("set %s after expiry: %v", k, err)
		}
	}
	u, _ := f.m.KVUsage(context.Background(), "echo")
	if a := actualUsage(t, st, "echo"); u.Keys != 4 || a.Keys != 4 || a.Bytes != u.Bytes {
		t.Fatalf("usage %+v, store holds %+v, want 4 keys in both", u, a)
	}
	if err := set("new3", 0); auth.CodeOf(err) != auth.CodeInvalidRequest {
		t.Fatalf("fifth live key: %v, want quota exceeded", err)
	}
}

// TestKVQuotaConcurrent: many goroutines writing, overwriting and deleting
// at once, through the plugin and through a second accounting of the same
// store with its own lock (another replica, or the plugin's previous
// version during a reload), never take the store past the quota, and the
// usage record matches the store afterwards.
func TestKVQuotaConcurrent(t *testing.T) {
	t.Parallel()
	st := openBadger(t, t.TempDir())
	t.Cleanup(func() { st.Close() })
	const maxKeys, maxBytes = 40, 3000
	f, errs := newFixture(t, func(c *Config) {
		c.Store = st
		c.Plugins["echo"] = PluginConfig{Limits: Limits{MaxKVKeys: maxKeys, MaxKVBytes: maxBytes, PoolSize: 8}}
	}, "echo")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p := f.plugin(t, "echo")
	replica := newKVSpace("echo", Limits{MaxKVKeys: maxKeys, MaxKVBytes: maxBytes}, st, &kvLock{}, time.Now)
	ctx := context.Background()

	// Phase 1: 200 distinct keys race for 40 places.
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for g := range 20 {
		wg.Go(func() {
			for i := range 10 {
				key := fmt.Sprintf("k%02d-%d", g, i)
				var err error
				if g%2 == 0 {
					err = hostcall(p, abi.HostKVSet, abi.KVSetRequest{Key: key, Value: []byte("0123456789")}, nil)
				} else if err = replica.put(ctx, key, []byte("0123456789"), 0); errors.Is(err, errQuotaExceeded) {
					err = &auth.Error{Code: auth.CodeInvalidRequest, Message: err.Error()}
				}
				switch {
				case err == nil:
					ok.Add(1)
				case auth.CodeOf(err) == auth.CodeInvalidRequest:
					refused.Add(1)
				default:
					t.Errorf("set %s: %v", key, err)
				}
			}
		})
	}
	wg.Wait()
	if ok.Load() != maxKeys || refused.Load() != 200-maxKeys {
		t.Fatalf("%d writes accepted, %d refused; want exactly %d accepted", ok.Load(), refused.Load(), maxKeys)
	}
	if a := actualUsage(t, st, "echo"); a.Keys != maxKeys {
		t.Fatalf("store holds %d keys, quota %d", a.Keys, maxKeys)
	}

	// Phase 2: overwrites of random sizes and deletes on a shared key set,
	// with a watcher that the store never holds more than the quota.
	for _, k := range collectKeys(t, st, "echo") {
		if err := replica.delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	var watch sync.WaitGroup
	watch.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if a := actualUsage(t, st, "echo"); a.Bytes > maxBytes || a.Keys > maxKeys {
				t.Errorf("store holds %+v, past the quota", a)
				return
			}
		}
	})
	for g := range 16 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 40 {
				key := fmt.Sprintf("s%d", r.IntN(60))
				var err error
				switch op := r.IntN(10); {
				case op < 2 && g%2 == 0:
					err = hostcall(p, abi.HostKVDelete, abi.KVDeleteRequest{Key: key}, nil)
				case op < 2:
					err = replica.delete(ctx, key)
				case g%2 == 0:
					err = hostcall(p, abi.HostKVSet, abi.KVSetRequest{Key: key, Value: make([]byte, r.IntN(200))}, nil)
				default:
					err = replica.put(ctx, key, make([]byte, r.IntN(200)), 0)
				}
				if err != nil && auth.CodeOf(err) != auth.CodeInvalidRequest && !errors.Is(err, errQuotaExceeded) {
					t.Errorf("%s: %v", key, err)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	watch.Wait()
	u, err := f.m.KVUsage(ctx, "echo")
	if err != nil {
		t.Fatal(err)
	}
	if a := actualUsage(t, st, "echo"); a.Bytes != u.Bytes || a.Keys != u.Keys || a.Bytes > maxBytes || a.Keys > maxKeys {
		t.Fatalf("usage record %+v, store holds %+v (quota %d bytes, %d keys)", u, a, maxBytes, maxKeys)
	}
}

func collectKeys(t *testing.T, st store.Store, name string) []string {
	t.Helper()
	var keys []string
	prefix := "plugin/" + name + "/kv/"
	err := st.Scan(context.Background(), prefix, store.ScanOptions{KeysOnly: true}, func(k string, _ []byte) error {
		keys = append(keys, strings.TrimPrefix(k, prefix))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestKVQuotaAcrossRestart: the usage record survives reopening the store,
// and keys written before accounting existed are counted on first use.
func TestKVQuotaAcrossRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	st := openBadger(t, dir)
	// Keys from before accounting existed.
	for _, k := range []string{"old1", "old2"} {
		if err := st.Put(ctx, "plugin/echo/kv/"+k, []byte("12345"), 0); err != nil {
			t.Fatal(err)
		}
	}
	l := Limits{MaxKVKeys: 4, MaxKVBytes: 1 << 20}
	kv := newKVSpace("echo", l, st, &kvLock{}, time.Now)
	if u, err := kv.usage(ctx); err != nil || u.Keys != 2 || u.Bytes != 18 {
		t.Fatalf("usage of legacy keys = %+v, %v; want 2 keys, 18 bytes", u, err)
	}
	if err := kv.put(ctx, "new", []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	if err := kv.delete(ctx, "old1"); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openBadger(t, dir)
	t.Cleanup(func() { st.Close() })
	kv = newKVSpace("echo", l, st, &kvLock{}, time.Now)
	if u, err := kv.usage(ctx); err != nil || u.Keys != 2 || u.Bytes != 13 {
		t.Fatalf("usage after restart = %+v, %v; want 2 keys, 13 bytes", u, err)
	}
	for _, k := range []string{"a", "b"} {
		if err := kv.put(ctx, k, nil, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := kv.put(ctx, "c", nil, 0); !errors.Is(err, errQuotaExceeded) {
		t.Fatalf("fifth key after restart: %v, want quota exceeded", err)
	}
}

// BenchmarkKVPut compares a plain store Put (the baseline: kv_set before
// the quota) with the accounted put, on badger, overwriting 1,000 keys.
func BenchmarkKVPut(b *testing.B) {
	st, err := badgerstore.Open(b.TempDir(), badgerstore.Options{GCInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	ctx := context.Background()
	value := make([]byte, 256)
	b.Run("store", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if err := st.Put(ctx, fmt.Sprintf("plugin/base/kv/k%d", i%1000), value, 0); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("quota", func(b *testing.B) {
		kv := newKVSpace("bench", Limits{MaxKVKeys: defaultMaxKVKeys, MaxKVBytes: defaultMaxKVBytes}, st, &kvLock{}, time.Now)
		i := 0
		for b.Loop() {
			if err := kv.put(ctx, fmt.Sprintf("k%d", i%1000), value, 0); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
