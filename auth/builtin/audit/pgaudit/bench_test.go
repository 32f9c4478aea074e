package pgaudit

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/auth/builtin/audit"
	pgtest "github.com/authhost/authhost/internal/testenv/postgres"
	"github.com/authhost/authhost/internal/testenv/stores"
	pgstore "github.com/authhost/authhost/store/postgres"
)

// benchEvents is how many events BenchmarkAudit seeds:
// AUTHHOST_AUDIT_BENCH_EVENTS, default 100000 (the target is
// 1000000; seeding that takes minutes).
func benchEvents(b *testing.B) int {
	if v := os.Getenv("AUTHHOST_AUDIT_BENCH_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1000 {
			b.Fatalf("AUTHHOST_AUDIT_BENCH_EVENTS=%q: want a number ≥ 1000", v)
		}
		return n
	}
	return 100_000
}

var benchActions = []string{"auth.sign-in", "auth.sign-out", "auth.sign-up", "auth.sso.callback", "authz.denied",
	"agents.create", "agents.update", "agents.delete", "workflows.run", "admin.role.assign"}

// benchEvent is event i of n, spread over the 30 days before end.
func benchEvent(r *rand.Rand, i, n int, end time.Time) auth.AuditEvent {
	span := 30 * 24 * time.Hour
	e := auth.AuditEvent{
		ID:        fmt.Sprintf("ev-%09d", i),
		Timestamp: end.Add(-span + time.Duration(int64(span)/int64(n)*int64(i))),
		Action:    benchActions[r.IntN(len(benchActions))],
		Outcome:   auth.OutcomeSuccess,
	}
	switch p := r.IntN(100); {
	case p < 80:
		u := r.IntN(1000)
		e.Actor = auth.AuditActor{Type: auth.ActorUser, ID: fmt.Sprintf("user-%04d", u), Email: fmt.Sprintf("person%04d@example.com", u), IP: "10.0.0.1"}
	case p < 90:
		e.Actor = auth.AuditActor{Type: auth.ActorSystem, ID: "system"}
	default:
		e.Actor = auth.AuditActor{Type: auth.ActorAPIKey, ID: fmt.Sprintf("key-%02d", r.IntN(50))}
	}
	switch p := r.IntN(100); {
	case p < 10:
		e.Outcome = auth.OutcomeFailure
	case p < 15:
		e.Outcome = auth.OutcomeDenied
	}
	if r.IntN(2) == 0 {
		e.Resource = &auth.AuditResource{Type: "agent", ID: fmt.Sprintf("agent-%05d", r.IntN(200)), Name: "Support bot"}
	}
	return e
}

