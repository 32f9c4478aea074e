package pgaudit_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/auth/builtin/audit"
	"github.com/authhost/authhost/auth/builtin/audit/pgaudit"
	"github.com/authhost/authhost/internal/testenv/stores"
)

// agreeCap is the total cap of the stores TestFiltersAgree compares, small
// so that some filters pass it.
const agreeCap = 40

// agreeEvents are n events shaped like the benchmark's (80% users of 30,
// system, API keys; 85/10/5% success/failure/denied; half with a
// resource) over the 10 days before end.
func agreeEvents(n int, end time.Time) []auth.AuditEvent {
	r := rand.New(rand.NewPCG(5, 6))
	actions := []string{"auth.sign-in", "auth.sign-out", "agents.create", "agents.delete", "admin.role.assign"}
	evs := make([]auth.AuditEvent, n)
	for i := range evs {
		e := auth.AuditEvent{
			ID:        fmt.Sprintf("ag-%04d", i),
			Timestamp: end.Add(-time.Duration(r.Int64N(int64(10 * 24 * time.Hour)))).Truncate(time.Microsecond),
			Action:    actions[r.IntN(len(actions))],
			Outcome:   auth.OutcomeSuccess,
		}
		switch p := r.IntN(100); {
		case p < 80:
			u := r.IntN(30)
			e.Actor = auth.AuditActor{Type: auth.ActorUser, ID: fmt.Sprintf("user-%02d", u), Email: fmt.Sprintf("Person%02d@Example.com", u)}
		case p < 90:
			e.Actor = auth.AuditActor{Type: auth.ActorSystem, ID: "system"}
		default:
			e.Actor = auth.AuditActor{Type: auth.ActorAPIKey, ID: fmt.Sprintf("key/%d", r.IntN(3))} // '/' must not split a secondary key
		}
		switch p := r.IntN(100); {
		case p < 10:
			e.Outcome = auth.OutcomeFailure
		case p < 15:
			e.Outcome = auth.OutcomeDenied
		}
		if r.IntN(2) == 0 {
			e.Resource = &auth.AuditResource{Type: "agent", ID: fmt.Sprintf("agent-%d", r.IntN(8)), Name: "Support bot"}
		}
		evs[i] = e
	}
	return evs
}

