package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/internal/testenv/stores"
	"github.com/authhost/authhost/store"
)

// checkKeys fails t unless the secondary keys in st are exactly those of
// its events: none missing, none orphaned.
func checkKeys(t *testing.T, ctx context.Context, st store.Store) {
	t.Helper()
	want := map[string]bool{}
	err := st.Scan(ctx, evPrefix, store.ScanOptions{}, func(k string, v []byte) error {
		var e auth.AuditEvent
		if err := json.Unmarshal(v, &e); err != nil {
			return err
		}
		for _, ix := range ixKeys(&e, k[len(evPrefix):]) {
			want[ix] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var orphans []string
	err = st.Scan(ctx, ixPrefix, store.ScanOptions{KeysOnly: true}, func(k string, _ []byte) error {
		if !want[k] {
			orphans = append(orphans, k)
		}
		delete(want, k)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(orphans) > 0 || len(want) > 0 {
		t.Fatalf("%d orphaned secondary keys (first: %q), %d missing", len(orphans), orphans[:min(3, len(orphans))], len(want))
	}
}

// TestSecondaryKeysFollowEvents checks on every backend that Log writes
// an event's secondary keys and retention deletes them with it, while
// writers log, readers query by every indexed dimension and retention
// runs, all at once (run with -race): afterwards no key is orphaned or
// missing, and the indexed queries found only matching events.
func TestSecondaryKeysFollowEvents(t *testing.T) {
	t.Parallel()
	for name, open := range stores.Backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			now := time.Now().UTC()
			st := open(t)
			s := NewStore(st, StoreOptions{Now: func() time.Time { return now }})
			// Old events for retention to delete, young ones to keep.
			for i := range 60 {
				e := auth.AuditEvent{ID: fmt.Sprintf("old-%d", i), Timestamp: now.Add(-10*24*time.Hour - time.Duration(i)*time.Minute),
					Action: "a.b", Actor: auth.AuditActor{Type: auth.ActorAPIKey, ID: "k/" + fmt.Sprint(i%3)}, Outcome: auth.OutcomeDenied,
					Resource: &auth.AuditResource{Type: "agent", ID: "r" + fmt.Sprint(i%2)}}
				if err := s.Log(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
			filters := []auth.AuditFilter{{ActorID: "k/1"}, {ResourceType: "agent", ResourceID: "r1"},
				{Outcome: auth.OutcomeDenied}, {ActorType: auth.ActorAPIKey}}
			var wg sync.WaitGroup
			for w := range 3 {
				wg.Go(func() {
					for i := range 40 {
						e := auth.AuditEvent{ID: fmt.Sprintf("new-%d-%d", w, i), Action: "a.b", Outcome: auth.OutcomeDenied,
							Actor: auth.AuditActor{Type: auth.ActorAPIKey, ID: "k/" + fmt.Sprint(i%3)}}
						if i%2 == 0 {
							e.Resource = &auth.AuditResource{Type: "agent", ID: "r1"}
						}
						if err := s.Log(ctx, e); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Go(func() {
				if _, err := s.DeleteOlderThan(ctx, 5); err != nil {
					t.Error(err)
				}
			})
			for _, f := range filters {
				wg.Go(func() {
					for range 10 {
						r, err := s.Query(ctx, f, auth.AuditPage{Limit: 20})
						if err != nil {
							t.Error(err)
							return
						}
						for _, e := range r.Events {
							if !compile(f).match(&e) {
								t.Errorf("filter %+v returned %+v", f, e)
							}
						}
					}
				})
			}
			wg.Wait()
			if t.Failed() {
				return
			}
			checkKeys(t, ctx, st)
			for _, f := range filters {
				n, err := s.Count(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				want := map[string]int{"k/1": 39, "agent": 60, auth.OutcomeDenied: 120, auth.ActorAPIKey: 120}[f.ActorID+f.ResourceType+f.Outcome+f.ActorType]
				if n != want {
					t.Errorf("after retention, %+v counts %d, want %d", f, n, want)
				}
			}
		})
	}
}

// TestSecondaryKeysForOlderEvents checks that events logged before the
// secondary keys existed (only their audit/ev and audit/id keys) get them
// on the first indexed query, which then finds them.
func TestSecondaryKeysForOlderEvents(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := stores.Badger(t)
	base := time.Now().UTC().Add(-time.Hour)
	var ids []string
	for i := range 1200 { // more than one batch of buildIndex
		e := auth.AuditEvent{ID: fmt.Sprintf("e%04d", i), Timestamp: base.Add(time.Duration(i) * time.Millisecond), Action: "x",
			Actor: auth.AuditActor{Type: auth.ActorUser, ID: "u" + fmt.Sprint(i%4)}, Outcome: auth.OutcomeSuccess}
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		key := evKey(e.Timestamp.UnixNano(), e.ID)
		if err := st.Put(ctx, key, b, 0); err != nil {
			t.Fatal(err)
		}
		if err := st.Put(ctx, idKey(e.ID), []byte(key), 0); err != nil {
			t.Fatal(err)
		}
		if i%4 == 2 {
			ids = append(ids, e.ID)
		}
	}
	s := NewStore(st, StoreOptions{})
	var got []string
	cursor := ""
	for {
		r, err := s.Query(ctx, auth.AuditFilter{ActorID: "u2"}, auth.AuditPage{Limit: MaxLimit, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		if r.Total != len(ids) || r.TotalCapped {
			t.Fatalf("Total = %d (capped %v), want %d", r.Total, r.TotalCapped, len(ids))
		}
		for _, e := range r.Events {
			got = append(got, e.ID)
		}
		if cursor = r.NextCursor; cursor == "" {
			break
		}
	}
	slices.Reverse(got)
	if !slices.Equal(got, ids) {
		t.Fatalf("found %d events, want %d", len(got), len(ids))
	}
	if _, err := st.Get(ctx, ixMarker); err != nil {
		t.Fatalf("marker: %v", err)
	}
	checkKeys(t, ctx, st)
}

// TestCappedTotal checks Total and TotalCapped around the cap (5) for
// unfiltered, time-only and indexed filters, with offsets and cursors.
func TestCappedTotal(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		events      int // every other one by actor "a", the rest by "b"
		f           auth.AuditFilter
		page        auth.AuditPage
		cursorPages int // follow NextCursor this many times first
		total       int
		capped      bool
		events0     string // id of the page's first event
	}{
		{"empty", 0, auth.AuditFilter{}, auth.AuditPage{}, 0, 0, false, ""},
		{"below the cap", 4, auth.AuditFilter{}, auth.AuditPage{}, 0, 4, false, "e03"},
		{"at the cap", 5, auth.AuditFilter{}, auth.AuditPage{Limit: 2}, 0, 5, false, "e04"},
		{"one over", 6, auth.AuditFilter{}, auth.AuditPage{Limit: 2}, 0, 5, true, "e05"},
		{"one over, whole page", 6, auth.AuditFilter{}, auth.AuditPage{Limit: 10}, 0, 5, true, "e05"},
		{"far over", 30, auth.AuditFilter{}, auth.AuditPage{Limit: 2}, 0, 5, true, "e29"},
		{"offset past the cap", 30, auth.AuditFilter{}, auth.AuditPage{Limit: 2, Offset: 20}, 0, 5, true, "e09"},
		{"offset past every match", 4, auth.AuditFilter{}, auth.AuditPage{Offset: 9}, 0, 4, false, ""},
		{"cursor past the cap", 30, auth.AuditFilter{}, auth.AuditPage{Limit: 4}, 3, 5, true, "e17"},
		{"cursor, few matches", 4, auth.AuditFilter{}, auth.AuditPage{Limit: 1}, 2, 4, false, "e01"},
		{"time only, over", 30, auth.AuditFilter{Start: base.Add(10 * time.Second), End: base.Add(20 * time.Second)}, auth.AuditPage{Limit: 2}, 0, 5, true, "e20"},
		{"time only, at", 30, auth.AuditFilter{Start: base.Add(10 * time.Second), End: base.Add(14 * time.Second)}, auth.AuditPage{Limit: 2}, 0, 5, false, "e14"},
		{"indexed, over", 30, auth.AuditFilter{ActorID: "a"}, auth.AuditPage{Limit: 2}, 0, 5, true, "e28"},
		{"indexed, at", 10, auth.AuditFilter{ActorID: "b"}, auth.AuditPage{Limit: 2}, 0, 5, false, "e09"},
		{"indexed, cursor", 30, auth.AuditFilter{ActorID: "a"}, auth.AuditPage{Limit: 2}, 1, 5, true, "e24"},
		{"scanned filter, over", 30, auth.AuditFilter{Action: "x"}, auth.AuditPage{Limit: 2}, 0, 5, true, "e29"},
		{"scanned filter, under", 30, auth.AuditFilter{Text: "b", End: base.Add(7 * time.Second)}, auth.AuditPage{Limit: 2}, 0, 4, false, "e07"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := NewStore(stores.Memory(t), StoreOptions{TotalCap: 5})
			for i := range tc.events {
				actor := "a"
				if i%2 == 1 {
					actor = "b"
				}
				e := auth.AuditEvent{ID: fmt.Sprintf("e%02d", i), Timestamp: base.Add(time.Duration(i) * time.Second), Action: "x",
					Actor: auth.AuditActor{Type: auth.ActorUser, ID: actor}, Outcome: auth.OutcomeSuccess}
				if err := s.Log(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
			p := tc.page
			for range tc.cursorPages {
				r, err := s.Query(ctx, tc.f, p)
				if err != nil {
					t.Fatal(err)
				}
				p.Cursor = r.NextCursor
			}
			r, err := s.Query(ctx, tc.f, p)
			if err != nil {
				t.Fatal(err)
			}
			first := ""
			if len(r.Events) > 0 {
				first = r.Events[0].ID
			}
			if r.Total != tc.total || r.TotalCapped != tc.capped || first != tc.events0 {
				t.Fatalf("Total %d, capped %v, first %q; want %d, %v, %q", r.Total, r.TotalCapped, first, tc.total, tc.capped, tc.events0)
			}
			if n, err := s.Count(ctx, tc.f); err != nil || (n > 5) != tc.capped || (!tc.capped && n != tc.total) {
				t.Fatalf("Count = %d, %v: disagrees with Total %d (capped %v)", n, err, r.Total, tc.capped)
			}
		})
	}
}

// TestMarkerOnFreshStore checks that the first Log into a store without
// events marks it indexed (its first indexed query walks nothing), and
// that one into a store with older, unindexed events does not.
func TestMarkerOnFreshStore(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e := auth.AuditEvent{Action: "x", Actor: auth.AuditActor{Type: auth.ActorUser, ID: "u"}, Outcome: auth.OutcomeSuccess}
	fresh := stores.Memory(t)
	if err := NewStore(fresh, StoreOptions{}).Log(ctx, e); err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.Get(ctx, ixMarker); err != nil {
		t.Fatalf("fresh store: marker: %v", err)
	}
	older := stores.Memory(t)
	if err := older.Put(ctx, evKey(1, "old"), []byte(`{"id":"old","action":"x","actor":{"type":"user","id":"u"},"outcome":"success"}`), 0); err != nil {
		t.Fatal(err)
	}
	s := NewStore(older, StoreOptions{})
	if err := s.Log(ctx, e); err != nil {
		t.Fatal(err)
	}
	if _, err := older.Get(ctx, ixMarker); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("store with unindexed events: marker: %v", err)
	}
	if n, err := s.Count(ctx, auth.AuditFilter{ActorID: "u"}); err != nil || n != 2 {
		t.Fatalf("Count by actor = %d, %v; want 2 (the older event indexed on the way)", n, err)
	}
}
