package pgaudit_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/auth/authtest"
	"github.com/authhost/authhost/auth/builtin/audit"
	"github.com/authhost/authhost/auth/builtin/audit/pgaudit"
	pgtest "github.com/authhost/authhost/internal/testenv/postgres"
	"github.com/authhost/authhost/store/memory"
	pgstore "github.com/authhost/authhost/store/postgres"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// open returns an audit store on a fresh migrated database.
func open(t testing.TB) *pgaudit.Store {
	t.Helper()
	return pgaudit.New(openPool(t), pgaudit.Options{})
}

// openPool returns the connection pool of a fresh migrated database,
// closed when t ends.
func openPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	st, err := pgstore.Open(t.Context(), pgtest.NewDatabase(t), pgstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st.Pool()
}

func TestConformance(t *testing.T) {
	t.Parallel()
	authtest.TestAuditStore(t, func(t *testing.T) auth.AuditStore { return open(t) })
	authtest.TestAuditLogger(t, func(t *testing.T) auth.AuditLogger { return open(t) })
}

// TestSameAsKeyValueStore runs awkward filters against this store and the
// key-value audit store over the same events: the answers must agree.
func TestSameAsKeyValueStore(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pg := open(t)
	kv := audit.NewStore(memory.New(memory.Options{}), audit.StoreOptions{})
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	user := func(id, email string) auth.AuditActor {
		return auth.AuditActor{Type: auth.ActorUser, ID: id, Email: email}
	}
	evs := []auth.AuditEvent{
		{ID: "p1", Actor: user("100%", "a_b@example.com"), Action: "x%y.z", Outcome: "success"},
		{ID: "p2", Actor: user("1000", "aXb@example.com"), Action: "x_y.z", Outcome: "success"},
		{ID: "p3", Actor: user(`back\slash`, "line\nbreak"), Action: `a\b`, Outcome: "failure"},
		{ID: "p4", Actor: user("line", "break"), Action: "a.b", Outcome: "failure", Resource: &auth.AuditResource{Type: "t", ID: "", Name: "ÉCOLE"}},
		{ID: "p5", Actor: user("ｕｓｅｒ", "ⓐ@example.com"), Action: "ａ.b", Outcome: "success", Resource: &auth.AuditResource{Type: "", ID: "r"}},
		{ID: "p6", Actor: user("ctl\x01\x7f", "‮evil@example.com"), Action: "null", Outcome: "null"},
	}
	for i := range evs {
		evs[i].Timestamp = base.Add(time.Duration(i) * time.Second)
		for _, s := range []auth.AuditStore{pg, kv} {
			if err := s.Log(ctx, evs[i]); err != nil {
				t.Fatalf("Log(%s): %v", evs[i].ID, err)
			}
		}
	}
	filters := []auth.AuditFilter{
		{ActorID: "100%"}, {ActorID: "10%"}, {Text: "%"}, {Text: "_"}, {Text: "a_b"}, {Text: `\`},
		{Text: "line\nbreak"}, {Text: "e\nb"}, {Text: "école"}, {Text: "ÉCOLE"}, {Text: "ｕｓｅｒ"}, {Text: "USER"},
		{Text: "\x01"}, {Text: "‮"}, {Text: "null"},
		{Action: "x%y.z"}, {Action: "x_y.z"}, {Action: "x*"}, {Action: "*%*"}, {Action: `a\*`}, {Action: "a.b"}, {Action: "ａ*"}, {Action: "null"},
		{ActionPrefix: "x_"}, {ActionPrefix: "x%"}, {ActionPrefix: `a\`}, {ActionPrefix: "%"},
		{ResourceID: "r"}, {ResourceType: "t"}, {ResourceType: "t", ResourceID: "r"},
		{Outcome: "null"}, {ActorType: "null"},
		{Start: base.Add(2 * time.Second), End: base.Add(4 * time.Second)},
	}
	ids := func(r *auth.AuditResult) []string {
		var out []string
		for _, e := range r.Events {
			out = append(out, e.ID)
		}
		return out
	}
	for _, f := range filters {
		want, err := kv.Query(ctx, f, auth.AuditPage{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := pg.Query(ctx, f, auth.AuditPage{})
		if err != nil {
			t.Fatalf("Query(%+q): %v", f, err)
		}
		if !slices.Equal(ids(got), ids(want)) || got.Total != want.Total {
			t.Errorf("filter %+q: postgres %v (total %d), key-value store %v (total %d)", f, ids(got), got.Total, ids(want), want.Total)
		}
	}
}

// TestRefusesNUL checks that text PostgreSQL cannot hold is a client error,
// not a server error.
func TestRefusesNUL(t *testing.T) {
	t.Parallel()
	s := open(t)
	err := s.Log(context.Background(), auth.AuditEvent{Action: "a", Actor: auth.AuditActor{ID: "nul\x00"}})
	if auth.CodeOf(err) != auth.CodeInvalidRequest {
		t.Fatalf("Log with a NUL in the actor id = %v, want invalid_request", err)
	}
}

// TestCountsAcrossHours checks the hourly counts behind Total: over events
// spread across days, the count of every range (on hour boundaries, a
// nanosecond either side, open-ended, inside one hour) and filter agrees
// with the key-value store, before and after retention deletes some.
func TestCountsAcrossHours(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	now := time.Date(2026, 3, 10, 12, 30, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st, err := pgstore.Open(ctx, pgtest.NewDatabase(t), pgstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	pg := pgaudit.New(st.Pool(), pgaudit.Options{Now: clock})
	kv := audit.NewStore(memory.New(memory.Options{}), audit.StoreOptions{Now: clock})

	r := rand.New(rand.NewPCG(3, 4))
	hour := now.Truncate(time.Hour)
	types := []string{auth.ActorUser, auth.ActorSystem, auth.ActorAPIKey}
	outcomes := []string{auth.OutcomeSuccess, auth.OutcomeFailure, auth.OutcomeDenied}
	actions := []string{"auth.sign-in", "auth.logout", "agents.create", "a%b"}
	var wg sync.WaitGroup
	for i := range 400 {
		e := auth.AuditEvent{
			ID:        fmt.Sprintf("c%03d", i),
			Timestamp: hour.Add(-time.Duration(r.Int64N(int64(10 * 24 * time.Hour)))),
			Actor:     auth.AuditActor{Type: types[r.IntN(3)], ID: "x"},
			Outcome:   outcomes[r.IntN(3)],
			Action:    actions[r.IntN(4)],
		}
		if i%50 == 0 { // events exactly on an hour boundary and 1ns off it
			e.Timestamp = hour.Add(-time.Duration(i) * time.Hour)
		}
		if i%50 == 1 {
			e.Timestamp = hour.Add(-time.Duration(i)*time.Hour - 1)
		}
		if err := kv.Log(ctx, e); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { // concurrent writers on shared count rows
			if err := pg.Log(ctx, e); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	h := func(n int) time.Time { return hour.Add(-time.Duration(n) * time.Hour) }
	ranges := [][2]time.Time{
		{}, {h(49), time.Time{}}, {time.Time{}, h(49)}, {h(100), h(50)}, {h(100).Add(1), h(50).Add(-1)},
		{h(100).Add(-1), h(50).Add(1)}, {h(30).Add(time.Minute), h(30).Add(50 * time.Minute)}, {h(51), h(51)},
		{h(200).Add(-time.Nanosecond), h(1).Add(time.Nanosecond)}, {h(300), h(299).Add(-1)},
	}
	dims := []auth.AuditFilter{{}, {ActorType: auth.ActorUser}, {Outcome: auth.OutcomeDenied}, {ActionPrefix: "auth."},
		{Action: "a%b"}, {Action: "*.*"}, {ActorType: auth.ActorSystem, Outcome: auth.OutcomeFailure, ActionPrefix: "agents"}}
	compare := func(stage string) {
		t.Helper()
		for _, d := range dims {
			for _, rg := range ranges {
				f := d
				f.Start, f.End = rg[0], rg[1]
				want, err := kv.Count(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				got, err := pg.Count(ctx, f)
				if err != nil {
					t.Fatalf("Count(%+v): %v", f, err)
				}
				res, err := pg.Query(ctx, f, auth.AuditPage{Limit: 1})
				if err != nil {
					t.Fatal(err)
				}
				if got != want || res.Total != want {
					t.Errorf("%s: filter %+v: Count %d, Total %d; key-value store %d", stage, f, got, res.Total, want)
				}
			}
		}
	}
	compare("before retention")
	for _, s := range []auth.AuditStore{kv, pg} {
		if _, err := s.DeleteOlderThan(ctx, 4); err != nil {
			t.Fatal(err)
		}
	}
	compare("after retention")
	var rows int
	if err := st.Pool().QueryRow(ctx, "SELECT count(*) FROM authhost_audit_counts WHERE hour < $1", now.Add(-4*24*time.Hour).UnixNano()/int64(time.Hour)).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 0 {
		t.Errorf("%d count rows left for the hours retention emptied", rows)
	}
}
