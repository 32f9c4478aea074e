package server

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authhost/authhost/auth"
)

// fakeExporter records export requests; actions[0] "fail:<code>" makes
// creation fail with that code.
type fakeExporter struct {
	mu   sync.Mutex
	reqs []auth.AuditExportRequest
}

func (f *fakeExporter) CreateAuditExport(_ context.Context, req auth.AuditExportRequest) (*auth.AuditExport, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.mu.Unlock()
	if len(req.Actions) > 0 && strings.HasPrefix(req.Actions[0], "fail:") {
		return nil, auth.Errorf(auth.Code(strings.TrimPrefix(req.Actions[0], "fail:")), "upstream said no (secret detail)")
	}
	return &auth.AuditExport{ID: "ex1", State: auth.AuditExportPending, CreatedAt: req.RangeEnd}, nil
}

func (f *fakeExporter) GetAuditExport(_ context.Context, id string) (*auth.AuditExport, error) {
	if id != "ex1" {
		return nil, auth.Errorf(auth.CodeNotFound, "no export %s", id)
	}
	return &auth.AuditExport{ID: "ex1", State: auth.AuditExportReady, URL: "https://dl.test/ex1"}, nil
}

func (f *fakeExporter) requests() []auth.AuditExportRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]auth.AuditExportRequest(nil), f.reqs...)
}

