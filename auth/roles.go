package auth

// Permissions that authhost's own routes require.
const (
	PermAuditRead   = "audit:read"
	PermAuditExport = "audit:export"
	PermPluginsRead = "plugins:read"
	// PermPluginsManage reloads the plugins (POST /api/admin/plugins/reload).
	PermPluginsManage = "plugins:manage"
	PermUsersRead     = "users:read"
	PermUsersWrite    = "users:write"
	PermACLRead       = "acl:read"
	PermACLWrite      = "acl:write"
)

// Default role ids.
const (
	RoleOwner  = "owner"
	RoleAdmin  = "admin"
	RoleMember = "member"
	RoleViewer = "viewer"
)

// DefaultRoles returns the built-in roles: Mastra's later (Gen B)
// owner/admin/member/viewer lists, with authhost's own permissions added to
// admin (audit, plugins, ACL). Changing role assignments (users:write) is
// left to owner so an admin cannot promote itself. A fresh slice is returned
// on every call so callers may modify it.
func DefaultRoles() []RoleDefinition {
	return []RoleDefinition{
		{ID: RoleOwner, Name: "Owner", Description: "Full access to all features and settings", Permissions: []string{"*"}},
		{ID: RoleAdmin, Name: "Admin", Description: "Manage agents, workflows, and team members", Permissions: []string{
			"studio:*", "agents:*", "workflows:*", "memory:*", "tools:*", "logs:read",
			"users:read", "users:invite", "settings:read", "settings:write",
			PermAuditRead, PermAuditExport, PermPluginsRead, PermPluginsManage, PermACLRead, PermACLWrite,
		}},
		{ID: RoleMember, Name: "Member", Description: "Execute agents and workflows", Permissions: []string{
			"studio:read", "studio:execute", "agents:read", "agents:execute",
			"workflows:read", "workflows:execute", "memory:read", "tools:read", "logs:read",
		}},
		{ID: RoleViewer, Name: "Viewer", Description: "Read-only access to agents and workflows", Permissions: []string{
			"studio:read", "agents:read", "workflows:read", "logs:read",
		}},
	}
}
