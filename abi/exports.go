package abi

import (
	"fmt"
	"slices"
	"sort"
)

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
	_, ok := ExportsOf(c)
	return ok
}

// Export names. Every export takes a JSON request and returns a JSON
// Envelope; see SPEC.md for each schema.
const (
	ExportDescribe = "authhost_describe"
	// ExportConfigure (optional, since abi 1.2) validates the plugin's
	// configuration at load.
	ExportConfigure = "authhost_configure"

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
	Capability Capability
	Required   []string
	Optional   []string
}

// Table is the one capability table of the ABI: per capability, in
// Capabilities order, the exports it requires and those it may offer. The
// PDK's exports, the host's verification and adapters, composition and the
// app wiring all derive from it; SPEC.md §5 renders it.
var Table = []CapabilityExports{
	{Capability: CapUser,
		Required: []string{ExportUserCurrent, ExportUserGet},
		Optional: []string{ExportUserProfileURL}},
	{Capability: CapSession,
		Required: []string{ExportSessionCreate, ExportSessionValidate, ExportSessionDestroy, ExportSessionRefresh,
			ExportSessionIDFromRequest, ExportSessionHeaders, ExportSessionClearHeaders},
		Optional: []string{ExportSessionList}},
	{Capability: CapSSO,
		Required: []string{ExportSSOLoginURL, ExportSSOCallback},
		Optional: []string{ExportSSOLogoutURL}},
	{Capability: CapCredentials,
		Required: []string{ExportCredentialsSignIn, ExportCredentialsSignUp},
		Optional: []string{ExportCredentialsSignUpEnabled, ExportCredentialsPasswordResetReq, ExportCredentialsPasswordResetApply}},
	{Capability: CapRBAC,
		Required: []string{ExportRBACRoles, ExportRBACPermissions},
		Optional: []string{ExportRBACRoleDefinitions}},
	{Capability: CapACL,
		Required: []string{ExportACLCheck, ExportACLList},
		Optional: []string{ExportACLGrant, ExportACLRevoke}},
	{Capability: CapAudit,
		Required: []string{ExportAuditLog},
		Optional: []string{ExportAuditQuery, ExportAuditExportCreate, ExportAuditExportGet}},
	{Capability: CapWebhook,
		Required: []string{ExportWebhookHandle}},
}

// ProviderOptional lists the optional exports that belong to no capability
// (since abi 1.2: authhost_configure).
var ProviderOptional = []string{ExportConfigure}

// ExportsOf returns the exports of capability c and whether c is known.
func ExportsOf(c Capability) (CapabilityExports, bool) {
	for _, e := range Table {
		if e.Capability == c {
			return e, true
		}
	}
	return CapabilityExports{}, false
}

// AllExports returns every export of the ABI: describe, the provider-wide
// optional exports, then each capability's required and optional exports.
func AllExports() []string {
	names := append([]string{ExportDescribe}, ProviderOptional...)
	for _, e := range Table {
		names = append(names, e.Required...)
		names = append(names, e.Optional...)
	}
	return names
}

// MissingExports returns, sorted, the required exports of c that are absent
// from the exported set.
func MissingExports(c Capability, exported map[string]bool) []string {
	e, _ := ExportsOf(c)
	var missing []string
	for _, name := range e.Required {
		if !exported[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	return missing
}

// Offers reports whether a provider described by d, whose module exports
// the set exported, offers the export name. A required export of a
// declared capability is offered when exported. An optional export is
// offered when it is exported and, since abi 1.2, listed in d.Implements;
// providers built for abi 1.0 and 1.1 (no implements) offer every optional
// export they export, and answer not_supported for those they do not
// implement.
func (d Describe) Offers(name string, exported map[string]bool) bool {
	if !exported[name] {
		return false
	}
	if !d.Declares() {
		return true
	}
	for _, e := range Table {
		if slices.Contains(e.Required, name) {
			return true
		}
	}
	return slices.Contains(d.Implements, name)
}

// Declares reports whether d lists what it implements (abi 1.2 and later).
func (d Describe) Declares() bool { return AtLeast(d.ABI, 1, 2) }

// CheckImplements returns the problems of d's implements list: each entry
// must be an optional export of a declared capability (or a provider-wide
// optional export), listed once, and exported.
func (d Describe) CheckImplements(exported map[string]bool) []string {
	var problems []string
	seen := map[string]bool{}
	for _, name := range d.Implements {
		switch {
		case seen[name]:
			problems = append(problems, fmt.Sprintf("implements: %q is listed twice", name))
			continue
		case !d.optional(name):
			problems = append(problems, fmt.Sprintf("implements: %q is not an optional export of a declared capability", name))
		case !exported[name]:
			problems = append(problems, fmt.Sprintf("implements: %q is listed but not exported", name))
		}
		seen[name] = true
	}
	return problems
}

func (d Describe) optional(name string) bool {
	if slices.Contains(ProviderOptional, name) {
		return true
	}
	for _, c := range d.Capabilities {
		if e, ok := ExportsOf(c); ok && slices.Contains(e.Optional, name) {
			return true
		}
	}
	return false
}