// TestFiltersAgree logs the same events into this store and the key-value
// store (on badger and on memory), each with a total cap of agreeCap, and
// checks that every filter combination the audit page offers (actor type
// × outcome × action prefix × text × date range) and the API's own filters
// return the same pages, walked by cursor and by offset, with the same
// Total and TotalCapped, and that Total is min(exact count, cap).
func TestFiltersAgree(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	end := time.Now().UTC().Truncate(time.Second)
	clock := func() time.Time { return end }
	pool := openPool(t)
	pg := pgaudit.New(pool, pgaudit.Options{Now: clock, TotalCap: agreeCap})
	kvs := map[string]*audit.Store{
		"badger": audit.NewStore(stores.Badger(t), audit.StoreOptions{Now: clock, TotalCap: agreeCap}),
		"memory": audit.NewStore(stores.Memory(t), audit.StoreOptions{Now: clock, TotalCap: agreeCap}),
	}
	evs := agreeEvents(400, end)
	for _, e := range evs {
		if err := pg.Log(ctx, e); err != nil {
			t.Fatal(err)
		}
		for _, kv := range kvs {
			if err := kv.Log(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
	}

	day := 24 * time.Hour
	var filters []auth.AuditFilter
	for _, typ := range []string{"", auth.ActorUser, auth.ActorSystem, auth.ActorAPIKey} {
		for _, outcome := range []string{"", auth.OutcomeSuccess, auth.OutcomeFailure, auth.OutcomeDenied} {
			for _, prefix := range []string{"", "auth."} {
				for _, text := range []string{"", "person07", "EXAMPLE.COM", "nobody"} {
					for _, days := range []int{0, 1, 7} {
						f := auth.AuditFilter{ActorType: typ, Outcome: outcome, ActionPrefix: prefix, Text: text}
						if days > 0 {
							f.Start, f.End = end.Add(-time.Duration(days)*day), end
						}
						filters = append(filters, f)
					}
				}
			}
		}
	}
	filters = append(filters,
		auth.AuditFilter{ActorID: "user-07"}, auth.AuditFilter{ActorID: "key/1"}, auth.AuditFilter{ActorID: "key"},
		auth.AuditFilter{ActorID: "user-07", Outcome: auth.OutcomeSuccess, Start: end.Add(-5 * day), End: end.Add(-2 * day)},
		auth.AuditFilter{ResourceType: "agent", ResourceID: "agent-3"}, auth.AuditFilter{ResourceType: "agent"},
		auth.AuditFilter{ResourceID: "agent-3", Outcome: auth.OutcomeFailure}, auth.AuditFilter{Action: "agents.*"},
		auth.AuditFilter{Action: "auth.sign-in", ActorType: auth.ActorAPIKey}, auth.AuditFilter{Text: "key/"},
		auth.AuditFilter{Text: "support"}, auth.AuditFilter{Text: "e"}, auth.AuditFilter{Text: "e", Outcome: auth.OutcomeDenied}, // "e": more terms than pgaudit looks up
		auth.AuditFilter{Text: "agent-3", Outcome: auth.OutcomeDenied},
		auth.AuditFilter{Start: end.Add(-day), End: end.Add(-day)}, auth.AuditFilter{End: end.Add(-9 * day)},
	)

	// walk returns every page of f: by cursor (limit 7) and by offset
	// (limit 11), as far as 4 pages.
	walk := func(s auth.AuditStore, f auth.AuditFilter) []page {
		var out []page
		cursor := ""
		for range 4 {
			r, err := s.Query(ctx, f, auth.AuditPage{Limit: 7, Cursor: cursor})
			if err != nil {
				t.Fatalf("Query(%+v): %v", f, err)
			}
			out = append(out, pageOf(r))
			if cursor = r.NextCursor; cursor == "" {
				break
			}
		}
		for off := 0; off < 44; off += 11 {
			r, err := s.Query(ctx, f, auth.AuditPage{Limit: 11, Offset: off})
			if err != nil {
				t.Fatalf("Query(%+v): %v", f, err)
			}
			out = append(out, pageOf(r))
		}
		return out
	}
	capped := 0
	for _, f := range filters {
		exact, err := kvs["memory"].Count(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := pg.Count(ctx, f); err != nil || n != exact {
			t.Errorf("filter %+v: postgres Count = %d, %v; key-value store %d", f, n, err, exact)
		}
		if exact > agreeCap {
			capped++
		}
		want := walk(kvs["memory"], f)
		for i, p := range want {
			if p.total != min(exact, agreeCap) || p.capped != (exact > agreeCap) {
				t.Errorf("filter %+v: page %d: total %d (capped %v); exact count %d, cap %d", f, i, p.total, p.capped, exact, agreeCap)
			}
		}
		for name, s := range map[string]auth.AuditStore{"postgres": pg, "badger": kvs["badger"]} {
			if got := walk(s, f); !slices.EqualFunc(got, want, func(a, b page) bool {
				return slices.Equal(a.ids, b.ids) && a.total == b.total && a.capped == b.capped
			}) {
				t.Errorf("filter %+v:\n%s: %v\nmemory: %v", f, name, got, want)
			}
		}
	}
	if capped == 0 || capped == len(filters) {
		t.Fatalf("%d of %d filters pass the cap: the seed does not test both sides of it", capped, len(filters))
	}
}

// page is what TestFiltersAgree compares of one page.
type page struct {
	ids    []string
	total  int
	capped bool
}

func pageOf(r *auth.AuditResult) page {
	p := page{total: r.Total, capped: r.TotalCapped}
	for _, e := range r.Events {
		p.ids = append(p.ids, e.ID)
	}
	return p
}

// TestScanTotalCap: a free text found in more distinct terms than the
// store looks up (no index narrows it: every event is read to count it)
// is counted only up to ScanTotalCap; an indexed filter is still counted
// up to TotalCap, and both report totalCapped only when more match.
func TestScanTotalCap(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	end := time.Now().UTC().Truncate(time.Second)
	clock := func() time.Time { return end }
	pool := openPool(t)
	const totalCap, scanCap = 1000, 25
	capped := pgaudit.New(pool, pgaudit.Options{Now: clock, TotalCap: totalCap, ScanTotalCap: scanCap})
	exact := pgaudit.New(pool, pgaudit.Options{Now: clock, TotalCap: 1 << 30, ScanTotalCap: 1 << 30})
	for _, e := range agreeEvents(400, end) {
		if err := capped.Log(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name       string
		f          auth.AuditFilter
		cap        int
		wantCapped bool
	}{
		{"common text: scanned", auth.AuditFilter{Text: "e"}, scanCap, true},
		{"common text with outcome: scanned", auth.AuditFilter{Text: "E", Outcome: auth.OutcomeSuccess}, scanCap, true},
		{"text in a few terms: indexed", auth.AuditFilter{Text: "person0"}, totalCap, false},
		{"no text", auth.AuditFilter{Outcome: auth.OutcomeSuccess}, totalCap, false},
		{"no match", auth.AuditFilter{Text: "nobody"}, scanCap, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := exact.Query(ctx, tc.f, auth.AuditPage{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			got, err := capped.Query(ctx, tc.f, auth.AuditPage{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if want.TotalCapped {
				t.Fatalf("the uncapped store capped at %d", want.Total)
			}
			if tc.f.Text != "nobody" && want.Total <= scanCap {
				t.Fatalf("only %d events match: the case cannot tell the two caps apart", want.Total)
			}
			if got.TotalCapped != tc.wantCapped || got.TotalCapped != (want.Total > tc.cap) {
				t.Fatalf("totalCapped = %v with %d matches, want %v (cap %d)", got.TotalCapped, want.Total, tc.wantCapped, tc.cap)
			}
			if wantTotal := min(want.Total, tc.cap); got.Total != wantTotal {
				t.Fatalf("total = %d, want %d (%d matches, cap %d)", got.Total, wantTotal, want.Total, tc.cap)
			}
			if !slices.EqualFunc(got.Events, want.Events, func(a, b auth.AuditEvent) bool { return a.ID == b.ID }) {
				t.Fatal("the capped store's page holds other events")
			}
		})
	}
}
