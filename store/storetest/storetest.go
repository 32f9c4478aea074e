// Package storetest is the conformance suite every store.Store passes.
// A backend's test calls Run with functions that open a fresh store and
// reopen a closed one.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/authhost/authhost/store"
)

// Run runs the conformance suite. open returns a fresh, empty store; the
// suite closes it. reopen, given a store the suite has closed, returns a new
// store over the same data; a nil reopen skips the persistence test.
func Run(t *testing.T, open func(t *testing.T) store.Store, reopen func(t *testing.T, old store.Store) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"CRUD", testCRUD},
		{"Scan", testScan},
		{"ScanCallbackError", testScanCallbackError},
		{"TTL", testTTL},
		{"UpdateAtomic", testUpdateAtomic},
		{"UpdateReadsOwnWrites", testUpdateReadsOwnWrites},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"Cancelled", testCancelled},
		{"Counter", testCounter},
		{"CounterConcurrent", testCounterConcurrent},
		{"CounterWindow", testCounterWindow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() { _ = s.Close() })
			tc.fn(t, s)
		})
	}
	t.Run("Closed", func(t *testing.T) {
		t.Parallel()
		testClosed(t, open(t))
	})
	t.Run("Reopen", func(t *testing.T) {
		t.Parallel()
		if reopen == nil {
			t.Skip("backend has no reopen function")
		}
		testReopen(t, open(t), reopen)
	})
}

func ctx(t *testing.T) context.Context { return t.Context() }