// seed copies n events into the table (COPY, as Log would write them),
// builds their hourly counts and vacuums both tables as autovacuum would.
func seed(b *testing.B, s *Store, n int, end time.Time) {
	b.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == n {
			return nil, nil
		}
		e := benchEvent(r, i, n, end)
		i++
		return row(&e)
	})
	if _, err := s.pool.CopyFrom(b.Context(), pgx.Identifier{"authhost_audit"}, columns, src); err != nil {
		b.Fatalf("seed: %v", err)
	}
	// COPY bypasses Log, which keeps the hourly counts and the search
	// terms: build them.
	if _, err := s.pool.Exec(b.Context(), `INSERT INTO authhost_audit_counts (hour, actor_type, outcome, action, shard, n)
		SELECT ts / $1, actor_type, outcome, action, 0, count(*) FROM authhost_audit GROUP BY 1, 2, 3, 4`, hourNanos); err != nil {
		b.Fatal(err)
	}
	if _, err := s.pool.Exec(b.Context(), `INSERT INTO authhost_audit_terms SELECT DISTINCT unnest(search_fields) FROM authhost_audit`); err != nil {
		b.Fatal(err)
	}
	for _, table := range []string{"authhost_audit", "authhost_audit_counts", "authhost_audit_terms"} {
		if _, err := s.pool.Exec(b.Context(), "VACUUM ANALYZE "+table); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAudit seeds benchEvents events (not part of the normal test
// run: benchmarks run only with -bench) and reports, per filter
// combination the audit page offers, the latency of one page (limit 50,
// Total included) as p50/p99; the export rate; and retention deleting a
// day of events while writers log.
//
//	AUTHHOST_AUDIT_BENCH_EVENTS=1000000 go test -run '^$' -bench Audit -benchtime 100x ./auth/builtin/audit/pgaudit
func BenchmarkAudit(b *testing.B) {
	n := benchEvents(b)
	st, err := pgstore.Open(b.Context(), pgtest.NewDatabase(b), pgstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	s := New(st.Pool(), Options{})
	end := time.Now().UTC()
	t0 := time.Now()
	seed(b, s, n, end)
	b.Logf("seeded %d events in %v", n, time.Since(t0).Round(time.Millisecond))

	day := 24 * time.Hour
	queries := []struct {
		name string
		f    auth.AuditFilter
	}{
		{"none", auth.AuditFilter{}},
		{"actor_type", auth.AuditFilter{ActorType: auth.ActorAPIKey}},
		{"outcome", auth.AuditFilter{Outcome: auth.OutcomeDenied}},
		{"action_prefix", auth.AuditFilter{ActionPrefix: "agents."}},
		{"date_range_1d", auth.AuditFilter{Start: end.Add(-3 * day), End: end.Add(-2 * day)}},
		{"text", auth.AuditFilter{Text: "person0042"}},
		{"actor_id", auth.AuditFilter{ActorID: "user-0042"}},
		{"resource", auth.AuditFilter{ResourceType: "agent", ResourceID: "agent-00042"}},
		{"type+outcome+prefix+range", auth.AuditFilter{ActorType: auth.ActorUser, Outcome: auth.OutcomeFailure, ActionPrefix: "auth.", Start: end.Add(-7 * day), End: end}},
		{"text+outcome+range", auth.AuditFilter{Text: "example.com", Outcome: auth.OutcomeFailure, Start: end.Add(-7 * day), End: end}},
	}
	// The baseline: the key-value audit store on badger with the same
	// events, at sizes where its scans finish in reasonable time.
	backends := []struct {
		name string
		s    auth.AuditStore
	}{{"postgres", s}}
	if n <= 200_000 {
		kv := audit.NewStore(stores.Badger(b), audit.StoreOptions{})
		r := rand.New(rand.NewPCG(1, 2))
		t0 := time.Now()
		for i := range n {
			if err := kv.Log(b.Context(), benchEvent(r, i, n, end)); err != nil {
				b.Fatal(err)
			}
		}
		b.Logf("seeded the badger baseline in %v", time.Since(t0).Round(time.Millisecond))
		backends = append(backends, struct {
			name string
			s    auth.AuditStore
		}{"badger-kv", kv})
	}
	for _, q := range queries {
		for _, be := range backends {
			b.Run("store="+be.name+"/query="+q.name, func(b *testing.B) {
				benchQuery(b, be.s, q.f)
			})
		}
	}
	b.Run("export_jsonl", func(b *testing.B) {
		var events int
		start := time.Now()
		for b.Loop() {
			cw := &countWriter{}
			if err := s.Export(b.Context(), auth.AuditFilter{}, auth.ExportJSONL, cw); err != nil {
				b.Fatal(err)
			}
			events += cw.lines
		}
		if events != n*b.N {
			b.Fatalf("exported %d events, want %d", events, n*b.N)
		}
		b.ReportMetric(float64(events)/time.Since(start).Seconds(), "events/s")
	})

	// Retention last: it removes the oldest day of the seed once, while
	// two writers log; the figures go to the log.
	ctx, cancel := context.WithCancel(b.Context())
	var wg sync.WaitGroup
	var writes, worst atomic.Int64
	for w := range 2 {
		wg.Go(func() {
			for ctx.Err() == nil {
				t := time.Now()
				err := s.Log(ctx, auth.AuditEvent{Action: "bench.write", Actor: auth.AuditActor{Type: auth.ActorSystem, ID: "w" + strconv.Itoa(w)}, Outcome: auth.OutcomeSuccess})
				if err != nil && ctx.Err() == nil {
					b.Error(err)
					return
				}
				d := int64(time.Since(t))
				for cur := worst.Load(); d > cur && !worst.CompareAndSwap(cur, d); cur = worst.Load() {
				}
				writes.Add(1)
			}
		})
	}
	t1 := time.Now()
	deleted, err := s.DeleteOlderThan(b.Context(), 29)
	took := time.Since(t1)
	cancel()
	wg.Wait()
	if err != nil {
		b.Fatal(err)
	}
	if deleted == 0 {
		b.Fatal("retention deleted nothing")
	}
	b.Logf("retention: deleted %d events in %v (%.0f/s) while 2 writers logged %d events, slowest write %v",
		deleted, took.Round(time.Millisecond), float64(deleted)/took.Seconds(), writes.Load(), time.Duration(worst.Load()).Round(time.Microsecond))
}

// countWriter counts JSON lines and drops them.
type countWriter struct{ lines int }

func (c *countWriter) Write(p []byte) (int, error) {
	for _, ch := range p {
		if ch == '\n' {
			c.lines++
		}
	}
	return len(p), nil
}

// benchQuery measures one page (limit 50, Total included) of f on s.
func benchQuery(b *testing.B, s auth.AuditStore, f auth.AuditFilter) {
	var lat []time.Duration
	for b.Loop() {
		t := time.Now()
		r, err := s.Query(b.Context(), f, auth.AuditPage{Limit: 50})
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t))
		if r.Total == 0 {
			b.Fatalf("filter %+v matches nothing", f)
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
