// Package stores opens each store backend for tests, so that a behaviour
// suite runs against every implementation with one loop.
package stores

import (
	"log/slog"
	"testing"

	pgtest "github.com/authhost/authhost/internal/testenv/postgres"
	"github.com/authhost/authhost/store"
	badgerstore "github.com/authhost/authhost/store/badger"
	"github.com/authhost/authhost/store/memory"
	pgstore "github.com/authhost/authhost/store/postgres"
)

// OpenBadger opens a badger store in dir with small memtables and a silent
// logger. The caller closes it (tests that reopen a directory need that).
func OpenBadger(t testing.TB, dir string) *badgerstore.Store {
	t.Helper()
	s, err := badgerstore.Open(dir, badgerstore.Options{Logger: slog.New(slog.DiscardHandler), MemTableSize: 4 << 20})
	if err != nil {
		t.Fatalf("stores: open badger in %s: %v", dir, err)
	}
	return s
}

// Badger opens a badger store in a fresh temp dir, closed at cleanup.
func Badger(t testing.TB) store.Store {
	t.Helper()
	s := OpenBadger(t, t.TempDir())
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Postgres opens a Postgres store on a fresh database of the test cluster
// (internal/testenv/postgres), closed at cleanup. The test package's
// TestMain calls postgres.Main to stop the cluster; without PostgreSQL
// installed the test is skipped (failed when CI=true).
func Postgres(t testing.TB) store.Store {
	t.Helper()
	s, err := pgstore.Open(t.Context(), pgtest.NewDatabase(t), pgstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("stores: open postgres: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Memory opens an in-memory store.
func Memory(testing.TB) store.Store { return memory.New(memory.Options{}) }

// Backends returns an opener for every backend, keyed by name. A package
// that uses it stops the Postgres cluster from TestMain (postgres.Main).
func Backends() map[string]func(t *testing.T) store.Store {
	return map[string]func(t *testing.T) store.Store{
		"memory":   func(t *testing.T) store.Store { return Memory(t) },
		"badger":   func(t *testing.T) store.Store { return Badger(t) },
		"postgres": func(t *testing.T) store.Store { return Postgres(t) },
	}
}
