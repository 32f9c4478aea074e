package workos

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authhost/authhost/internal/testenv/authhostenv"
	"github.com/authhost/authhost/internal/testenv/workos"
)

// postWebhook delivers body to authhost's WorkOS webhook endpoint with the
// given WorkOS-Signature header ("" sends none).
func postWebhook(t *testing.T, env *authhostenv.Env, body []byte, signature string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", env.URL+"/api/webhooks/workos", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set("WorkOS-Signature", signature)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// directoryUser is a dsync directory user payload for a WorkOS user.
func directoryUser(id string, u workos.User, extra map[string]any) map[string]any {
	d := map[string]any{
		"object": "directory_user", "id": id, "directory_id": directoryID, "organization_id": orgID,
		"idp_id": "idp-" + id, "first_name": u.FirstName, "last_name": u.LastName, "state": "active",
		"emails": []any{map[string]any{"primary": true, "type": "work", "value": u.Email}},
		"groups": []any{}, "raw_attributes": map[string]any{}, "custom_attributes": map[string]any{},
	}
	for k, v := range extra {
		d[k] = v
	}
	return d
}

// TestDirectorySync delivers signed directory-sync webhooks as WorkOS
// does and checks their effect in the host (rbac: builtin): a user added
// to a mapped group gets that role (seen by an owner at
// /api/admin/users/{id}/roles and in the user's own /me), removal from the
// group drops it, forged, stale, unsigned or altered deliveries are 401 and
// change nothing, other directories are ignored, and a deleted directory
// user loses every session and role assignment.
func TestDirectorySync(t *testing.T) {
	t.Parallel()
	env := start(t, options{rbac: "builtin"})
	owner := newUser("olga", orgID, "owner")
	dana := newUser("dana", orgID, "member")
	admin := signedIn(t, env, owner.Email)
	danaWeb, danaCLI := signedIn(t, env, dana.Email), signedIn(t, env, dana.Email) // two sessions
	dirID := "directory_user_01DANA"

	rolesOf := func(userID string) []string {
		t.Helper()
		r := admin.Do(t, "GET", "/api/admin/users/"+userID+"/roles", nil)
		var body struct {
			Roles []string `json:"roles"`
		}
		r.Decode(t, &body)
		if r.Status != http.StatusOK {
			t.Fatalf("GET roles of %s = %d %s", userID, r.Status, r.Body)
		}
		return body.Roles
	}
	meRoles := func(c *authhostenv.Client) []string {
		t.Helper()
		status, m := getMe(t, c)
		if status != http.StatusOK {
			t.Fatalf("/me = %d", status)
		}
		return m.Roles
	}
	deliver := func(event string, data map[string]any) {
		t.Helper()
		body := workos.WebhookEvent(event, data)
		status, err := emu.SendWebhook(env.URL+"/api/webhooks/workos", webhookSecret, body)
		if err != nil || status != http.StatusOK {
			t.Fatalf("%s delivery = %d %v", event, status, err)
		}
	}
	admins := map[string]any{"object": "directory_group", "id": "directory_group_01ADMINS", "name": "Admins", "directory_id": directoryID}

	if got := meRoles(danaWeb); !slices.Equal(got, []string{"member"}) {
		t.Fatalf("dana's roles before sync = %v, want [member] from WorkOS", got)
	}
	deliver("dsync.group.user_added", map[string]any{"directory_id": directoryID, "user": directoryUser(dirID, dana, nil), "group": admins})
	if got := rolesOf(dana.ID); !slices.Equal(got, []string{"admin"}) {
		t.Fatalf("assigned roles after user_added = %v, want [admin]", got)
	}
	if got := meRoles(danaWeb); !slices.Equal(got, []string{"admin"}) {
		t.Fatalf("dana's /me roles after user_added = %v, want [admin]", got)
	}

	// Deliveries that must change nothing.
	escalate := workos.WebhookEvent("dsync.user.updated", directoryUser(dirID, dana, map[string]any{"role": map[string]any{"slug": "owner"}}))
	now := time.Now()
	for _, tc := range []struct {
		name, signature string
		body            []byte
	}{
		{"forged secret", workos.WebhookSignature("whsec_forged", escalate, now), escalate},
		{"stale timestamp", workos.WebhookSignature(webhookSecret, escalate, now.Add(-10*time.Minute)), escalate},
		{"body altered after signing", workos.WebhookSignature(webhookSecret, escalate, now), bytes.Replace(escalate, []byte(`"owner"`), []byte(`"admin"`), 1)},
		{"unsigned", "", escalate},
		{"malformed signature", "v1=deadbeef", escalate},
	} {
		status, body := postWebhook(t, env, tc.body, tc.signature)
		if status != http.StatusUnauthorized || !strings.Contains(body, `"unauthenticated"`) || strings.Contains(body, "goroutine") {
			t.Errorf("%s: webhook = %d %s, want 401 unauthenticated", tc.name, status, body)
		}
	}
	other := directoryUser(dirID, dana, map[string]any{"directory_id": "directory_01OTHER", "role": map[string]any{"slug": "owner"}})
	deliver("dsync.user.updated", other)
	if got := rolesOf(dana.ID); !slices.Equal(got, []string{"admin"}) {
		t.Fatalf("roles after rejected and foreign deliveries = %v, want [admin]", got)
	}

	// The directory role itself is applied too.
	deliver("dsync.user.updated", directoryUser(dirID, dana, map[string]any{"role": map[string]any{"slug": "viewer"}, "groups": []any{admins}}))
	if got := rolesOf(dana.ID); !slices.Equal(got, []string{"viewer", "admin"}) {
		t.Fatalf("roles after user.updated = %v, want [viewer admin]", got)
	}
	deliver("dsync.group.user_removed", map[string]any{"directory_id": directoryID, "user": directoryUser(dirID, dana, nil), "group": admins})
	if got := rolesOf(dana.ID); len(got) != 0 {
		t.Fatalf("assigned roles after user_removed = %v, want none", got)
	}
	if got := meRoles(danaCLI); !slices.Equal(got, []string{"member"}) {
		t.Fatalf("dana's /me roles after user_removed = %v, want [member] from WorkOS again", got)
	}

	// Deletion ends both of dana's sessions, not the owner's.
	deliver("dsync.group.user_added", map[string]any{"directory_id": directoryID, "user": directoryUser(dirID, dana, nil), "group": admins})
	deliver("dsync.user.deleted", directoryUser(dirID, dana, map[string]any{"state": "inactive"}))
	for name, c := range map[string]*authhostenv.Client{"web": danaWeb, "cli": danaCLI} {
		if status, _ := getMe(t, c); status != http.StatusUnauthorized {
			t.Errorf("dana's %s session after dsync.user.deleted: /me = %d, want 401", name, status)
		}
	}
	if got := rolesOf(dana.ID); len(got) != 0 {
		t.Fatalf("roles of a deleted user = %v, want none", got)
	}
	if status, _ := getMe(t, admin); status != http.StatusOK {
		t.Fatalf("the owner's session after another user's deletion: /me = %d", status)
	}
}

// TestDirectorySyncGroupsFromAPI delivers directory-sync events whose
// payloads carry no group list (as WorkOS may send them): the plugin reads
// the user's groups from the Directory Sync API, so a removal from one
// group keeps the roles of the others.
func TestDirectorySyncGroupsFromAPI(t *testing.T) {
	t.Parallel()
	env := start(t, options{rbac: "builtin"})
	erin := newUser("erin", orgID, "member")
	c := signedIn(t, env, erin.Email)
	admins := emu.AddDirectoryGroup(workos.DirectoryGroup{DirectoryID: directoryID, OrganizationID: orgID, Name: "Admins"})
	eng := emu.AddDirectoryGroup(workos.DirectoryGroup{DirectoryID: directoryID, OrganizationID: orgID, Name: "Engineering"})
	du := emu.AddDirectoryUser(workos.DirectoryUser{DirectoryID: directoryID, OrganizationID: orgID, Email: erin.Email,
		FirstName: erin.FirstName, LastName: erin.LastName}, admins.ID, eng.ID)
	payload := func() map[string]any {
		u, _ := emu.DirectoryUser(du.ID)
		d := u.Data()
		delete(d, "groups")
		return d
	}
	deliver := func(event string, data map[string]any) {
		t.Helper()
		status, err := emu.SendWebhook(env.URL+"/api/webhooks/workos", webhookSecret, workos.WebhookEvent(event, data))
		if err != nil || status != http.StatusOK {
			t.Fatalf("%s delivery = %d %v", event, status, err)
		}
	}
	roles := func() []string {
		t.Helper()
		status, m := getMe(t, c)
		if status != http.StatusOK {
			t.Fatalf("/me = %d", status)
		}
		return m.Roles
	}

	deliver("dsync.user.created", payload())
	if got := roles(); !sameSet(got, []string{"admin", "member"}) {
		t.Fatalf("roles after dsync.user.created = %v, want admin and member from both groups", got)
	}
	emu.SetDirectoryUserGroups(du.ID, eng.ID)
	deliver("dsync.group.user_removed", map[string]any{"directory_id": directoryID, "user": payload(), "group": admins.Data()})
	if got := roles(); !slices.Equal(got, []string{"member"}) {
		t.Fatalf("roles after removal from Admins = %v, want [member] (Engineering)", got)
	}
	// The API may lag behind the event: the event's own change still counts.
	deliver("dsync.group.user_added", map[string]any{"directory_id": directoryID, "user": payload(), "group": admins.Data()})
	if got := roles(); !sameSet(got, []string{"admin", "member"}) {
		t.Fatalf("roles after user_added (API not updated yet) = %v, want admin and member", got)
	}
}
