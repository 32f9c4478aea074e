package pgaudit_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

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
	st, err := pgstore.Open(t.Context(), pgtest.NewDatabase(t), pgstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return pgaudit.New(st.Pool(), pgaudit.Options{})
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
