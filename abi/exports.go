package abi

import "sort"

// Capability names a group of exports a provider may implement.
type Capability string

// The capabilities of ABI v1.
const (
	CapUser        Capability = "user"
	CapSession     Capability = "session"
	CapSSO         Capability = "sso"
	CapCredentials Capability = "credentials"
	CapRBAC        Capability = "rbac"
	CapACL         Capability = "acl"
	CapAudit       Capability = "audit"
	CapWebhook     Capability = "webhook"
)

// Capabilities lists every capability of ABI v1 in a stable order.
var Capabilities = []Capability{CapUser, CapSession, CapSSO, CapCredentials, CapRBAC, CapACL, CapAudit, CapWebhook}

// Valid reports whether c is a capability of ABI v1.
func (c Capability) Valid() bool {
	_, ok := capabilityExports[c]
	return ok
}

// Export names. Every export takes a JSON request and returns a JSON
// Envelope; see SPEC.md for each schema.
const (
	ExportDescribe = "authhost_describe"

	ExportUserCurrent    = "user_current"
	ExportUserGet        = "user_get"
	ExportUserProfileURL = "user_profile_url"

	ExportSessionCreate        = "session_create"
	ExportSessionValidate      = "session_validate"
	ExportSessionDestroy       = "session_destroy"
	ExportSessionRefresh       = "session_refresh"
	ExportSessionIDFromRequest = "session_id_from_request"
	ExportSessionHeaders       = "session_headers"
	ExportSessionClearHeaders  = "session_clear_headers"
	ExportSessionList          = "session_list"

	ExportSSOLoginURL  = "sso_login_url"
	ExportSSOCallback  = "sso_callback"
	ExportSSOLogoutURL = "sso_logout_url"

	ExportCredentialsSignIn             = "credentials_sign_in"
	ExportCredentialsSignUp             = "credentials_sign_up"
	ExportCredentialsSignUpEnabled      = "credentials_sign_up_enabled"
	ExportCredentialsPasswordResetReq   = "credentials_password_reset_request"
	ExportCredentialsPasswordResetApply = "credentials_password_reset"

	ExportRBACRoles           = "rbac_roles"
	ExportRBACPermissions     = "rbac_permissions"
	ExportRBACRoleDefinitions = "rbac_role_definitions"

	ExportACLCheck  = "acl_check"
	ExportACLList   = "acl_list"
	ExportACLGrant  = "acl_grant"
	ExportACLRevoke = "acl_revoke"

	ExportAuditLog          = "audit_log"
	ExportAuditQuery        = "audit_query"
	ExportAuditExportCreate = "audit_export_create" // since abi 1.1
	ExportAuditExportGet    = "audit_export_get"    // since abi 1.1

	ExportWebhookHandle = "webhook_handle"
)

// CapabilityExports lists the required and optional exports of one capability.
type CapabilityExports struct {
	Required []string
	Optional []string
}

var capabilityExports = map[Capability]CapabilityExports{
	CapUser: {
		Required: []string{ExportUserCurrent, ExportUserGet},
		Optional: []string{ExportUserProfileURL},
	},
	CapSession: {
		Required: []string{ExportSessionCreate, ExportSessionValidate, ExportSessionDestroy, ExportSessionRefresh,
			ExportSessionIDFromRequest, ExportSessionHeaders, ExportSessionClearHeaders},
		Optional: []string{ExportSessionList},
	},
	CapSSO: {
		Required: []string{ExportSSOLoginURL, ExportSSOCallback},
		Optional: []string{ExportSSOLogoutURL},
	},
	CapCredentials: {
		Required: []string{ExportCredentialsSignIn, ExportCredentialsSignUp},
		Optional: []string{ExportCredentialsSignUpEnabled, ExportCredentialsPasswordResetReq, ExportCredentialsPasswordResetApply},
	},
	CapRBAC: {
		Required: []string{ExportRBACRoles, ExportRBACPermissions},
		Optional: []string{ExportRBACRoleDefinitions},
	},
	CapACL: {
		Required: []string{ExportACLCheck, ExportACLList},
		Optional: []string{ExportACLGrant, ExportACLRevoke},
	},
	CapAudit: {
		Required: []string{ExportAuditLog},
		Optional: []string{ExportAuditQuery, ExportAuditExportCreate, ExportAuditExportGet},
	},
	CapWebhook: {
		Required: []string{ExportWebhookHandle},
	},
}

// ExportsOf returns the exports of capability c and whether c is known.
func ExportsOf(c Capability) (CapabilityExports, bool) {
	e, ok := capabilityExports[c]
	return e, ok
}

// MissingExports returns, sorted, the required exports of c that are absent
// from the exported set.
func MissingExports(c Capability, exported map[string]bool) []string {
	var missing []string
	for _, name := range capabilityExports[c].Required {
		if !exported[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	return missing
}
