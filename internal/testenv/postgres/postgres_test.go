package postgres_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/authhost/authhost/internal/testenv/postgres"
)

func TestMain(m *testing.M) { postgres.Main(m) }

func TestNewDatabase(t *testing.T) {
	t.Parallel()
	dsnA := postgres.NewDatabase(t)
	dsnB := postgres.NewDatabase(t)
	if dsnA == dsnB {
		t.Fatalf("two tests share database %s", dsnA)
	}
	ctx := t.Context()
	a, err := pgx.Connect(ctx, dsnA)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(context.Background())
	if _, err := a.Exec(ctx, "CREATE TABLE only_in_a (x int)"); err != nil {
		t.Fatal(err)
	}
	b, err := pgx.Connect(ctx, dsnB)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	var n int
	if err := b.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("a table created in one database shows up in another")
	}
}

// TestRunsUnprivileged checks that the server does not run as root (which
// PostgreSQL refuses), whoever runs the tests.
func TestRunsUnprivileged(t *testing.T) {
	t.Parallel()
	c := postgres.Start(t)
	conn, err := pgx.Connect(t.Context(), c.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var pid int
	if err := conn.QueryRow(t.Context(), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatalf("read the backend's status: %v", err)
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			if f := strings.Fields(rest); len(f) < 2 || f[1] == "0" {
				t.Fatalf("postgres backend runs as root: %s", line)
			}
			return
		}
	}
	t.Fatal("no Uid line in the backend's status")
}
