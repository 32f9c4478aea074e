// Command v12 is a provider built for abi 1.2: it exports more optional
// functions than it implements (as every Go PDK plugin does) and lists the
// ones it offers in describe's implements; it declares where its session
// travels (the cookie name comes from its config), vouches for sessions
// with cache_seconds, validates its config in authhost_configure and
// reports a demo account.
package main

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/authhost/authhost/host/testdata/plugins/internal/guest"
	"github.com/extism/go-pdk"
)

type config struct {
	Cookie string `json:"cookie"`
	Min    int    `json:"min"`
	Cache  int    `json:"cache"`
}

func loadConfig() config {
	c := config{Cookie: "v12_sid", Cache: 60}
	if raw, ok := pdk.GetConfig("config"); ok {
		_ = json.Unmarshal([]byte(raw), &c)
	}
	return c
}

//go:wasmexport authhost_describe
func describe() int32 {
	c := loadConfig()
	pdk.OutputJSON(map[string]any{
		"abi": "1.2", "name": "v12", "version": "0.1.0",
		"capabilities":      []string{"session", "credentials", "audit"},
		"implements":        []string{"authhost_configure", "credentials_sign_up_enabled", "audit_query"},
		"session_transport": map[string]any{"cookies": []string{c.Cookie}, "cookie_url_decode": true, "bearer": true, "header": "X-V12-Session"},
		"demo":              []map[string]string{{"email": "demo@example.test", "password": "demo-pw"}},
	})
	return 0
}

func in(v any) bool {
	if err := pdk.InputJSON(v); err != nil {
		guest.Fail("invalid_request", err.Error())
		return false
	}
	return true
}

//go:wasmexport authhost_configure
func configure() int32 {
	var r struct {
		Config config `json:"config"`
	}
	if !in(&r) {
		return 0
	}
	if r.Config.Min < 0 {
		pdk.OutputJSON(map[string]any{"ok": false, "error": map[string]string{"code": "invalid_request", "message": "must not be negative", "field": "min"}})
		return 0
	}
	return guest.OK(nil)
}

func session(id string) map[string]any {
	uid, _, _ := strings.Cut(strings.TrimPrefix(id, "s-"), ".")
	return map[string]any{"id": id, "user_id": uid, "expires_at": time.Now().Add(time.Hour), "created_at": time.Now(),
		"cache_seconds": loadConfig().Cache, "metadata": map[string]any{"email": uid + "@example.test", "roles": []string{"member"}}}
}

type idReq struct {
	SessionID string `json:"session_id"`
}

//go:wasmexport session_create
func sessionCreate() int32 {
	var r struct {
		UserID string `json:"user_id"`
	}
	if !in(&r) {
		return 0
	}
	return guest.OK(map[string]any{"session": session("s-" + r.UserID)})
}

//go:wasmexport session_validate
func sessionValidate() int32 {
	var r idReq
	if !in(&r) {
		return 0
	}
	if !strings.HasPrefix(r.SessionID, "s-") {
		return guest.OK(map[string]any{"session": nil})
	}
	return guest.OK(map[string]any{"session": session(r.SessionID)})
}

//go:wasmexport session_destroy
func sessionDestroy() int32 { return guest.OK(nil) }

//go:wasmexport session_refresh
func sessionRefresh() int32 {
	var r idReq
	if !in(&r) {
		return 0
	}
	return guest.OK(map[string]any{"session": session(r.SessionID + ".r")})
}

// session_id_from_request must never be called: the transport is declared.
//
//go:wasmexport session_id_from_request
func sessionIDFromRequest() int32 { return guest.OK(map[string]any{"session_id": "s-called"}) }

//go:wasmexport session_headers
func sessionHeaders() int32 { return guest.OK(map[string]any{"set_cookie": []string{}}) }

//go:wasmexport session_clear_headers
func sessionClearHeaders() int32 { return guest.OK(map[string]any{"set_cookie": []string{}}) }

// session_list is exported but not implemented.
//
//go:wasmexport session_list
func sessionList() int32 { return guest.Fail("not_supported", "session_list") }

//go:wasmexport credentials_sign_in
func credentialsSignIn() int32 { return guest.Fail("invalid_credentials", "no") }

//go:wasmexport credentials_sign_up
func credentialsSignUp() int32 { return guest.Fail("sign_up_disabled", "no") }

//go:wasmexport credentials_sign_up_enabled
func credentialsSignUpEnabled() int32 { return guest.OK(map[string]any{"enabled": false}) }

//go:wasmexport credentials_password_reset_request
func credentialsPasswordResetRequest() int32 { return guest.Fail("not_supported", "reset") }

//go:wasmexport credentials_password_reset
func credentialsPasswordReset() int32 { return guest.Fail("not_supported", "reset") }

//go:wasmexport audit_log
func auditLog() int32 { return guest.OK(nil) }

//go:wasmexport audit_query
func auditQuery() int32 { return guest.OK(map[string]any{"events": []any{}, "total": 7}) }

//go:wasmexport audit_export_create
func auditExportCreate() int32 { return guest.Fail("not_supported", "export") }

//go:wasmexport audit_export_get
func auditExportGet() int32 { return guest.Fail("not_supported", "export") }

func main() {}
