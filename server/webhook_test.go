package server

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/authhost/authhost/auth"
)

// fakeWebhook stands in for a plugin's webhook export: it answers what the
// test sets. The plugin side (signatures, event parsing) is tested in
// plugins/workos and e2e/workos.
type fakeWebhook struct {
	res *auth.WebhookResult
	err error
}

func (f *fakeWebhook) HandleWebhook(context.Context, *http.Request) (*auth.WebhookResult, error) {
	return f.res, f.err
}

// flakyRoles is the real role store that fails while down is set, as a
// store outage would.
type flakyRoles struct {
	auth.RBACManager
	down *atomic.Bool
}

func (f flakyRoles) SetUserRoles(ctx context.Context, userID string, roles []string) error {
	if f.down.Load() {
		return errors.New("store unavailable")
	}
	return f.RBACManager.SetUserRoles(ctx, userID, roles)
}

func TestWebhook(t *testing.T) {
	hook := &fakeWebhook{}
	var roles auth.RBACManager
	var roleStoreDown atomic.Bool
	h := newHarness(t, func(c *Config) {
		roles = c.Auth.RBAC.(auth.RBACManager)
		c.RoleStore = flakyRoles{RBACManager: roles, down: &roleStoreDown}
		c.Webhooks = func(name string) auth.WebhookHandler {
			if name == "idp" {
				return hook
			}
			return nil
		}
	})
	ctx := context.Background()
	// A signed-in user the directory will later delete.
	user := h.client(t)
	if r := user.signUp("leaver@example.com", "long-enough-1"); r.status != http.StatusCreated {
		t.Fatalf("sign-up = %d %s", r.status, r.body)
	}
	leaverID := user.do("GET", "/api/auth/me", "", nil).json(t)["id"].(string)

	// Webhooks come from servers: no Origin, no cookies.
	post := func(provider string) response {
		return h.client(t).do("POST", "/api/webhooks/"+provider, `{"event":"x"}`, map[string]string{"Origin": ""})
	}
	if r := post("nobody"); r.status != http.StatusNotFound {
		t.Fatalf("unknown provider = %d, want 404", r.status)
	}

	hook.err = &auth.Error{Code: auth.CodeUnauthenticated, Message: "bad signature"}
	hook.res = &auth.WebhookResult{RoleChanges: []auth.RoleAssignment{{UserID: "u1", Roles: []string{"admin"}}}}
	if r := post("idp"); r.status != http.StatusUnauthorized {
		t.Fatalf("rejected signature = %d %s, want 401", r.status, r.body)
	}
	if got, _, _ := roles.UserRoles(ctx, "u1"); slices.Contains(got, "admin") {
		t.Fatal("a rejected webhook changed roles")
	}

	hook.err = nil
	hook.res = &auth.WebhookResult{Status: http.StatusUnauthorized, RoleChanges: []auth.RoleAssignment{{UserID: "u1", Roles: []string{"admin"}}}}
	if r := post("idp"); r.status != http.StatusUnauthorized {
		t.Fatalf("provider answered 401 = %d %s, want 401", r.status, r.body)
	}
	if got, _, _ := roles.UserRoles(ctx, "u1"); slices.Contains(got, "admin") {
		t.Fatal("a webhook the provider refused changed roles")
	}

	hook.res = &auth.WebhookResult{RoleChanges: []auth.RoleAssignment{{UserID: "u1", Roles: []string{"admin"}}}, UserDeletes: []string{leaverID}}
	if r := post("idp"); r.status != http.StatusOK {
		t.Fatalf("good webhook = %d %s", r.status, r.body)
	}
	if got, _, _ := roles.UserRoles(ctx, "u1"); !slices.Equal(got, []string{"admin"}) {
		t.Fatalf("roles of u1 = %v, want [admin]", got)
	}
	if r := user.do("GET", "/api/auth/me", "", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("deleted user's session: /me = %d, want 401", r.status)
	}

	// A role the host does not define fails on every retry: reported, 200.
	hook.res = &auth.WebhookResult{RoleChanges: []auth.RoleAssignment{{UserID: "u2", Roles: []string{"no-such-role"}}}}
	if r := post("idp"); r.status != http.StatusOK || r.json(t)["rejected"] != float64(1) {
		t.Fatalf("invalid change = %d %s, want 200 reporting 1 rejected", r.status, r.body)
	}
	// A store failure may pass: 503 so the sender retries.
	roleStoreDown.Store(true)
	hook.res = &auth.WebhookResult{RoleChanges: []auth.RoleAssignment{{UserID: "u2", Roles: []string{"viewer"}}}}
	if r := post("idp"); r.status != http.StatusServiceUnavailable {
		t.Fatalf("change during a store failure = %d %s, want 503 so the sender retries", r.status, r.body)
	}

	var outcomes []string
	for _, e := range h.events(t, auth.AuditFilter{Action: "webhook.received"}) {
		outcomes = append(outcomes, e.Outcome)
	}
	slices.Sort(outcomes)
	want := []string{auth.OutcomeDenied, auth.OutcomeFailure, auth.OutcomeFailure, auth.OutcomeFailure, auth.OutcomeSuccess}
	slices.Sort(want)
	if !slices.Equal(outcomes, want) {
		t.Fatalf("webhook audit outcomes = %v, want %v", outcomes, want)
	}
}
