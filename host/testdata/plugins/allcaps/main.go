// Command allcaps declares every capability of ABI v1 (exports of abi 1.1 included) with canned answers
// derived from its inputs, so the host's adapters can be tested end to end.
package main

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/authhost/authhost/host/testdata/plugins/internal/guest"
	"github.com/extism/go-pdk"
)

//go:wasmexport authhost_describe
func describe() int32 {
	pdk.OutputJSON(map[string]any{
		"abi": "1.1", "name": "allcaps", "version": "0.1.0",
		"capabilities": []string{"user", "session", "sso", "credentials", "rbac", "acl", "audit", "webhook"},
		"login":        map[string]string{"provider": "allcaps", "text": "Sign in with AllCaps"},
	})
	return 0
}

type request struct {
	Method     string              `json:"method"`
	URL        string              `json:"url"`
	Headers    map[string][]string `json:"headers"`
	RemoteAddr string              `json:"remote_addr"`
}

type user struct {
	ID    string   `json:"id"`
	Email string   `json:"email,omitempty"`
	Name  string   `json:"name,omitempty"`
	Roles []string `json:"roles,omitempty"`
}

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func session(id, userID string) map[string]any {
	return map[string]any{"id": id, "user_id": userID, "expires_at": t0, "created_at": t0.Add(-time.Hour)}
}

func in(v any) bool {
	if err := pdk.InputJSON(v); err != nil {
		guest.Fail("invalid_request", err.Error())
		return false
	}
	return true
}

//go:wasmexport user_current
func userCurrent() int32 {
	var r struct{ Request request }
	if !in(&r) {
		return 0
	}
	c := r.Request.Headers["Cookie"]
	if len(c) == 0 {
		return guest.OK(map[string]any{"user": nil})
	}
	return guest.OK(map[string]any{"user": user{ID: strings.TrimPrefix(c[0], "uid="), Email: r.Request.Method + " " + r.Request.URL + " " + r.Request.RemoteAddr}})
}

//go:wasmexport user_get
func userGet() int32 {
	var r struct{ ID string }
	if !in(&r) {
		return 0
	}
	if r.ID == "missing" {
		return guest.OK(map[string]any{"user": nil})
	}
	return guest.OK(map[string]any{"user": user{ID: r.ID, Name: "User " + r.ID}})
}

//go:wasmexport session_create
func sessionCreate() int32 {
	var r struct {
		UserID string `json:"user_id"`
	}
	if !in(&r) {
		return 0
	}
	return guest.OK(map[string]any{"session": session("s-"+r.UserID, r.UserID)})
}

//go:wasmexport session_validate
func sessionValidate() int32 {
	var r struct {
		SessionID string `json:"session_id"`
	}
	if !in(&r) {
		return 0
	}
	if r.SessionID == "expired" {
		return guest.OK(map[string]any{"session": nil})
	}
	return guest.OK(map[string]any{"session": session(r.SessionID, "u1")})
}

//go:wasmexport session_destroy
func sessionDestroy() int32 { return guest.OK(nil) }

//go:wasmexport session_refresh
func sessionRefresh() int32 {
	var r struct {
		SessionID string `json:"session_id"`
	}
	if !in(&r) {
		return 0
	}
	return guest.OK(map[string]any{"session": session(r.SessionID+"-2", "u1")})
}

//go:wasmexport session_id_from_request
func sessionIDFromRequest() int32 {
	var r struct{ Request request }
	if !in(&r) {
		return 0
	}
	return guest.OK(map[string]any{"session_id": strings.TrimPrefix(strings.Join(r.Request.Headers["Authorization"], ""), "Bearer ")})
}

//go:wasmexport session_headers
func sessionHeaders() int32 {
	var r struct {
		Session struct {
			ID string `json:"id"`
		} `json:"session"`
	}
	if !in(&r) {
		return 0
	}
	return guest.OK(map[string]any{"set_cookie": []string{"sid=" + r.Session.ID}})
}

//go:wasmexport session_clear_headers
func sessionClearHeaders() int32 {
	return guest.OK(map[string]any{"set_cookie": []string{"sid=; Max-Age=0"}})
}

//go:wasmexport session_list
func sessionList() int32 {
	var r struct {
		UserID string `json:"user_id"`
	}
	if !in(&r) {
		return 0
	}
	return guest.OK(map[string]any{"sessions": []any{session("a", r.UserID), session("b", r.UserID)}})
}

//go:wasmexport sso_login_url
func ssoLoginURL() int32 {
	var r map[string]string
	if !in(&r) {
		return 0
	}
	return guest.OK(map[string]string{"url": "https://idp.test/authorize?redirect_uri=" + r["redirect_uri"] + "&state=" + r["state"] + "&code_challenge=" + r["code_challenge"] + "&method=" + r["code_challenge_method"]})
}

//go:wasmexport sso_callback
func ssoCallback() int32 {
	var r struct {
		Code         string `json:"code"`
		CodeVerifier string `json:"code_verifier"`
	}
	if !in(&r) {
		return 0
	}
	if r.Code == "bad" {
		return guest.Fail("invalid_credentials", "bad code")
	}
	return guest.OK(map[string]any{
		"user":       user{ID: "sso-" + r.Code, Email: "sso@example.test"},
		"tokens":     map[string]any{"access_token": "at-" + r.CodeVerifier, "expires_at": t0},
		"set_cookie": []string{"wos=1"},
	})
}