func TestAuditExportRoutes(t *testing.T) {
	t.Parallel()
	fake := &fakeExporter{}
	h := newHarness(t, func(c *Config) { c.Auth.AuditExporter = fake })
	owner := h.client(t)
	if r := owner.signIn(demoEmail, demoPassword); r.status != 200 {
		t.Fatalf("owner sign-in = %d %s", r.status, r.body)
	}
	viewer := h.client(t)
	if r := viewer.signUp("viewer@example.com", "a-good-password"); r.status != 201 {
		t.Fatalf("viewer sign-up = %d %s", r.status, r.body)
	}
	const rng = `"rangeStart":"2026-01-01T00:00:00Z","rangeEnd":"2026-01-31T23:59:59+01:00"`

	t.Run("create", func(t *testing.T) {
		r := owner.do("POST", "/api/audit/exports", `{`+rng+`,"actions":["auth.sign-in"],"actorIds":["u1","u2"],"targets":["agent"]}`, nil)
		if r.status != 201 {
			t.Fatalf("create = %d %s", r.status, r.body)
		}
		var ex auth.AuditExport
		if err := json.Unmarshal(r.body, &ex); err != nil || ex.ID != "ex1" || ex.State != "pending" || ex.URL != "" {
			t.Fatalf("create body %s: %v", r.body, err)
		}
		reqs := fake.requests()
		got := reqs[len(reqs)-1]
		if !got.RangeStart.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) || !got.RangeEnd.Equal(time.Date(2026, 1, 31, 22, 59, 59, 0, time.UTC)) ||
			strings.Join(got.Actions, ",") != "auth.sign-in" || strings.Join(got.ActorIDs, ",") != "u1,u2" || strings.Join(got.Targets, ",") != "agent" {
			t.Fatalf("exporter got %+v", got)
		}
		ev := h.events(t, auth.AuditFilter{Action: "audit.export", ResourceID: "ex1"})
		if len(ev) != 1 || ev[0].Outcome != auth.OutcomeSuccess || ev[0].Metadata["actions"] != "auth.sign-in" || ev[0].Metadata["state"] != "pending" {
			t.Fatalf("audit.export events %+v", ev)
		}
	})

	t.Run("get", func(t *testing.T) {
		r := owner.do("GET", "/api/audit/exports/ex1", "", nil)
		if r.status != 200 || r.json(t)["url"] != "https://dl.test/ex1" || r.json(t)["state"] != "ready" {
			t.Fatalf("get = %d %s", r.status, r.body)
		}
		if r := owner.do("GET", "/api/audit/exports/nope", "", nil); r.status != 404 {
			t.Fatalf("get unknown = %d %s", r.status, r.body)
		}
	})

	t.Run("validation", func(t *testing.T) {
		before := len(fake.requests())
		for _, tc := range []struct{ name, body, field string }{
			{"unknown field", `{` + rng + `,"format":"csv"}`, "format"},
			{"missing end", `{"rangeStart":"2026-01-01T00:00:00Z"}`, "rangeEnd"},
			{"bad time", `{"rangeStart":"yesterday","rangeEnd":"2026-01-01T00:00:00Z"}`, "rangeStart"},
			{"reversed", `{"rangeStart":"2026-02-01T00:00:00Z","rangeEnd":"2026-01-01T00:00:00Z"}`, "rangeEnd"},
			{"empty action", `{` + rng + `,"actions":[""]}`, "actions"},
			{"wrong type", `{` + rng + `,"actorIds":"u1"}`, "actorIds"},
		} {
			r := owner.do("POST", "/api/audit/exports", tc.body, nil)
			if r.status != 400 || r.json(t)["field"] != tc.field {
				t.Errorf("%s: %d %s, want 400 naming %s", tc.name, r.status, r.body, tc.field)
			}
		}
		if r := owner.do("POST", "/api/audit/exports", "rangeStart=x", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); r.status != 400 {
			t.Errorf("form body = %d", r.status)
		}
		if n := len(fake.requests()); n != before {
			t.Errorf("invalid bodies reached the exporter: %d calls", n-before)
		}
	})

	t.Run("provider errors", func(t *testing.T) {
		for code, status := range map[auth.Code]int{auth.CodeRateLimited: 429, auth.CodeUnavailable: 503, auth.CodeNotSupported: 501, auth.CodeInternal: 500} {
			r := owner.do("POST", "/api/audit/exports", `{`+rng+`,"actions":["fail:`+string(code)+`"]}`, nil)
			if r.status != status || r.json(t)["error"] != string(code) || strings.Contains(string(r.body), "secret detail") {
				t.Errorf("%s: %d %s, want %d without the provider's message", code, r.status, r.body, status)
			}
		}
		failed := h.events(t, auth.AuditFilter{Action: "audit.export", Outcome: auth.OutcomeFailure})
		if len(failed) != 4 {
			t.Errorf("failed exports audited: %d, want 4", len(failed))
		}
	})

	t.Run("permission", func(t *testing.T) {
		if r := viewer.do("POST", "/api/audit/exports", `{`+rng+`}`, nil); r.status != 403 {
			t.Errorf("viewer create = %d", r.status)
		}
		if r := viewer.do("GET", "/api/audit/exports/ex1", "", nil); r.status != 403 {
			t.Errorf("viewer get = %d", r.status)
		}
		if r := h.client(t).do("GET", "/api/audit/exports/ex1", "", nil); r.status != 401 {
			t.Errorf("anonymous get = %d", r.status)
		}
	})

	// /audit/exports/{id}, /audit/export and /audit/{id} do not shadow
	// each other.
	t.Run("routes do not collide", func(t *testing.T) {
		if r := owner.do("GET", "/api/audit/export?format=csv", "", nil); r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
			t.Errorf("stream export = %d %s", r.status, r.header.Get("Content-Type"))
		}
		ev := h.events(t, auth.AuditFilter{Action: "audit.export", ResourceID: "ex1"})
		if len(ev) == 0 {
			t.Fatal("no event to read back")
		}
		r := owner.do("GET", "/api/audit/"+ev[0].ID, "", nil)
		if r.status != 200 || r.json(t)["action"] != "audit.export" {
			t.Errorf("event by id = %d %s", r.status, r.body)
		}
		// An export id is not an event id, and an event id not an export id.
		if r := owner.do("GET", "/api/audit/exports/"+ev[0].ID, "", nil); r.status != 404 {
			t.Errorf("event id as export = %d %s", r.status, r.body)
		}
		if r := owner.do("GET", "/api/audit/ex1", "", nil); r.status != 404 {
			t.Errorf("export id as event = %d %s", r.status, r.body)
		}
	})
}

func TestAuditExportWithoutExporter(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	owner := h.client(t)
	if r := owner.signIn(demoEmail, demoPassword); r.status != 200 {
		t.Fatalf("owner sign-in = %d %s", r.status, r.body)
	}
	if r := owner.do("POST", "/api/audit/exports", `{"rangeStart":"2026-01-01T00:00:00Z","rangeEnd":"2026-02-01T00:00:00Z"}`, nil); r.status != 501 || r.json(t)["error"] != "not_supported" {
		t.Errorf("create = %d %s, want 501", r.status, r.body)
	}
	if r := owner.do("GET", "/api/audit/exports/ex1", "", nil); r.status != 501 {
		t.Errorf("get = %d %s, want 501", r.status, r.body)
	}
}
