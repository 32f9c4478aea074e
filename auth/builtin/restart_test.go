package builtin_test

import (
	"github.com/authhost/authhost/internal/testenv/stores"
	"slices"
	"testing"
	"time"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/auth/builtin/acl"
	"github.com/authhost/authhost/auth/builtin/audit"
	"github.com/authhost/authhost/auth/builtin/rbac"
	"github.com/authhost/authhost/auth/builtin/session"
	badgerstore "github.com/authhost/authhost/store/badger"
)

// TestRestart runs every built-in on one badger store, closes it, reopens
// the directory and checks that nothing was lost.
func TestRestart(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	open := func() *badgerstore.Store { return stores.OpenBadger(t, dir) }
	agent := auth.Resource{Type: "agent", ID: "a1"}
	user := auth.User{ID: "alice", Email: "alice@example.com"}

	st := open()
	sessions := session.NewStore(st, session.Options{})
	s, err := sessions.CreateSession(ctx, user.ID, map[string]any{"org": "acme"})
	if err != nil {
		t.Fatal(err)
	}
	roles, err := rbac.New(st, rbac.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := roles.SetUserRoles(ctx, user.ID, []string{auth.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	grants := acl.New(st, acl.Options{Roles: roles})
	if _, err := grants.Grant(ctx, user.ID, agent, []string{"read"}, "owner"); err != nil {
		t.Fatal(err)
	}
	if _, err := grants.Grant(ctx, "role:admin", agent, []string{"write"}, "owner"); err != nil {
		t.Fatal(err)
	}
	events := audit.NewStore(st, audit.StoreOptions{})
	for _, a := range []string{"auth.sign-in", "agents.update", "auth.logout"} {
		if err := events.Log(ctx, auth.AuditEvent{Actor: auth.AuditActor{Type: auth.ActorUser, ID: user.ID}, Action: a, Outcome: auth.OutcomeSuccess}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = open()
	defer st.Close()
	sessions = session.NewStore(st, session.Options{})
	got, err := sessions.ValidateSession(ctx, s.ID)
	if err != nil || got == nil || got.UserID != user.ID || got.Metadata["org"] != "acme" || !got.ExpiresAt.Equal(s.ExpiresAt) {
		t.Fatalf("session after restart = %+v, %v", got, err)
	}
	if list, err := sessions.ListSessions(ctx, user.ID); err != nil || len(list) != 1 {
		t.Fatalf("ListSessions after restart = %v, %v", list, err)
	}
	roles, _ = rbac.New(st, rbac.Options{})
	if r, _, err := roles.UserRoles(ctx, user.ID); err != nil || !slices.Equal(r, []string{auth.RoleAdmin}) {
		t.Fatalf("roles after restart = %v, %v", r, err)
	}
	if perms, _ := roles.Permissions(ctx, user); !auth.HasPermission(perms, "agents:delete") {
		t.Fatalf("admin permissions after restart = %v", perms)
	}
	grants = acl.New(st, acl.Options{Roles: roles})
	for _, action := range []string{"read", "write"} {
		if ok, err := grants.CanAccess(ctx, user, agent, action); err != nil || !ok {
			t.Fatalf("CanAccess(%s) after restart = %v, %v", action, ok, err)
		}
	}
	if ids, _ := grants.ListAccessible(ctx, user, "agent", "write"); !slices.Equal(ids, []string{"a1"}) {
		t.Fatalf("ListAccessible after restart = %v", ids)
	}
	events = audit.NewStore(st, audit.StoreOptions{})
	r, err := events.Query(ctx, auth.AuditFilter{ActorID: user.ID}, auth.AuditPage{})
	if err != nil || r.Total != 3 || r.Events[0].Action != "auth.logout" {
		t.Fatalf("audit after restart = %+v, %v", r, err)
	}
	if e, err := events.Get(ctx, r.Events[1].ID); err != nil || e.Action != "agents.update" {
		t.Fatalf("Get after restart = %+v, %v", e, err)
	}
	if time.Since(r.Events[0].Timestamp) > time.Minute {
		t.Fatalf("timestamp %v", r.Events[0].Timestamp)
	}
}
