//go:build wasip1

package pdk

import (
	extism "github.com/extism/go-pdk"

	"github.com/authhost/authhost/abi"
)

// serveExport is the body of every Wasm export: read the Extism input, run
// the registered provider, set the output, return 0. Business errors travel
// in the output envelope; only a plugin without a registered provider
// reports an Extism error (rc 1), so the host refuses to load it.
func serveExport(name string) int32 {
	p := Registered()
	if p == nil {
		extism.SetErrorString("authhost pdk: no provider registered: call pdk.Register from an init function of package main")
		return 1
	}
	extism.Output(p.Call(name, extism.Input()))
	return 0
}

// The exports of ABI v1 (generated list; keep in sync with abi/exports.go,
// checked by TestExportsCoverABI).

//go:wasmexport authhost_describe
func export_authhost_describe() int32 { return serveExport(abi.ExportDescribe) }

//go:wasmexport user_current
func export_user_current() int32 { return serveExport(abi.ExportUserCurrent) }

//go:wasmexport user_get
func export_user_get() int32 { return serveExport(abi.ExportUserGet) }

//go:wasmexport user_profile_url
func export_user_profile_url() int32 { return serveExport(abi.ExportUserProfileURL) }

//go:wasmexport session_create
func export_session_create() int32 { return serveExport(abi.ExportSessionCreate) }

//go:wasmexport session_validate
func export_session_validate() int32 { return serveExport(abi.ExportSessionValidate) }

//go:wasmexport session_destroy
func export_session_destroy() int32 { return serveExport(abi.ExportSessionDestroy) }

//go:wasmexport session_refresh
func export_session_refresh() int32 { return serveExport(abi.ExportSessionRefresh) }

//go:wasmexport session_id_from_request
func export_session_id_from_request() int32 { return serveExport(abi.ExportSessionIDFromRequest) }

//go:wasmexport session_headers
func export_session_headers() int32 { return serveExport(abi.ExportSessionHeaders) }

//go:wasmexport session_clear_headers
func export_session_clear_headers() int32 { return serveExport(abi.ExportSessionClearHeaders) }

//go:wasmexport session_list
func export_session_list() int32 { return serveExport(abi.ExportSessionList) }

//go:wasmexport sso_login_url
func export_sso_login_url() int32 { return serveExport(abi.ExportSSOLoginURL) }

//go:wasmexport sso_callback
func export_sso_callback() int32 { return serveExport(abi.ExportSSOCallback) }

//go:wasmexport sso_logout_url
func export_sso_logout_url() int32 { return serveExport(abi.ExportSSOLogoutURL) }

//go:wasmexport credentials_sign_in
func export_credentials_sign_in() int32 { return serveExport(abi.ExportCredentialsSignIn) }

//go:wasmexport credentials_sign_up
func export_credentials_sign_up() int32 { return serveExport(abi.ExportCredentialsSignUp) }

//go:wasmexport credentials_sign_up_enabled
func export_credentials_sign_up_enabled() int32 {
	return serveExport(abi.ExportCredentialsSignUpEnabled)
}

//go:wasmexport credentials_password_reset_request
func export_credentials_password_reset_request() int32 {
	return serveExport(abi.ExportCredentialsPasswordResetReq)
}

//go:wasmexport credentials_password_reset
func export_credentials_password_reset() int32 {
	return serveExport(abi.ExportCredentialsPasswordResetApply)
}

//go:wasmexport rbac_roles
func export_rbac_roles() int32 { return serveExport(abi.ExportRBACRoles) }

//go:wasmexport rbac_permissions
func export_rbac_permissions() int32 { return serveExport(abi.ExportRBACPermissions) }

//go:wasmexport rbac_role_definitions
func export_rbac_role_definitions() int32 { return serveExport(abi.ExportRBACRoleDefinitions) }

//go:wasmexport acl_check
func export_acl_check() int32 { return serveExport(abi.ExportACLCheck) }

//go:wasmexport acl_list
func export_acl_list() int32 { return serveExport(abi.ExportACLList) }

//go:wasmexport acl_grant
func export_acl_grant() int32 { return serveExport(abi.ExportACLGrant) }

//go:wasmexport acl_revoke
func export_acl_revoke() int32 { return serveExport(abi.ExportACLRevoke) }

//go:wasmexport audit_log
func export_audit_log() int32 { return serveExport(abi.ExportAuditLog) }

//go:wasmexport audit_query
func export_audit_query() int32 { return serveExport(abi.ExportAuditQuery) }

//go:wasmexport audit_export_create
func export_audit_export_create() int32 { return serveExport(abi.ExportAuditExportCreate) }

//go:wasmexport audit_export_get
func export_audit_export_get() int32 { return serveExport(abi.ExportAuditExportGet) }

//go:wasmexport webhook_handle
func export_webhook_handle() int32 { return serveExport(abi.ExportWebhookHandle) }

//go:wasmexport authhost_configure
func export_authhost_configure() int32 { return serveExport(abi.ExportConfigure) }