//go:wasmexport credentials_sign_in
func credentialsSignIn() int32 {
	var r struct{ Email, Password string }
	if !in(&r) {
		return 0
	}
	if r.Password != "secret" {
		return guest.Fail("invalid_credentials", "wrong password")
	}
	return guest.OK(map[string]any{"user": user{ID: "u-" + r.Email, Email: r.Email}, "session": session("s1", "u-"+r.Email), "token": "tok"})
}

//go:wasmexport credentials_sign_up
func credentialsSignUp() int32 {
	var r struct{ Email, Password, Name string }
	if !in(&r) {
		return 0
	}
	return guest.OK(map[string]any{"user": user{ID: "new", Email: r.Email, Name: r.Name}})
}

//go:wasmexport credentials_sign_up_enabled
func credentialsSignUpEnabled() int32 { return guest.OK(map[string]bool{"enabled": false}) }

//go:wasmexport rbac_roles
func rbacRoles() int32 {
	var r struct{ User user }
	if !in(&r) {
		return 0
	}
	return guest.OK(map[string]any{"roles": append([]string{"member"}, r.User.Roles...)})
}

//go:wasmexport rbac_permissions
func rbacPermissions() int32 { return guest.OK(map[string]any{"permissions": []string{"docs:read"}}) }

//go:wasmexport rbac_role_definitions
func rbacRoleDefinitions() int32 {
	return guest.OK(map[string]any{"roles": []map[string]any{{"id": "member", "name": "Member", "permissions": []string{"docs:read"}}}})
}

//go:wasmexport acl_check
func aclCheck() int32 {
	var r struct {
		User     user
		Resource struct{ Type, ID string }
		Action   string
	}
	if !in(&r) {
		return 0
	}
	return guest.OK(map[string]bool{"allowed": r.Resource.ID == "doc1" && r.Action == "read"})
}

//go:wasmexport acl_list
func aclList() int32 { return guest.OK(map[string]any{"ids": []string{"doc1", "doc2"}}) }

//go:wasmexport acl_grant
func aclGrant() int32 {
	var r json.RawMessage
	if !in(&r) {
		return 0
	}
	var g map[string]any
	json.Unmarshal(r, &g)
	g["granted_at"] = t0
	return guest.OK(g)
}

//go:wasmexport acl_revoke
func aclRevoke() int32 { return guest.OK(nil) }

//go:wasmexport audit_log
func auditLog() int32 {
	var r struct {
		Event struct {
			Action string `json:"action"`
		} `json:"event"`
	}
	if !in(&r) {
		return 0
	}
	if r.Event.Action == "" {
		return guest.Fail("invalid_request", "action is required")
	}
	return guest.OK(nil)
}

//go:wasmexport audit_query
func auditQuery() int32 {
	var r struct {
		Action string `json:"action"`
		Limit  int    `json:"limit"`
	}
	if !in(&r) {
		return 0
	}
	ev := map[string]any{"id": "e1", "timestamp": t0, "actor": map[string]string{"type": "user", "id": "u1"},
		"action": r.Action, "outcome": "success", "resource": map[string]string{"type": "doc", "id": "d1"}}
	return guest.OK(map[string]any{"events": []any{ev}, "total": r.Limit})
}

//go:wasmexport audit_export_create
func auditExportCreate() int32 {
	var r struct {
		RangeStart time.Time `json:"range_start"`
		RangeEnd   time.Time `json:"range_end"`
		Actions    []string  `json:"actions"`
		ActorIDs   []string  `json:"actor_ids"`
		Targets    []string  `json:"targets"`
	}
	if !in(&r) {
		return 0
	}
	if len(r.Actions) > 0 && r.Actions[0] == "unsupported" {
		return guest.Fail("not_supported", "no exports here")
	}
	id := strings.Join([]string{r.RangeStart.Format(time.RFC3339), r.RangeEnd.Format(time.RFC3339),
		strings.Join(r.Actions, ","), strings.Join(r.ActorIDs, ","), strings.Join(r.Targets, ",")}, "|")
	return guest.OK(map[string]any{"id": id, "state": "pending", "created_at": t0, "updated_at": t0})
}

//go:wasmexport audit_export_get
func auditExportGet() int32 {
	var r struct{ ID string }
	if !in(&r) {
		return 0
	}
	switch r.ID {
	case "missing":
		return guest.Fail("not_found", "no such export")
	case "weird":
		return guest.OK(map[string]any{"id": r.ID, "state": "Done"})
	}
	return guest.OK(map[string]any{"id": r.ID, "state": "ready", "url": "https://dl.test/" + r.ID, "created_at": t0, "updated_at": t0.Add(time.Minute)})
}

//go:wasmexport webhook_handle
func webhookHandle() int32 {
	var r struct {
		Headers map[string][]string `json:"headers"`
		Body    []byte              `json:"body"`
	}
	if !in(&r) {
		return 0
	}
	if len(r.Headers["X-Signature"]) == 0 {
		return guest.Fail("forbidden", "missing signature")
	}
	return guest.OK(map[string]any{"status": 200, "role_changes": []map[string]any{{"user_id": string(r.Body), "roles": []string{"admin"}}}, "user_deletes": []string{"gone"}})
}

func main() {}
