package pgstore_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	pgtest "github.com/authhost/authhost/internal/testenv/postgres"
	"github.com/authhost/authhost/store"
	pgstore "github.com/authhost/authhost/store/postgres"
	"github.com/authhost/authhost/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func open(t testing.TB, dsn string) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(t.Context(), dsn, pgstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	var dsns sync.Map // store.Store → its DSN
	storetest.Run(t,
		func(t *testing.T) store.Store {
			dsn := pgtest.NewDatabase(t)
			s := open(t, dsn)
			dsns.Store(s, dsn)
			return s
		},
		func(t *testing.T, old store.Store) store.Store {
			dsn, _ := dsns.Load(old)
			return open(t, dsn.(string))
		},
	)
}

// TestSharedBetweenStores checks what replicas rely on: two stores on one
// database see each other's writes, counters and transactions.
func TestSharedBetweenStores(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	a, b := open(t, dsn), open(t, dsn)
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
	ctx := t.Context()
	if err := a.Put(ctx, "k", []byte("from a"), 0); err != nil {
		t.Fatal(err)
	}
	if v, err := b.Get(ctx, "k"); err != nil || string(v) != "from a" {
		t.Fatalf("b.Get = %q, %v", v, err)
	}
	var wg sync.WaitGroup
	for _, s := range []*pgstore.Store{a, b} {
		wg.Go(func() {
			for range 50 {
				if _, err := s.Incr(ctx, "n", 1, time.Hour); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if v, err := a.Get(ctx, "n"); err != nil || string(v) != "100" {
		t.Fatalf("counter incremented 50 times from each store = %q, %v", v, err)
	}
}

func TestMigrations(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)

	// Replicas starting at once migrate once.
	var wg sync.WaitGroup
	stores := make([]*pgstore.Store, 4)
	for i := range stores {
		wg.Go(func() {
			s, err := pgstore.Open(t.Context(), dsn, pgstore.Options{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Errorf("concurrent Open: %v", err)
			}
			stores[i] = s
		})
	}
	wg.Wait()
	for _, s := range stores {
		if s != nil {
			_ = s.Close()
		}
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n, max int
	if err := conn.QueryRow(t.Context(), "SELECT count(*), max(version) FROM authhost_schema_version").Scan(&n, &max); err != nil {
		t.Fatal(err)
	}
	if n != pgstore.SchemaVersion() || max != pgstore.SchemaVersion() {
		t.Fatalf("version table has %d rows up to %d, want %d", n, max, pgstore.SchemaVersion())
	}

	// A schema newer than the binary knows is a start-up error.
	if _, err := conn.Exec(t.Context(), "INSERT INTO authhost_schema_version (version, name) VALUES ($1, 'from the future')", pgstore.SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	s, err := pgstore.Open(t.Context(), dsn, pgstore.Options{})
	if err == nil {
		_ = s.Close()
		t.Fatal("Open on a newer schema succeeded")
	}
	if !strings.Contains(err.Error(), "newer than this binary") {
		t.Fatalf("Open on a newer schema: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	c := pgtest.Start(t)
	tests := []struct {
		name, dsn, want string
	}{
		{"garbage", "postgres://user:s3cret@host:notaport/db", "cannot parse"},
		{"no such database", fmt.Sprintf("postgres://authhost:s3cret@127.0.0.1:%d/does_not_exist?sslmode=disable", c.Port), "does_not_exist"},
		{"nothing listening", "postgres://authhost:s3cret@127.0.0.1:1/db?sslmode=disable&connect_timeout=2", "127.0.0.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			s, err := pgstore.Open(ctx, tc.dsn, pgstore.Options{})
			if err == nil {
				_ = s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("Open: %v; want it to mention %q and not the password", err, tc.want)
			}
		})
	}
}

func TestSweep(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	s, err := pgstore.Open(t.Context(), dsn, pgstore.Options{SweepInterval: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Put(t.Context(), "gone", []byte("x"), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(t.Context(), "kept", []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := s.Pool().QueryRow(t.Context(), "SELECT count(*) FROM authhost_kv").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d rows left; the expired one was never swept", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
