package workos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authhost/authhost/internal/testenv/workos"
	"github.com/workos/workos-go/v4/pkg/auditlogs"
)

// exportBody is the body of POST /api/audit/exports.
type exportBody struct {
	RangeStart string   `json:"rangeStart"`
	RangeEnd   string   `json:"rangeEnd"`
	Actions    []string `json:"actions,omitempty"`
	ActorIDs   []string `json:"actorIds,omitempty"`
	Targets    []string `json:"targets,omitempty"`
}

// exportResult is authhost's AuditExport.
type exportResult struct {
	ID        string    `json:"id"`
	State     string    `json:"state"`
	URL       string    `json:"url"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// emulatorExport returns the export WorkOS recorded under id.
func emulatorExport(t *testing.T, id string) workos.AuditExport {
	t.Helper()
	for _, x := range emu.AuditExports() {
		if x.ID == id {
			return x
		}
	}
	t.Fatalf("WorkOS has no export %s", id)
	return workos.AuditExport{}
}

// TestAuditExportCreation has an owner ask authhost for a WorkOS Audit Logs
// export: authhost answers 201 with the pending export; WorkOS received the
// SDK's CreateExport body (organization, range, prefixed actions, actor ids,
// targets) and nothing else; polling the export through authhost reports it
// ready with WorkOS's download URL. The request is audited as audit.export.
// A member without audit:export is refused both routes.
func TestAuditExportCreation(t *testing.T) {
	t.Parallel()
	env := start(t, options{})
	owner := signedIn(t, env, newUser("olga", orgID, "owner").Email)
	admin := newUser("adam", orgID, "admin") // audit:read, not audit:export
	adminC := signedIn(t, env, admin.Email)

	body := exportBody{RangeStart: "2026-03-01T00:00:00+02:00", RangeEnd: "2026-03-31T23:59:59Z",
		Actions: []string{"auth.sso-callback", "auth.logout"}, ActorIDs: []string{admin.ID}, Targets: []string{"session"}}
	r := owner.Do(t, "POST", "/api/audit/exports", body)
	if r.Status != http.StatusCreated {
		t.Fatalf("create = %d %s", r.Status, r.Body)
	}
	var ex exportResult
	r.Decode(t, &ex)
	if !strings.HasPrefix(ex.ID, "audit_log_export_") || ex.State != "pending" || ex.URL != "" || ex.CreatedAt.IsZero() {
		t.Fatalf("created %s", r.Body)
	}

	sent := emulatorExport(t, ex.ID)
	var wire auditlogs.CreateExportOpts
	dec := json.NewDecoder(bytes.NewReader(sent.Raw))
	dec.DisallowUnknownFields() // exactly the SDK's shape
	if err := dec.Decode(&wire); err != nil {
		t.Fatalf("WorkOS got %s: %v", sent.Raw, err)
	}
	want := auditlogs.CreateExportOpts{OrganizationID: orgID, RangeStart: "2026-02-28T22:00:00.000Z", RangeEnd: "2026-03-31T23:59:59.000Z",
		Actions: []string{"authhost.auth.sso-callback", "authhost.auth.logout"}, ActorIds: []string{admin.ID}, Targets: []string{"session"}}
	if fmt.Sprintf("%+v", wire) != fmt.Sprintf("%+v", want) {
		t.Fatalf("WorkOS got  %+v\nwant        %+v", wire, want)
	}

	r = owner.Do(t, "GET", "/api/audit/exports/"+ex.ID, nil)
	var polled exportResult
	r.Decode(t, &polled)
	if r.Status != http.StatusOK || polled.ID != ex.ID || polled.State != "ready" || !strings.HasPrefix(polled.URL, emu.URL+"/audit_logs/exports/"+ex.ID) {
		t.Fatalf("poll = %d %s", r.Status, r.Body)
	}
	if r := owner.Do(t, "GET", "/api/audit/exports/audit_log_export_unknown", nil); r.Status != http.StatusNotFound {
		t.Fatalf("unknown export = %d %s", r.Status, r.Body)
	}

	// Audited in the built-in store, with the export id.
	r = owner.Do(t, "GET", "/api/audit?action=audit.export&resourceId="+ex.ID, nil)
	var page struct {
		Events []struct {
			Outcome  string         `json:"outcome"`
			Metadata map[string]any `json:"metadata"`
		} `json:"events"`
	}
	r.Decode(t, &page)
	if r.Status != http.StatusOK || len(page.Events) != 1 || page.Events[0].Outcome != "success" || page.Events[0].Metadata["actions"] != "auth.sso-callback,auth.logout" {
		t.Fatalf("audit.export events = %d %s", r.Status, r.Body)
	}

	if r := adminC.Do(t, "POST", "/api/audit/exports", body); r.Status != http.StatusForbidden {
		t.Errorf("admin create = %d %s, want 403", r.Status, r.Body)
	}
	if r := adminC.Do(t, "GET", "/api/audit/exports/"+ex.ID, nil); r.Status != http.StatusForbidden {
		t.Errorf("admin poll = %d %s, want 403", r.Status, r.Body)
	}
	if r := owner.Do(t, "POST", "/api/audit/exports", exportBody{RangeStart: "2026-03-01T00:00:00Z"}); r.Status != http.StatusBadRequest {
		t.Errorf("no rangeEnd = %d %s, want 400", r.Status, r.Body)
	}
	// Only the owner's export, of all requests naming this test's user,
	// reached WorkOS.
	n := 0
	for _, x := range emu.AuditExports() {
		if strings.Join(x.ActorIDs, ",") == admin.ID {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d exports for %s at WorkOS, want 1: refused requests reached it", n, admin.ID)
	}
}

// TestAuditExportCreationFailure makes WorkOS fail export creation and
// status: authhost answers with the status of the mapped error (429 for
// WorkOS's rate limit, 503 for an outage or a rejected key, 404 for an
// unknown export), audits the failed creation, shows no stack trace, and
// the next request works.
func TestAuditExportCreationFailure(t *testing.T) {
	env := start(t, options{everyAuditEvent: true})
	owner := signedIn(t, env, newUser("otto", orgID, "owner").Email)
	body := exportBody{RangeStart: "2026-03-01T00:00:00Z", RangeEnd: "2026-03-02T00:00:00Z"}
	for _, f := range workosFailures {
		t.Run(fmt.Sprint(f.status), func(t *testing.T) {
			emu.FailNext("/audit_logs/exports", f.status, 1)
			r := owner.Do(t, "POST", "/api/audit/exports", body)
			var e struct{ Error, Message string }
			r.Decode(t, &e)
			if r.Status != statusOfCode(f.code) || e.Error != f.code {
				t.Fatalf("create while WorkOS answers %d = %d %s, want %d %s", f.status, r.Status, r.Body, statusOfCode(f.code), f.code)
			}
			noStack(t, env, r.Body)

			r = owner.Do(t, "POST", "/api/audit/exports", body)
			var ex exportResult
			r.Decode(t, &ex)
			if r.Status != http.StatusCreated {
				t.Fatalf("create after the failure = %d %s", r.Status, r.Body)
			}
			emu.FailNext("/audit_logs/exports/", f.status, 1)
			if r := owner.Do(t, "GET", "/api/audit/exports/"+ex.ID, nil); r.Status != statusOfCode(f.code) {
				t.Fatalf("poll while WorkOS answers %d = %d %s", f.status, r.Status, r.Body)
			}
			if r := owner.Do(t, "GET", "/api/audit/exports/"+ex.ID, nil); r.Status != http.StatusOK {
				t.Fatalf("poll after the failure = %d %s", r.Status, r.Body)
			}
		})
	}
	r := owner.Do(t, "GET", "/api/audit?action=audit.export&outcome=failure", nil)
	var page struct {
		Total int `json:"total"`
	}
	r.Decode(t, &page)
	if page.Total != len(workosFailures) {
		t.Errorf("failed exports audited: %d, want %d", page.Total, len(workosFailures))
	}
}

// statusOfCode is authhost's HTTP status for an error code.
func statusOfCode(code string) int {
	switch code {
	case "rate_limited":
		return http.StatusTooManyRequests
	case "not_found":
		return http.StatusNotFound
	case "unavailable":
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// TestAuditExportNotOffered runs authhost with the built-in audit store
// only: no selected audit provider can export, so both routes answer 501
// (the workos plugin is loaded and could export, but is not selected for
// audit).
func TestAuditExportNotOffered(t *testing.T) {
	t.Parallel()
	env := start(t, options{audit: []string{"builtin"}})
	owner := signedIn(t, env, newUser("nora", orgID, "owner").Email)
	r := owner.Do(t, "POST", "/api/audit/exports", exportBody{RangeStart: "2026-03-01T00:00:00Z", RangeEnd: "2026-03-02T00:00:00Z", ActorIDs: []string{"nora-marker"}})
	if r.Status != http.StatusNotImplemented || !strings.Contains(string(r.Body), "not_supported") {
		t.Fatalf("create = %d %s, want 501", r.Status, r.Body)
	}
	if r := owner.Do(t, "GET", "/api/audit/exports/audit_log_export_x", nil); r.Status != http.StatusNotImplemented {
		t.Fatalf("poll = %d %s, want 501", r.Status, r.Body)
	}
	for _, x := range emu.AuditExports() {
		if strings.Join(x.ActorIDs, ",") == "nora-marker" {
			t.Fatalf("WorkOS was asked for export %s", x.ID)
		}
	}
}