func mustPut(t *testing.T, s store.Writer, key, value string, ttl time.Duration) {
	t.Helper()
	if err := s.Put(ctx(t), key, []byte(value), ttl); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func mustGet(t *testing.T, s store.Reader, key, want string) {
	t.Helper()
	got, err := s.Get(ctx(t), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if string(got) != want {
		t.Fatalf("Get(%q) = %q, want %q", key, got, want)
	}
}

func mustMissing(t *testing.T, s store.Reader, key string) {
	t.Helper()
	if v, err := s.Get(ctx(t), key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(%q) = %q, %v; want ErrNotFound", key, v, err)
	}
}

func testCRUD(t *testing.T, s store.Store) {
	mustMissing(t, s, "a")
	mustPut(t, s, "a", "1", 0)
	mustGet(t, s, "a", "1")
	mustPut(t, s, "a", "2", 0)
	mustGet(t, s, "a", "2")

	// Values are copies: changing a returned or passed slice changes nothing.
	in := []byte("xyz")
	if err := s.Put(ctx(t), "b", in, 0); err != nil {
		t.Fatal(err)
	}
	in[0] = 'Q'
	got, _ := s.Get(ctx(t), "b")
	got[1] = 'Q'
	mustGet(t, s, "b", "xyz")

	// Empty and binary values round-trip.
	mustPut(t, s, "empty", "", 0)
	mustGet(t, s, "empty", "")
	mustPut(t, s, "bin", "\x00\xff\x01", 0)
	mustGet(t, s, "bin", "\x00\xff\x01")

	if err := s.Delete(ctx(t), "a"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	mustMissing(t, s, "a")
	if err := s.Delete(ctx(t), "never-existed"); err != nil {
		t.Fatalf("Delete missing key: %v", err)
	}
}

func collect(t *testing.T, s store.Reader, prefix string, opts store.ScanOptions) (keys, values []string) {
	t.Helper()
	err := s.Scan(ctx(t), prefix, opts, func(k string, v []byte) error {
		keys = append(keys, k)
		if opts.KeysOnly {
			if v != nil {
				return fmt.Errorf("KeysOnly scan returned value %q for %q", v, k)
			}
		} else {
			values = append(values, string(v))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Scan(%q, %+v): %v", prefix, opts, err)
	}
	return keys, values
}

func testScan(t *testing.T, s store.Store) {
	// Neighbours around the prefix "p/" must never show up.
	for _, k := range []string{"p", "p.", "p0", "o/z", "q/a", "p/a", "p/b", "p/b/c", "p/c", "p/d", "p/\xff"} {
		mustPut(t, s, k, "v:"+k, 0)
	}
	all := []string{"p/a", "p/b", "p/b/c", "p/c", "p/d", "p/\xff"}
	rev := slices.Clone(all)
	slices.Reverse(rev)
	tests := []struct {
		name   string
		prefix string
		opts   store.ScanOptions
		want   []string
	}{
		{"forward", "p/", store.ScanOptions{}, all},
		{"reverse", "p/", store.ScanOptions{Reverse: true}, rev},
		{"limit", "p/", store.ScanOptions{Limit: 2}, all[:2]},
		{"reverse limit", "p/", store.ScanOptions{Reverse: true, Limit: 2}, rev[:2]},
		{"after", "p/", store.ScanOptions{After: "p/b"}, all[2:]},
		{"after absent key", "p/", store.ScanOptions{After: "p/bb"}, all[3:]},
		{"after limit", "p/", store.ScanOptions{After: "p/a", Limit: 2}, all[1:3]},
		{"reverse after", "p/", store.ScanOptions{Reverse: true, After: "p/c"}, []string{"p/b/c", "p/b", "p/a"}},
		{"reverse after absent", "p/", store.ScanOptions{Reverse: true, After: "p/bb"}, []string{"p/b/c", "p/b", "p/a"}},
		{"after below prefix", "p/", store.ScanOptions{After: "a"}, all},
		{"after above prefix", "p/", store.ScanOptions{After: "z"}, nil},
		{"reverse after above prefix", "p/", store.ScanOptions{Reverse: true, After: "z"}, rev},
		{"reverse after below prefix", "p/", store.ScanOptions{Reverse: true, After: "a"}, nil},
		{"nested prefix", "p/b", store.ScanOptions{}, []string{"p/b", "p/b/c"}},
		{"keys only", "p/", store.ScanOptions{KeysOnly: true}, all},
		{"no match", "nothing/", store.ScanOptions{}, nil},
		{"empty prefix", "", store.ScanOptions{}, []string{"o/z", "p", "p.", "p/a", "p/b", "p/b/c", "p/c", "p/d", "p/\xff", "p0", "q/a"}},
		{"empty prefix reverse limit", "", store.ScanOptions{Reverse: true, Limit: 2}, []string{"q/a", "p0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys, values := collect(t, s, tc.prefix, tc.opts)
			if !slices.Equal(keys, tc.want) {
				t.Fatalf("keys = %q, want %q", keys, tc.want)
			}
			if !tc.opts.KeysOnly {
				for i, k := range keys {
					if values[i] != "v:"+k {
						t.Fatalf("value of %q = %q", k, values[i])
					}
				}
			}
		})
	}

	t.Run("stop", func(t *testing.T) {
		var n int
		err := s.Scan(ctx(t), "p/", store.ScanOptions{}, func(string, []byte) error {
			n++
			if n == 2 {
				return store.ErrStopScan
			}
			return nil
		})
		if err != nil || n != 2 {
			t.Fatalf("ErrStopScan: n=%d err=%v, want 2, nil", n, err)
		}
	})

	t.Run("many", func(t *testing.T) {
		// More keys than any internal batch, so batching is exercised.
		const n = 700
		for i := range n {
			mustPut(t, s, fmt.Sprintf("m/%04d", i), strconv.Itoa(i), 0)
		}
		keys, _ := collect(t, s, "m/", store.ScanOptions{})
		if len(keys) != n || !slices.IsSorted(keys) {
			t.Fatalf("got %d keys (sorted %v), want %d sorted", len(keys), slices.IsSorted(keys), n)
		}
		keys, _ = collect(t, s, "m/", store.ScanOptions{Reverse: true, After: "m/0500", Limit: 300})
		if len(keys) != 300 || keys[0] != "m/0499" || keys[299] != "m/0200" {
			t.Fatalf("reverse page: %d keys, first %q last %q", len(keys), keys[0], keys[len(keys)-1])
		}
	})

	t.Run("delete during scan", func(t *testing.T) {
		for i := range 10 {
			mustPut(t, s, fmt.Sprintf("del/%02d", i), "x", 0)
		}
		var seen int
		err := s.Scan(ctx(t), "del/", store.ScanOptions{KeysOnly: true}, func(k string, _ []byte) error {
			seen++
			return s.Delete(ctx(t), k)
		})
		if err != nil || seen != 10 {
			t.Fatalf("scan with deletes: seen %d, err %v", seen, err)
		}
		if keys, _ := collect(t, s, "del/", store.ScanOptions{}); len(keys) != 0 {
			t.Fatalf("left after delete: %q", keys)
		}
	})
}

func testScanCallbackError(t *testing.T, s store.Store) {
	mustPut(t, s, "e/1", "x", 0)
	boom := errors.New("boom")
	err := s.Scan(ctx(t), "e/", store.ScanOptions{}, func(string, []byte) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("Scan returned %v, want the callback's error", err)
	}
}

// testTTL checks expiry, never speed: keys written with a TTL are present
// right after the write and gone some time after the TTL.
func testTTL(t *testing.T, s store.Store) {
	const ttl = time.Second
	mustPut(t, s, "ttl/short", "x", ttl)
	mustPut(t, s, "ttl/forever", "y", 0)
	mustPut(t, s, "ttl/long", "z", time.Hour)
	if err := s.Update(ctx(t), func(tx store.Txn) error {
		return tx.Put(ctx(t), "ttl/txn", []byte("w"), ttl)
	}); err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, "ttl/short", "x")
	mustGet(t, s, "ttl/txn", "w")
	// Overwriting without TTL makes a key permanent.
	mustPut(t, s, "ttl/made-permanent", "a", ttl)
	mustPut(t, s, "ttl/made-permanent", "b", 0)

	deadline := time.Now().Add(ttl + 4*time.Second)
	for {
		_, err1 := s.Get(ctx(t), "ttl/short")
		_, err2 := s.Get(ctx(t), "ttl/txn")
		if errors.Is(err1, store.ErrNotFound) && errors.Is(err2, store.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("keys with TTL %v still present after %v: %v, %v", ttl, ttl+4*time.Second, err1, err2)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mustGet(t, s, "ttl/forever", "y")
	mustGet(t, s, "ttl/long", "z")
	mustGet(t, s, "ttl/made-permanent", "b")
	keys, _ := collect(t, s, "ttl/", store.ScanOptions{})
	if want := []string{"ttl/forever", "ttl/long", "ttl/made-permanent"}; !slices.Equal(keys, want) {
		t.Fatalf("scan after expiry = %q, want %q", keys, want)
	}
}

func testUpdateAtomic(t *testing.T, s store.Store) {
	mustPut(t, s, "u/keep", "old", 0)
	mustPut(t, s, "u/gone", "old", 0)
	boom := errors.New("boom")
	err := s.Update(ctx(t), func(tx store.Txn) error {
		if err := tx.Put(ctx(t), "u/keep", []byte("new"), 0); err != nil {
			return err
		}
		if err := tx.Put(ctx(t), "u/new", []byte("new"), 0); err != nil {
			return err
		}
		if err := tx.Delete(ctx(t), "u/gone"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want fn's error", err)
	}
	mustGet(t, s, "u/keep", "old")
	mustGet(t, s, "u/gone", "old")
	mustMissing(t, s, "u/new")

	// A successful Update applies every write.
	if err := s.Update(ctx(t), func(tx store.Txn) error {
		if err := tx.Put(ctx(t), "u/keep", []byte("new"), 0); err != nil {
			return err
		}
		return tx.Delete(ctx(t), "u/gone")
	}); err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, "u/keep", "new")
	mustMissing(t, s, "u/gone")
}

func testUpdateReadsOwnWrites(t *testing.T, s store.Store) {
	mustPut(t, s, "r/a", "1", 0)
	err := s.Update(ctx(t), func(tx store.Txn) error {
		if err := tx.Put(ctx(t), "r/b", []byte("2"), 0); err != nil {
			return err
		}
		if err := tx.Delete(ctx(t), "r/a"); err != nil {
			return err
		}
		if v, err := tx.Get(ctx(t), "r/b"); err != nil || string(v) != "2" {
			return fmt.Errorf("Get own write = %q, %v", v, err)
		}
		if _, err := tx.Get(ctx(t), "r/a"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("Get own delete: %v, want ErrNotFound", err)
		}
		var keys []string
		if err := tx.Scan(ctx(t), "r/", store.ScanOptions{}, func(k string, _ []byte) error {
			keys = append(keys, k)
			return nil
		}); err != nil {
			return err
		}
		if !slices.Equal(keys, []string{"r/b"}) {
			return fmt.Errorf("Scan in txn = %q, want [r/b]", keys)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testConcurrentUpdates increments counters from many goroutines through
// read-modify-write transactions; no increment may be lost.
func testConcurrentUpdates(t *testing.T, s store.Store) {
	const workers, incs, counters = 8, 25, 2
	var wg sync.WaitGroup
	errs := make(chan error, workers*incs)
	for w := range workers {
		wg.Go(func() {
			for i := range incs {
				key := fmt.Sprintf("c/%d", (w+i)%counters)
				err := s.Update(ctx(t), func(tx store.Txn) error {
					n := 0
					v, err := tx.Get(ctx(t), key)
					switch {
					case errors.Is(err, store.ErrNotFound):
					case err != nil:
						return err
					default:
						if n, err = strconv.Atoi(string(v)); err != nil {
							return err
						}
					}
					return tx.Put(ctx(t), key, []byte(strconv.Itoa(n+1)), 0)
				})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Update: %v", err)
	}
	total := 0
	for c := range counters {
		v, err := s.Get(ctx(t), fmt.Sprintf("c/%d", c))
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(string(v))
		total += n
	}
	if total != workers*incs {
		t.Fatalf("counters sum to %d, want %d (lost updates)", total, workers*incs)
	}
}

func testCancelled(t *testing.T, s store.Store) {
	c, cancel := context.WithCancel(ctx(t))
	cancel()
	if err := s.Put(c, "x", []byte("1"), 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with cancelled context: %v", err)
	}
	mustMissing(t, s, "x")
}

func testClosed(t *testing.T, s store.Store) {
	mustPut(t, s, "k", "v", 0)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	calls := map[string]func() error{
		"Get":    func() error { _, err := s.Get(ctx(t), "k"); return err },
		"Put":    func() error { return s.Put(ctx(t), "k", []byte("v"), 0) },
		"Delete": func() error { return s.Delete(ctx(t), "k") },
		"Scan": func() error {
			return s.Scan(ctx(t), "", store.ScanOptions{}, func(string, []byte) error { return nil })
		},
		"Update": func() error { return s.Update(ctx(t), func(store.Txn) error { return nil }) },
		"Close":  s.Close,
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

func testReopen(t *testing.T, s store.Store, reopen func(*testing.T, store.Store) store.Store) {
	mustPut(t, s, "keep/a", "1", 0)
	mustPut(t, s, "keep/b", "2", time.Hour)
	mustPut(t, s, "drop", "x", 0)
	if err := s.Delete(ctx(t), "drop"); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx(t), func(tx store.Txn) error {
		return tx.Put(ctx(t), "keep/c", []byte("3"), 0)
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s2 := reopen(t, s)
	t.Cleanup(func() { _ = s2.Close() })
	mustGet(t, s2, "keep/a", "1")
	mustGet(t, s2, "keep/b", "2")
	mustGet(t, s2, "keep/c", "3")
	mustMissing(t, s2, "drop")
	keys, _ := collect(t, s2, "keep/", store.ScanOptions{})
	if !slices.Equal(keys, []string{"keep/a", "keep/b", "keep/c"}) {
		t.Fatalf("keys after reopen = %q", keys)
	}
}

func counter(t *testing.T, s store.Store) store.Counter {
	t.Helper()
	c, ok := s.(store.Counter)
	if !ok {
		t.Skip("backend does not implement store.Counter")
	}
	return c
}

func mustIncr(t *testing.T, c store.Counter, key string, delta int64, ttl time.Duration, want int64) {
	t.Helper()
	got, err := c.Incr(ctx(t), key, delta, ttl)
	if err != nil {
		t.Fatalf("Incr(%q, %d): %v", key, delta, err)
	}
	if got != want {
		t.Fatalf("Incr(%q, %d) = %d, want %d", key, delta, got, want)
	}
}

func testCounter(t *testing.T, s store.Store) {
	c := counter(t, s)
	mustIncr(t, c, "n/a", 1, 0, 1)
	mustIncr(t, c, "n/a", 5, 0, 6)
	mustIncr(t, c, "n/a", -10, 0, -4)
	mustGet(t, s, "n/a", "-4") // a decimal string
	mustIncr(t, c, "n/b", 3, time.Hour, 3)
	mustIncr(t, c, "n/b", 0, time.Hour, 3)

	// Delete resets; a counter written with Put counts on from its value.
	if err := s.Delete(ctx(t), "n/a"); err != nil {
		t.Fatal(err)
	}
	mustIncr(t, c, "n/a", 2, 0, 2)
	mustPut(t, s, "n/c", "41", 0)
	mustIncr(t, c, "n/c", 1, 0, 42)

	// A key holding anything but an integer is not a counter; it is left
	// as it was.
	for _, v := range []string{"abc", "", "1.5", " 1", "１", "9223372036854775808", "null"} {
		mustPut(t, s, "n/bad", v, 0)
		if n, err := c.Incr(ctx(t), "n/bad", 1, 0); err == nil {
			t.Errorf("Incr on value %q = %d, want an error", v, n)
		}
		mustGet(t, s, "n/bad", v)
	}

	// Incr reaches a transaction's view like any write.
	if err := s.Update(ctx(t), func(tx store.Txn) error {
		v, err := tx.Get(ctx(t), "n/b")
		if err != nil || string(v) != "3" {
			return fmt.Errorf("counter in txn = %q, %v", v, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// testCounterConcurrent increments one counter from many goroutines; the
// results are exactly 1..n, each once.
func testCounterConcurrent(t *testing.T, s store.Store) {
	c := counter(t, s)
	const workers, incs = 8, 40
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen = map[int64]bool{}
	)
	errs := make(chan error, workers*incs)
	for range workers {
		wg.Go(func() {
			for range incs {
				n, err := c.Incr(ctx(t), "cc/x", 1, time.Hour)
				if err != nil {
					errs <- err
					continue
				}
				mu.Lock()
				if seen[n] {
					errs <- fmt.Errorf("value %d returned twice", n)
				}
				seen[n] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Incr: %v", err)
	}
	if len(seen) != workers*incs {
		t.Fatalf("%d distinct values, want %d", len(seen), workers*incs)
	}
	mustGet(t, s, "cc/x", strconv.Itoa(workers*incs))
}

// testCounterWindow checks that a counter's TTL runs from its first
// increment: a counter incremented faster than its TTL still expires.
// It checks expiry, never speed.
func testCounterWindow(t *testing.T, s store.Store) {
	c := counter(t, s)
	const ttl = time.Second
	mustIncr(t, c, "w/x", 1, ttl, 1)
	mustIncr(t, c, "w/forever", 1, 0, 1)
	deadline := time.Now().Add(ttl + 4*time.Second)
	for prev := int64(1); ; {
		time.Sleep(100 * time.Millisecond)
		n, err := c.Incr(ctx(t), "w/x", 1, ttl)
		if err != nil {
			t.Fatal(err)
		}
		if n <= prev {
			break // expired and started again
		}
		prev = n
		if time.Now().After(deadline) {
			t.Fatalf("counter with TTL %v incremented every 100ms still counts (%d) after %v: increments extend its expiry", ttl, n, ttl+4*time.Second)
		}
	}
	mustGet(t, s, "w/forever", "1")
}
