package workos

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/workos/workos-go/v4/pkg/auditlogs"
)

// exported returns the events the emulator accepted with action and actor.
func exported(action, actorID string) []auditlogs.CreateEventOpts {
	var out []auditlogs.CreateEventOpts
	for _, e := range emu.AuditEvents() {
		var body struct {
			OrganizationID string          `json:"organization_id"`
			Event          auditlogs.Event `json:"event"`
		}
		dec := json.NewDecoder(bytes.NewReader(e.Raw))
		dec.DisallowUnknownFields() // exactly the SDK's shape
		if dec.Decode(&body) != nil {
			continue
		}
		if body.Event.Action == action && body.Event.Actor.ID == actorID {
			out = append(out, auditlogs.CreateEventOpts{OrganizationID: body.OrganizationID, Event: body.Event, IdempotencyKey: e.IdempotencyKey})
		}
	}
	return out
}

// TestAuditExport checks that auth events of a real sign-in and logout
// through authhost (audit: [builtin, workos]) reach WorkOS Audit Logs in
// the Go SDK's CreateEvent shape, in the configured organization, with an
// idempotency key derived from the host's event id, and stay queryable in
// the built-in audit store under the same id.
func TestAuditExport(t *testing.T) {
	t.Parallel()
	env := start(t, options{})
	u := newUser("audrey", orgID, "admin")
	c := signedIn(t, env, u.Email)

	got := exported("authhost.auth.sso-callback", u.ID)
	if len(got) != 1 {
		t.Fatalf("%d sso-callback events of %s reached WorkOS in the SDK's shape, want 1 (all: %d)", len(got), u.ID, len(emu.AuditEvents()))
	}
	e := got[0]
	if e.OrganizationID != orgID {
		t.Errorf("organization_id = %q, want %q", e.OrganizationID, orgID)
	}
	ev := e.Event
	if ev.Actor.Type != "user" || ev.Actor.Name != u.Email || ev.Actor.Metadata["email"] != u.Email || ev.Actor.Metadata["ip"] != "127.0.0.1" {
		t.Errorf("actor = %+v", ev.Actor)
	}
	if len(ev.Targets) != 1 || ev.Targets[0].ID == "" || ev.Targets[0].Type == "" {
		t.Errorf("targets = %+v", ev.Targets)
	}
	if ev.Context.Location != "127.0.0.1" || ev.Context.UserAgent == "" {
		t.Errorf("context = %+v", ev.Context)
	}
	if ev.Metadata["outcome"] != "success" || time.Since(ev.OccurredAt) > time.Hour || ev.OccurredAt.After(time.Now().Add(time.Minute)) {
		t.Errorf("metadata %v occurred_at %s", ev.Metadata, ev.OccurredAt)
	}

	// The same event, under the same id, is in the built-in store.
	r := c.Do(t, "GET", "/api/audit?"+url.Values{"actorId": {u.ID}, "action": {"auth.sso-callback"}}.Encode(), nil)
	var page struct {
		Events []struct {
			ID string `json:"id"`
		} `json:"events"`
	}
	r.Decode(t, &page)
	if r.Status != http.StatusOK || len(page.Events) != 1 {
		t.Fatalf("GET /api/audit = %d %s", r.Status, r.Body)
	}
	if e.IdempotencyKey != "authhost-"+page.Events[0].ID {
		t.Errorf("Idempotency-Key = %q, want authhost-%s", e.IdempotencyKey, page.Events[0].ID)
	}

	if r := c.Do(t, "POST", "/api/auth/logout", nil); r.Status != http.StatusOK {
		t.Fatalf("logout = %d", r.Status)
	}
	if n := len(exported("authhost.auth.logout", u.ID)); n != 1 {
		t.Fatalf("%d logout events reached WorkOS, want 1", n)
	}
}
