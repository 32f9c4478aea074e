package authtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authhost/authhost/auth"
)

// AuditCSVHeader is the header row every CSV audit export starts with.
const AuditCSVHeader = "id,timestamp,actorType,actorId,actorEmail,action,resourceType,resourceId,outcome,durationMs,ip,userAgent"

// TestAuditLogger checks an auth.AuditLogger: events with and without id
// and timestamp are accepted, also concurrently.
func TestAuditLogger(t *testing.T, newLogger func(t *testing.T) auth.AuditLogger) {
	t.Helper()
	t.Run("Log", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		l := newLogger(t)
		events := []auth.AuditEvent{
			{Actor: auth.AuditActor{Type: auth.ActorUser, ID: "u1"}, Action: "auth.sign-in", Outcome: auth.OutcomeSuccess},
			{ID: "fixed-id-1", Timestamp: time.Now().Add(-time.Minute), Actor: auth.AuditActor{Type: auth.ActorSystem, ID: "system"}, Action: "settings.update", Outcome: auth.OutcomeFailure,
				Resource: &auth.AuditResource{Type: "settings", ID: "s1", Name: "Settings"}, Metadata: map[string]any{"error": "boom"}, DurationMS: 12},
			{Actor: auth.AuditActor{Type: auth.ActorAPIKey, ID: "k1", IP: "10.0.0.1", UserAgent: "curl"}, Action: "agents.delete", Outcome: auth.OutcomeDenied},
		}
		for _, e := range events {
			if err := l.Log(ctx, e); err != nil {
				t.Fatalf("Log(%+v): %v", e, err)
			}
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		l := newLogger(t)
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for i := range 100 {
			wg.Go(func() {
				errs <- l.Log(ctx, auth.AuditEvent{Actor: auth.AuditActor{Type: auth.ActorUser, ID: fmt.Sprint(i)}, Action: "x.y", Outcome: auth.OutcomeSuccess})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	})
}

// auditFixture is a fixed data set for filter tests; base is the time of
// the oldest event and events are one minute apart, newest last.
func auditFixture(base time.Time) []auth.AuditEvent {
	res := func(typ, id, name string) *auth.AuditResource {
		return &auth.AuditResource{Type: typ, ID: id, Name: name}
	}
	user := func(id, email string) auth.AuditActor {
		return auth.AuditActor{Type: auth.ActorUser, ID: id, Email: email}
	}
	evs := []auth.AuditEvent{
		{ID: "e0", Actor: user("alice", "Alice@Example.com"), Action: "auth.sign-in", Outcome: auth.OutcomeSuccess},
		{ID: "e1", Actor: user("bob", "bob@example.com"), Action: "auth.sign-in", Outcome: auth.OutcomeFailure},
		{ID: "e2", Actor: user("alice", "Alice@Example.com"), Action: "agents.create", Resource: res("agent", "a1", "Support Bot"), Outcome: auth.OutcomeSuccess},
		{ID: "e3", Actor: user("alice", "Alice@Example.com"), Action: "agentsXcreate", Resource: res("agent", "a2", ""), Outcome: auth.OutcomeSuccess},
		{ID: "e4", Actor: auth.AuditActor{Type: auth.ActorSystem, ID: "system"}, Action: "workflows.run", Resource: res("workflow", "w1", "Nightly"), Outcome: auth.OutcomeSuccess},
		{ID: "e5", Actor: auth.AuditActor{Type: auth.ActorAPIKey, ID: "key-1"}, Action: "agents.delete", Resource: res("agent", "a1", "Support Bot"), Outcome: auth.OutcomeDenied},
		{ID: "e6", Actor: user("bob", "bob@example.com"), Action: "a+b(c)", Outcome: auth.OutcomeSuccess},
		{ID: "e7", Actor: user("carol", ""), Action: "auth.logout", Outcome: auth.OutcomeSuccess},
	}
	for i := range evs {
		evs[i].Timestamp = base.Add(time.Duration(i) * time.Minute)
	}
	return evs
}

func logAll(t *testing.T, ctx context.Context, s auth.AuditLogger, evs []auth.AuditEvent) {
	t.Helper()
	for _, e := range evs {
		if err := s.Log(ctx, e); err != nil {
			t.Fatalf("Log(%s): %v", e.ID, err)
		}
	}
}

func eventIDs(evs []auth.AuditEvent) []string {
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.ID
	}
	return ids
}

// TestAuditStore checks an auth.AuditStore: logging, Get, every filter,
// newest-first ordering, offset and cursor pagination, Count, retention,
// JSON-lines and CSV export (with the formula-injection guard) and
// concurrent logging. newStore returns an empty store.
func TestAuditStore(t *testing.T, newStore func(t *testing.T) auth.AuditStore) {
	t.Helper()
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	run := func(name string, fn func(t *testing.T, ctx context.Context, s auth.AuditStore)) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, t.Context(), newStore(t))
		})
	}
	query := func(t *testing.T, ctx context.Context, s auth.AuditStore, f auth.AuditFilter, p auth.AuditPage) *auth.AuditResult {
		t.Helper()
		r, err := s.Query(ctx, f, p)
		if err != nil {
			t.Fatalf("Query(%+v, %+v): %v", f, p, err)
		}
		return r
	}

	run("LogAndGet", func(t *testing.T, ctx context.Context, s auth.AuditStore) {
		e := auth.AuditEvent{
			ID: "evt-1", Timestamp: base,
			Actor:    auth.AuditActor{Type: auth.ActorUser, ID: "u1", Email: "u1@example.com", IP: "10.0.0.1", UserAgent: "test"},
			Action:   "agents.execute",
			Resource: &auth.AuditResource{Type: "agent", ID: "a1", Name: "Bot"},
			Outcome:  auth.OutcomeSuccess, Metadata: map[string]any{"k": "v"}, DurationMS: 42,
		}
		logAll(t, ctx, s, []auth.AuditEvent{e})
		got, err := s.Get(ctx, "evt-1")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if got.ID != e.ID || !got.Timestamp.Equal(e.Timestamp) || got.Actor != e.Actor || got.Action != e.Action ||
			got.Resource == nil || *got.Resource != *e.Resource || got.Outcome != e.Outcome || got.DurationMS != 42 || got.Metadata["k"] != "v" {
			t.Fatalf("Get = %+v, want %+v", got, e)
		}
		if _, err := s.Get(ctx, "missing"); !errors.Is(err, auth.ErrNotFound) {
			t.Fatalf("Get(missing) = %v, want ErrNotFound", err)
		}
	})

	run("Defaults", func(t *testing.T, ctx context.Context, s auth.AuditStore) {
		before := time.Now().Add(-time.Second)
		logAll(t, ctx, s, []auth.AuditEvent{
			{Actor: auth.AuditActor{Type: auth.ActorUser, ID: "u"}, Action: "a.b", Outcome: auth.OutcomeSuccess},
			{Actor: auth.AuditActor{Type: auth.ActorUser, ID: "u"}, Action: "a.b", Outcome: auth.OutcomeSuccess},
		})
		r := query(t, ctx, s, auth.AuditFilter{}, auth.AuditPage{})
		if len(r.Events) != 2 || r.Total != 2 {
			t.Fatalf("got %d events, total %d", len(r.Events), r.Total)
		}
		for _, e := range r.Events {
			if e.ID == "" || e.Timestamp.Before(before) || e.Timestamp.After(time.Now().Add(time.Second)) {
				t.Fatalf("defaults not filled: %+v", e)
			}
			if got, err := s.Get(ctx, e.ID); err != nil || got.ID != e.ID {
				t.Fatalf("Get(generated id) = %v, %v", got, err)
			}
		}
		if r.Events[0].ID == r.Events[1].ID {
			t.Fatal("generated ids collide")
		}
	})

	run("NewestFirst", func(t *testing.T, ctx context.Context, s auth.AuditStore) {
		evs := auditFixture(base)
		shuffled := slices.Clone(evs)
		for i, j := range []int{5, 2, 7, 0, 3, 6, 1, 4} {
			shuffled[i] = evs[j]
		}
		logAll(t, ctx, s, shuffled)
		r := query(t, ctx, s, auth.AuditFilter{}, auth.AuditPage{})
		if want := []string{"e7", "e6", "e5", "e4", "e3", "e2", "e1", "e0"}; !slices.Equal(eventIDs(r.Events), want) {
			t.Fatalf("order = %v, want %v", eventIDs(r.Events), want)
		}
	})

	run("Filters", func(t *testing.T, ctx context.Context, s auth.AuditStore) {
		logAll(t, ctx, s, auditFixture(base))
		at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Minute) }
		tests := []struct {
			name string
			f    auth.AuditFilter
			want []string
		}{
			{"none", auth.AuditFilter{}, []string{"e7", "e6", "e5", "e4", "e3", "e2", "e1", "e0"}},
			{"actor id", auth.AuditFilter{ActorID: "alice"}, []string{"e3", "e2", "e0"}},
			{"actor id exact", auth.AuditFilter{ActorID: "ali"}, nil},
			{"actor type", auth.AuditFilter{ActorType: auth.ActorSystem}, []string{"e4"}},
			{"actor type apikey", auth.AuditFilter{ActorType: auth.ActorAPIKey}, []string{"e5"}},
			{"action exact", auth.AuditFilter{Action: "auth.sign-in"}, []string{"e1", "e0"}},
			{"action exact is not prefix", auth.AuditFilter{Action: "auth"}, nil},
			{"wildcard", auth.AuditFilter{Action: "auth.*"}, []string{"e7", "e1", "e0"}},
			{"wildcard dot is literal", auth.AuditFilter{Action: "agents.*"}, []string{"e5", "e2"}},
			{"wildcard anchored at start", auth.AuditFilter{Action: "gents*"}, nil},
			{"wildcard anchored at end", auth.AuditFilter{Action: "*create"}, []string{"e3", "e2"}},
			{"wildcard middle", auth.AuditFilter{Action: "agents*create"}, []string{"e3", "e2"}},
			{"wildcard with metacharacters", auth.AuditFilter{Action: "a+b(*"}, []string{"e6"}},
			{"metacharacters literal", auth.AuditFilter{Action: "a+b(c)"}, []string{"e6"}},
			{"star alone", auth.AuditFilter{Action: "*"}, []string{"e7", "e6", "e5", "e4", "e3", "e2", "e1", "e0"}},
			{"action prefix", auth.AuditFilter{ActionPrefix: "auth."}, []string{"e7", "e1", "e0"}},
			{"action prefix agents.", auth.AuditFilter{ActionPrefix: "agents."}, []string{"e5", "e2"}},
			{"resource type", auth.AuditFilter{ResourceType: "agent"}, []string{"e5", "e3", "e2"}},
			{"resource id", auth.AuditFilter{ResourceID: "a1"}, []string{"e5", "e2"}},
			{"resource type and id", auth.AuditFilter{ResourceType: "workflow", ResourceID: "a1"}, nil},
			{"outcome", auth.AuditFilter{Outcome: auth.OutcomeFailure}, []string{"e1"}},
			{"outcome denied", auth.AuditFilter{Outcome: auth.OutcomeDenied}, []string{"e5"}},
			{"text email case-insensitive", auth.AuditFilter{Text: "alice@EXAMPLE"}, []string{"e3", "e2", "e0"}},
			{"text actor id", auth.AuditFilter{Text: "KEY-"}, []string{"e5"}},
			{"text resource name", auth.AuditFilter{Text: "support bot"}, []string{"e5", "e2"}},
			{"text resource type", auth.AuditFilter{Text: "workflow"}, []string{"e4"}},
			{"text resource id", auth.AuditFilter{Text: "a2"}, []string{"e3"}},
			{"text does not search action", auth.AuditFilter{Text: "logout"}, nil},
			{"start inclusive", auth.AuditFilter{Start: at(6)}, []string{"e7", "e6"}},
			{"end inclusive", auth.AuditFilter{End: at(1)}, []string{"e1", "e0"}},
			{"range inclusive", auth.AuditFilter{Start: at(2), End: at(4)}, []string{"e4", "e3", "e2"}},
			{"range one instant", auth.AuditFilter{Start: at(3), End: at(3)}, []string{"e3"}},
			{"range between events", auth.AuditFilter{Start: at(3).Add(time.Second), End: at(4).Add(-time.Second)}, nil},
			{"combined", auth.AuditFilter{ActorID: "alice", ActionPrefix: "agents", Outcome: auth.OutcomeSuccess, End: at(2)}, []string{"e2"}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := query(t, ctx, s, tc.f, auth.AuditPage{})
				if got := eventIDs(r.Events); !slices.Equal(got, tc.want) && len(got)+len(tc.want) > 0 {
					t.Fatalf("Query = %v, want %v", got, tc.want)
				}
				if r.Total != len(tc.want) {
					t.Fatalf("Total = %d, want %d", r.Total, len(tc.want))
				}
				n, err := s.Count(ctx, tc.f)
				if err != nil || n != len(tc.want) {
					t.Fatalf("Count = %d, %v; want %d", n, err, len(tc.want))
				}
			})
		}
	})

	run("OffsetPagination", func(t *testing.T, ctx context.Context, s auth.AuditStore) {
		logAll(t, ctx, s, auditFixture(base))
		all := []string{"e7", "e6", "e5", "e4", "e3", "e2", "e1", "e0"}
		for _, tc := range []struct {
			offset, limit int
			want          []string
		}{
			{0, 3, all[:3]},
			{3, 3, all[3:6]},
			{6, 3, all[6:]},
			{8, 3, nil},
			{100, 3, nil},
			{-5, 2, all[:2]},
		} {
			r := query(t, ctx, s, auth.AuditFilter{}, auth.AuditPage{Offset: tc.offset, Limit: tc.limit})
			if got := eventIDs(r.Events); !slices.Equal(got, tc.want) && len(got)+len(tc.want) > 0 {
				t.Errorf("offset %d limit %d = %v, want %v", tc.offset, tc.limit, got, tc.want)
			}
			if r.Total != 8 {
				t.Errorf("offset %d: Total = %d, want 8", tc.offset, r.Total)
			}
		}
		r := query(t, ctx, s, auth.AuditFilter{ActorID: "alice"}, auth.AuditPage{Offset: 1, Limit: 1})
		if !slices.Equal(eventIDs(r.Events), []string{"e2"}) || r.Total != 3 {
			t.Errorf("filtered page = %v total %d", eventIDs(r.Events), r.Total)
		}
	})

	run("CursorPagination", func(t *testing.T, ctx context.Context, s auth.AuditStore) {
		logAll(t, ctx, s, auditFixture(base))
		for _, tc := range []struct {
			f    auth.AuditFilter
			want []string
		}{
			{auth.AuditFilter{}, []string{"e7", "e6", "e5", "e4", "e3", "e2", "e1", "e0"}},
			{auth.AuditFilter{ActorID: "alice"}, []string{"e3", "e2", "e0"}},
		} {
			var got []string
			page := auth.AuditPage{Limit: 2}
			for i := 0; ; i++ {
				if i > 10 {
					t.Fatal("cursor pagination does not end")
				}
				r := query(t, ctx, s, tc.f, page)
				if r.Total != len(tc.want) {
					t.Fatalf("Total = %d, want %d", r.Total, len(tc.want))
				}
				got = append(got, eventIDs(r.Events)...)
				if r.NextCursor == "" {
					break
				}
				page.Cursor = r.NextCursor
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("cursor walk = %v, want %v", got, tc.want)
			}
		}
		if _, err := s.Query(ctx, auth.AuditFilter{}, auth.AuditPage{Cursor: "not a cursor!"}); err == nil {
			t.Fatal("Query accepted a malformed cursor")
		}
	})

	run("Limits", func(t *testing.T, ctx context.Context, s auth.AuditStore) {
		const n = 1005
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for w := range 5 {
			wg.Go(func() {
				for i := w; i < n; i += 5 {
					errs <- s.Log(ctx, auth.AuditEvent{Timestamp: base.Add(time.Duration(i) * time.Millisecond), Actor: auth.AuditActor{Type: auth.ActorUser, ID: "u"}, Action: "bulk.write", Outcome: auth.OutcomeSuccess})
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if r := query(t, ctx, s, auth.AuditFilter{}, auth.AuditPage{}); len(r.Events) != 50 || r.Total != n || r.NextCursor == "" {
			t.Fatalf("default page: %d events, total %d, cursor %q; want 50, %d, non-empty", len(r.Events), r.Total, r.NextCursor, n)
		}
		if r := query(t, ctx, s, auth.AuditFilter{}, auth.AuditPage{Limit: 5000}); len(r.Events) != 1000 || r.Total != n {
			t.Fatalf("capped page: %d events, total %d; want 1000, %d", len(r.Events), r.Total, n)
		}
	})

	run("Retention", func(t *testing.T, ctx context.Context, s auth.AuditStore) {
		now := time.Now().UTC().Truncate(time.Millisecond)
		day := 24 * time.Hour
		logAll(t, ctx, s, []auth.AuditEvent{
			{ID: "old-1", Timestamp: now.Add(-30 * day), Actor: auth.AuditActor{Type: auth.ActorSystem, ID: "s"}, Action: "x.y", Outcome: auth.OutcomeSuccess},
			{ID: "old-2", Timestamp: now.Add(-8 * day), Actor: auth.AuditActor{Type: auth.ActorSystem, ID: "s"}, Action: "x.y", Outcome: auth.OutcomeSuccess},
			{ID: "new-1", Timestamp: now.Add(-6 * day), Actor: auth.AuditActor{Type: auth.ActorSystem, ID: "s"}, Action: "x.y", Outcome: auth.OutcomeSuccess},
			{ID: "new-2", Timestamp: now, Actor: auth.AuditActor{Type: auth.ActorSystem, ID: "s"}, Action: "x.y", Outcome: auth.OutcomeSuccess},
		})
		n, err := s.DeleteOlderThan(ctx, 7)
		if err != nil || n != 2 {
			t.Fatalf("DeleteOlderThan(7) = %d, %v; want 2", n, err)
		}
		for _, id := range []string{"old-1", "old-2"} {
			if _, err := s.Get(ctx, id); !errors.Is(err, auth.ErrNotFound) {
				t.Fatalf("Get(%s) after retention = %v", id, err)
			}
		}
		r := query(t, ctx, s, auth.AuditFilter{}, auth.AuditPage{})
		if !slices.Equal(eventIDs(r.Events), []string{"new-2", "new-1"}) {
			t.Fatalf("left = %v", eventIDs(r.Events))
		}
		if n, err := s.DeleteOlderThan(ctx, 7); err != nil || n != 0 {
			t.Fatalf("second DeleteOlderThan = %d, %v", n, err)
		}
	})

	run("ExportJSONL", func(t *testing.T, ctx context.Context, s auth.AuditStore) {
		logAll(t, ctx, s, auditFixture(base))
		var buf bytes.Buffer
		if err := s.Export(ctx, auth.AuditFilter{ActorID: "alice"}, auth.ExportJSONL, &buf); err != nil {
			t.Fatal(err)
		}
		var ids []string
		sc := bufio.NewScanner(&buf)
		for sc.Scan() {
			var e auth.AuditEvent
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			ids = append(ids, e.ID)
		}
		if !slices.Equal(ids, []string{"e3", "e2", "e0"}) {
			t.Fatalf("exported %v", ids)
		}
		buf.Reset()
		if err := s.Export(ctx, auth.AuditFilter{ActorID: "nobody"}, auth.ExportJSONL, &buf); err != nil || buf.Len() != 0 {
			t.Fatalf("empty export = %q, %v", buf.String(), err)
		}
	})

	run("ExportCSV", func(t *testing.T, ctx context.Context, s auth.AuditStore) {
		var buf bytes.Buffer
		if err := s.Export(ctx, auth.AuditFilter{}, auth.ExportCSV, &buf); err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimRight(buf.String(), "\r\n"); got != AuditCSVHeader {
			t.Fatalf("empty CSV export = %q, want just the header", buf.String())
		}

		ts := base.Add(90 * time.Second)
		logAll(t, ctx, s, []auth.AuditEvent{{
			ID: "csv-1", Timestamp: ts,
			Actor:    auth.AuditActor{Type: auth.ActorUser, ID: "u,1", Email: `"quoted" <q@example.com>`, IP: "10.0.0.1", UserAgent: "line1\nline2"},
			Action:   "agents.update",
			Resource: &auth.AuditResource{Type: "agent", ID: "a1"},
			Outcome:  auth.OutcomeSuccess, DurationMS: 7,
		}})
		buf.Reset()
		if err := s.Export(ctx, auth.AuditFilter{}, auth.ExportCSV, &buf); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), `"""quoted"" <q@example.com>"`) || !strings.Contains(buf.String(), `"u,1"`) {
			t.Fatalf("CSV quoting not RFC 4180: %q", buf.String())
		}
		rows, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatalf("CSV does not parse: %v", err)
		}
		want := []string{"csv-1", "", "user", "u,1", `"quoted" <q@example.com>`, "agents.update", "agent", "a1", "success", "7", "10.0.0.1", "line1\nline2"}
		if len(rows) != 2 || strings.Join(rows[0], ",") != AuditCSVHeader {
			t.Fatalf("rows = %q", rows)
		}
		got := rows[1]
		if pt, err := time.Parse(time.RFC3339Nano, got[1]); err != nil || !pt.Equal(ts) {
			t.Fatalf("timestamp %q does not parse as RFC 3339 %v: %v", got[1], ts, err)
		}
		got[1] = ""
		if !slices.Equal(got, want) {
			t.Fatalf("row\n got %q\nwant %q", got, want)
		}
	})

	run("ExportCSVFormulaInjection", func(t *testing.T, ctx context.Context, s auth.AuditStore) {
		cases := []struct{ in, want string }{
			{"=SUM(A1:A9)", "'=SUM(A1:A9)"},
			{"=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"},
			{"+1+1", "'+1+1"},
			{"-2+3", "'-2+3"},
			{"@SUM(A1)", "'@SUM(A1)"},
			{"\t=1", "'\t=1"},
			{"\r=1", "'\r=1"},
			{"safe=value", "safe=value"},
			{"a-b", "a-b"},
			{"plain@example.com", "plain@example.com"},
		}
		for i, c := range cases {
			logAll(t, ctx, s, []auth.AuditEvent{{
				ID:        fmt.Sprintf("f%02d", i),
				Timestamp: base.Add(time.Duration(i) * time.Second),
				Actor:     auth.AuditActor{Type: auth.ActorUser, ID: "u", Email: c.in, UserAgent: c.in},
				Action:    "x.y", Outcome: auth.OutcomeSuccess,
			}})
		}
		var buf bytes.Buffer
		if err := s.Export(ctx, auth.AuditFilter{}, auth.ExportCSV, &buf); err != nil {
			t.Fatal(err)
		}
		r := csv.NewReader(&buf)
		rows, err := r.ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(cases)+1 {
			t.Fatalf("%d rows, want %d", len(rows), len(cases)+1)
		}
		for _, row := range rows[1:] {
			var i int
			fmt.Sscanf(row[0], "f%02d", &i)
			// encoding/csv normalises \r\n inside quoted fields; compare
			// after the same normalisation.
			want := strings.ReplaceAll(cases[i].want, "\r", "\n")
			for _, col := range []int{4, 11} { // actorEmail, userAgent
				if got := strings.ReplaceAll(row[col], "\r", "\n"); got != want {
					t.Errorf("case %q column %d = %q, want %q", cases[i].in, col, row[col], cases[i].want)
				}
			}
		}
	})

	run("ExportBadFormat", func(t *testing.T, ctx context.Context, s auth.AuditStore) {
		if err := s.Export(ctx, auth.AuditFilter{}, "xml", &bytes.Buffer{}); err == nil {
			t.Fatal("Export accepted format xml")
		}
	})

	run("DuplicateID", func(t *testing.T, ctx context.Context, s auth.AuditStore) {
		e := auth.AuditEvent{ID: "dup", Timestamp: base, Actor: auth.AuditActor{Type: auth.ActorUser, ID: "u"}, Action: "x.y", Outcome: auth.OutcomeSuccess}
		logAll(t, ctx, s, []auth.AuditEvent{e})
		e.Timestamp = base.Add(time.Minute)
		if err := s.Log(ctx, e); err == nil {
			t.Fatal("Log accepted a duplicate id")
		}
		if n, _ := s.Count(ctx, auth.AuditFilter{}); n != 1 {
			t.Fatalf("Count = %d after duplicate, want 1", n)
		}
	})

	run("ConcurrentLog", func(t *testing.T, ctx context.Context, s auth.AuditStore) {
		const workers, each = 16, 25
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					// Identical timestamps on purpose: ids must keep events apart.
					errs <- s.Log(ctx, auth.AuditEvent{Timestamp: base, Actor: auth.AuditActor{Type: auth.ActorUser, ID: fmt.Sprintf("w%d", w)}, Action: fmt.Sprintf("c.%d", i), Outcome: auth.OutcomeSuccess})
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		n, err := s.Count(ctx, auth.AuditFilter{})
		if err != nil || n != workers*each {
			t.Fatalf("Count = %d, %v; want %d (lost events)", n, err, workers*each)
		}
		r := query(t, ctx, s, auth.AuditFilter{ActorID: "w3"}, auth.AuditPage{Limit: 1000})
		seen := map[string]bool{}
		for _, e := range r.Events {
			seen[e.ID] = true
		}
		if len(seen) != each {
			t.Fatalf("worker 3 has %d distinct events, want %d", len(seen), each)
		}
	})
}
