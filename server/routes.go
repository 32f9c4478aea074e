package server

import (
	"net/http"

	"github.com/authhost/authhost/auth"
)

// route is one API route. The table drives both registration and the
// OpenAPI document, so the two cannot drift.
type route struct {
	method, path string
	// auth requires a signed-in user; permission, when set, also requires
	// that permission (enforced by one middleware, every deny audited).
	auth       bool
	permission string
	tag        string
	summary    string
	// statuses lists the documented response statuses and their meaning.
	statuses map[int]string
	// body names the JSON request body schema, if any; response the
	// schema of its 2xx response bodies, if documented.
	body     string
	response string
	query    []string
	handler  http.HandlerFunc
}

func (s *Server) routeTable() []route {
	return []route{
		{method: "GET", path: "/auth/capabilities", tag: "Auth", summary: "Login options; user, flags and access when signed in",
			statuses: map[int]string{200: "capabilities"}, handler: s.handleCapabilities},
		{method: "GET", path: "/auth/me", auth: true, tag: "Auth", summary: "The signed-in user with roles and permissions",
			statuses: map[int]string{200: "user", 401: "not signed in"}, handler: s.handleMe},
		{method: "GET", path: "/auth/sso/login", tag: "Auth", summary: "Start an SSO login ({url}, or 302 with redirect=true)",
			query: []string{"redirect_uri", "redirect"}, statuses: map[int]string{200: "login URL", 302: "redirect to the identity provider", 404: "SSO not configured"}, handler: s.handleSSOLogin},
		{method: "GET", path: "/auth/sso/callback", tag: "Auth", summary: "Finish an SSO login and redirect to the return URL",
			query: []string{"code", "state", "error"}, statuses: map[int]string{302: "to the return URL, with ?error= on failure"}, handler: s.handleSSOCallback},
		{method: "POST", path: "/auth/logout", tag: "Auth", summary: "Destroy the session and clear cookies",
			statuses: map[int]string{200: "signed out", 403: "cross-site request"}, handler: s.handleLogout},
		{method: "POST", path: "/auth/refresh", tag: "Auth", summary: "Extend the session (sliding expiry)",
			statuses: map[int]string{200: "refreshed", 401: "no valid session"}, handler: s.handleRefresh},
		{method: "POST", path: "/auth/credentials/sign-in", tag: "Auth", summary: "Sign in with email and password", body: "Credentials",
			statuses: map[int]string{200: "signed in", 400: "invalid body", 401: "Invalid email or password", 403: "account may not sign in (e.g. email not verified)", 404: "credentials not configured", 429: "locked out, or too many password hashes in progress (Retry-After)", 503: "provider unavailable"}, handler: s.handleSignIn},
		{method: "POST", path: "/auth/credentials/sign-up", tag: "Auth", summary: "Create an account", body: "SignUp",
			statuses: map[int]string{201: "created and signed in", 400: "invalid body", 403: "sign-up disabled", 404: "credentials not configured", 409: "account exists", 429: "too many sign-ups from this address, or too many password hashes in progress (Retry-After)"}, handler: s.handleSignUp},
		{method: "POST", path: "/auth/credentials/password-reset", tag: "Auth", summary: "Request a password reset (always 202)", body: "PasswordResetRequest",
			statuses: map[int]string{202: "accepted", 400: "invalid body", 429: "too many attempts from this address (Retry-After)", 501: "not supported"}, handler: s.handlePasswordReset},
		{method: "POST", path: "/auth/credentials/password-reset/confirm", tag: "Auth", summary: "Set a new password with a reset token", body: "PasswordResetConfirm",
			statuses: map[int]string{200: "password changed", 400: "invalid password", 401: "invalid or expired token", 429: "too many attempts, or too many password hashes in progress (Retry-After)", 501: "not supported"}, handler: s.handlePasswordResetConfirm},

		{method: "GET", path: "/audit", auth: true, permission: auth.PermAuditRead, tag: "Audit", summary: "Query audit events, newest first", response: "AuditPage",
			query:    []string{"actorId", "actorType", "action", "actionPrefix", "resourceType", "resourceId", "outcome", "q", "startDate", "endDate", "offset", "limit", "page", "perPage", "cursor"},
			statuses: map[int]string{200: "events", 400: "invalid filter", 401: "not signed in", 403: "missing audit:read", 503: "audit storage not configured"}, handler: s.handleAuditList},
		{method: "GET", path: "/audit/export", auth: true, permission: auth.PermAuditExport, tag: "Audit", summary: "Stream matching events as CSV or JSON lines",
			query:    []string{"format", "actorId", "actorType", "action", "actionPrefix", "resourceType", "resourceId", "outcome", "q", "startDate", "endDate"},
			statuses: map[int]string{200: "the export", 400: "invalid filter", 401: "not signed in", 403: "missing audit:export", 503: "audit storage not configured"}, handler: s.handleAuditExport},
		{method: "POST", path: "/audit/exports", auth: true, permission: auth.PermAuditExport, tag: "Audit", summary: "Ask the audit provider (e.g. WorkOS) to prepare an export of its events", body: "AuditExport",
			statuses: map[int]string{201: "the export, usually pending", 400: "invalid body", 401: "not signed in", 403: "missing audit:export", 429: "provider rate limit", 501: "no audit provider can export", 503: "provider unavailable"}, handler: s.handleAuditExportCreate},
		{method: "GET", path: "/audit/exports/{id}", auth: true, permission: auth.PermAuditExport, tag: "Audit", summary: "State of a provider export (pending, ready with url, error)",
			statuses: map[int]string{200: "the export", 401: "not signed in", 403: "missing audit:export", 404: "not found", 501: "no audit provider can export", 503: "provider unavailable"}, handler: s.handleAuditExportGet},
		{method: "GET", path: "/audit/{id}", auth: true, permission: auth.PermAuditRead, tag: "Audit", summary: "One audit event",
			statuses: map[int]string{200: "event", 401: "not signed in", 403: "missing audit:read", 404: "not found"}, handler: s.handleAuditGet},

		{method: "GET", path: "/admin/plugins", auth: true, permission: auth.PermPluginsRead, tag: "Admin", summary: "Loaded plugins with health, pool and latency, and degraded plugin files (failed to load, selected by nothing) with their error",
			statuses: map[int]string{200: "plugins", 401: "not signed in", 403: "missing plugins:read"}, handler: s.handleAdminPlugins},
		{method: "POST", path: "/admin/plugins/reload", auth: true, permission: auth.PermPluginsManage, tag: "Admin", summary: "Reload the plugins directory now (as on a file change): replaced files swap in, removed ones unload, a file that fails to load keeps its previous version serving and is listed in problems",
			statuses: map[int]string{200: "plugins after the reload, with problems", 401: "not signed in", 403: "missing plugins:manage", 503: "hot reload is not available"}, handler: s.handleAdminPluginsReload},
		{method: "GET", path: "/admin/roles", auth: true, permission: auth.PermUsersRead, tag: "Admin", summary: "The RBAC provider's role definitions",
			statuses: map[int]string{200: "roles", 401: "not signed in", 403: "missing users:read", 501: "RBAC provider cannot list roles"}, handler: s.handleListRoles},
		{method: "GET", path: "/admin/users/{id}/roles", auth: true, permission: auth.PermUsersRead, tag: "Admin", summary: "A user's role assignment ({roles, assigned}; without one the user has the provider's or the default roles)",
			statuses: map[int]string{200: "roles", 401: "not signed in", 403: "missing users:read", 501: "RBAC provider cannot assign roles"}, handler: s.handleGetUserRoles},
		{method: "PUT", path: "/admin/users/{id}/roles", auth: true, permission: auth.PermUsersWrite, tag: "Admin", summary: "Assign a user's roles, exactly ([] = no roles); effective at once, existing sessions included", body: "Roles",
			statuses: map[int]string{200: "roles", 400: "unknown role", 401: "not signed in", 403: "missing users:write", 404: "no such user", 501: "RBAC provider cannot assign roles", 503: "user provider unavailable"}, handler: s.handlePutUserRoles},
		{method: "DELETE", path: "/admin/users/{id}/roles", auth: true, permission: auth.PermUsersWrite, tag: "Admin", summary: "Remove a user's role assignment: back to the provider's or the default roles",
			statuses: map[int]string{200: "assignment removed (or there was none)", 401: "not signed in", 403: "missing users:write", 501: "RBAC provider cannot assign roles"}, handler: s.handleDeleteUserRoles},
		{method: "GET", path: "/admin/acl", auth: true, permission: auth.PermACLRead, tag: "Admin", summary: "List ACL grants",
			query: []string{"subject", "resourceType", "resourceId"}, statuses: map[int]string{200: "grants", 401: "not signed in", 403: "missing acl:read", 501: "no ACL manager"}, handler: s.handleACLList},
		{method: "POST", path: "/admin/acl", auth: true, permission: auth.PermACLWrite, tag: "Admin", summary: "Grant actions on a resource", body: "Grant",
			statuses: map[int]string{201: "grant", 400: "invalid grant", 401: "not signed in", 403: "missing acl:write", 501: "no ACL manager"}, handler: s.handleACLGrant},
		{method: "DELETE", path: "/admin/acl", auth: true, permission: auth.PermACLWrite, tag: "Admin", summary: "Revoke actions (all when none given)", body: "Revoke",
			statuses: map[int]string{200: "revoked", 400: "invalid revoke", 401: "not signed in", 403: "missing acl:write", 501: "no ACL manager"}, handler: s.handleACLRevoke},

		{method: "POST", path: "/webhooks/{provider}", tag: "Webhooks", summary: "A provider's signed webhook (e.g. WorkOS directory sync)",
			statuses: map[int]string{200: "applied", 400: "invalid or oversized body", 401: "bad signature", 404: "no webhook endpoint for this provider (the same answer whether it is installed or not)", 429: "too many deliveries or too many in flight for this provider (Retry-After)", 503: "changes not applied; retry"}, handler: s.handleWebhook},

		{method: "GET", path: "/openapi.json", tag: "Meta", summary: "This API's OpenAPI 3.1 document",
			statuses: map[int]string{200: "the document"}, handler: s.handleOpenAPI},
	}
}
