package main

import (
	"strings"
	"testing"
	"time"

	"github.com/authhost/authhost/abi"
)

func TestAuditExportCreateAndPoll(t *testing.T) {
	f := setup(t, map[string]any{"audit_organization_id": "org_AUDIT"})
	req := abi.AuditExportRequest{
		RangeStart: time.Date(2026, 3, 1, 0, 0, 0, 0, time.FixedZone("CET", 3600)),
		RangeEnd:   time.Date(2026, 3, 31, 23, 59, 59, 0, time.UTC),
		Actions:    []string{"auth.sign-in", "authhost.auth.logout"},
		ActorIDs:   []string{f.user.ID},
		Targets:    []string{"session"},
	}
	var ex abi.AuditExport
	if err := f.env.Invoke(abi.ExportAuditExportCreate, req, &ex); err != nil {
		t.Fatal(err)
	}
	if ex.ID == "" || ex.State != abi.AuditExportPending || ex.URL != "" || ex.CreatedAt.IsZero() {
		t.Fatalf("created %+v", ex)
	}
	sent := f.emu.AuditExports()
	if len(sent) != 1 {
		t.Fatalf("%d exports at WorkOS", len(sent))
	}
	s := sent[0]
	if s.OrganizationID != "org_AUDIT" || s.RangeStart != "2026-02-28T23:00:00.000Z" || s.RangeEnd != "2026-03-31T23:59:59.000Z" ||
		strings.Join(s.Actions, ",") != "authhost.auth.sign-in,authhost.auth.logout" || strings.Join(s.ActorIDs, ",") != f.user.ID ||
		strings.Join(s.Targets, ",") != "session" || len(s.Actors) != 0 || len(s.ActorNames) != 0 {
		t.Fatalf("WorkOS saw %+v (%s)", s, s.Raw)
	}
	var got abi.AuditExport
	if err := f.env.Invoke(abi.ExportAuditExportGet, abi.AuditExportGetRequest{ID: ex.ID}, &got); err != nil {
		t.Fatal(err)
	}
	if got.ID != ex.ID || got.State != abi.AuditExportReady || !strings.HasPrefix(got.URL, f.emu.URL) || got.UpdatedAt.Before(got.CreatedAt) {
		t.Fatalf("polled %+v", got)
	}

	// WorkOS's "Error" state, unknown and path-shaped ids.
	f.emu.SetExportState(ex.ID, "Error")
	var failed abi.AuditExport
	if err := f.env.Invoke(abi.ExportAuditExportGet, abi.AuditExportGetRequest{ID: ex.ID}, &failed); err != nil || failed.State != abi.AuditExportError || failed.URL != "" {
		t.Fatalf("errored export %+v, %v", failed, err)
	}
	before := len(f.emu.Requests())
	for _, id := range []string{"audit_log_export_nope", "../../user_management/users"} {
		if err := f.env.Invoke(abi.ExportAuditExportGet, abi.AuditExportGetRequest{ID: id}, nil); abi.CodeOf(err) != abi.CodeNotFound {
			t.Errorf("get %q: %v, want not_found", id, err)
		}
	}
	if n := len(f.emu.Requests()) - before; n != 1 {
		t.Errorf("%d requests reached WorkOS, want 1 (the path-shaped id never leaves)", n)
	}
}

func TestAuditExportErrors(t *testing.T) {
	f := setup(t, nil)
	req := abi.AuditExportRequest{RangeStart: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), RangeEnd: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)}
	for status, code := range map[int]abi.Code{429: abi.CodeRateLimited, 500: abi.CodeUnavailable, 401: abi.CodeUnavailable, 422: abi.CodeInvalidRequest} {
		f.emu.FailNext("/audit_logs/exports", status, 1)
		if err := f.env.Invoke(abi.ExportAuditExportCreate, req, nil); abi.CodeOf(err) != code {
			t.Errorf("WorkOS %d: %v, want %s", status, err, code)
		}
	}
	if n := len(f.emu.AuditExports()); n != 0 {
		t.Fatalf("%d exports recorded despite failures", n)
	}

	// Without an organization there is nothing to export from.
	cfg := map[string]any{}
	for k, v := range f.cfg {
		if k != "organization_id" {
			cfg[k] = v
		}
	}
	f.env.SetConfig(cfg)
	if err := f.env.Invoke(abi.ExportAuditExportCreate, req, nil); abi.CodeOf(err) != abi.CodeNotSupported {
		t.Errorf("no organization: %v, want not_supported", err)
	}
}
