package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/authhost/authhost/abi"
	"github.com/workos/workos-go/v4/pkg/organizations"
	"github.com/workos/workos-go/v4/pkg/usermanagement"
)

// metaString reads a string from user metadata.
func metaString(u abi.User, key string) string {
	s, _ := u.Metadata[key].(string)
	return s
}

// metaStrings reads a string list from user metadata (as stored, or as
// decoded from JSON).
func metaStrings(u abi.User, key string) []string {
	switch v := u.Metadata[key].(type) {
	case []string:
		return v
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s, ok := x.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// Roles implements pdk.RBACProvider: the token's role claim (when the user
// came from a token and roles_from is "token"), else the slugs of the
// user's active memberships in the configured (or token) organization.
func (provider) Roles(ctx context.Context, u abi.User) ([]string, error) {
	c, err := getClients()
	if err != nil {
		return nil, err
	}
	org := c.cfg.OrganizationID
	tokenOrg := metaString(u, "organization_id")
	if c.cfg.RolesFrom != "memberships" {
		if r := metaString(u, "workos_role"); r != "" && (org == "" || org == tokenOrg) {
			if roles := metaStrings(u, "workos_roles"); len(roles) > 0 {
				return roles, nil
			}
			return []string{r}, nil
		}
		// A user rebuilt by the host from this plugin's session snapshot
		// carries the token's roles (already filtered by organization)
		// and no metadata.
		if len(u.Metadata) == 0 && len(u.Roles) > 0 {
			return u.Roles, nil
		}
	}
	if org == "" {
		org = tokenOrg
	}
	userID := metaString(u, "workos_id")
	if userID == "" {
		userID = u.ID
	}
	if userID == "" {
		return []string{}, nil
	}
	roles := []string{}
	seen := map[string]bool{}
	opts := usermanagement.ListOrganizationMembershipsOpts{
		UserID: userID, OrganizationID: org, Limit: 100,
		Statuses: []usermanagement.OrganizationMembershipStatus{usermanagement.Active},
	}
	for range 50 { // at most 5000 memberships
		res, err := c.users.ListOrganizationMemberships(ctx, opts)
		if err != nil {
			return nil, classify("list organization memberships", err)
		}
		for _, m := range res.Data {
			if m.Status != usermanagement.Active || (org != "" && m.OrganizationID != org) || m.Role.Slug == "" {
				continue
			}
			if !seen[m.Role.Slug] {
				seen[m.Role.Slug] = true
				roles = append(roles, m.Role.Slug)
			}
		}
		if res.ListMetadata.After == "" {
			break
		}
		opts.After = res.ListMetadata.After
	}
	return roles, nil
}

// Permissions implements pdk.RBACProvider: the role mapping applied to the
// user's roles with abi.MapRoles (an unmapped role, or no role at all,
// contributes "_default").
func (p provider) Permissions(ctx context.Context, u abi.User) ([]string, error) {
	c, err := getClients()
	if err != nil {
		return nil, err
	}
	roles, err := p.Roles(ctx, u)
	if err != nil {
		return nil, err
	}
	return abi.MapRoles(c.cfg.RoleMapping, roles), nil
}

// RoleDefinitions implements pdk.RoleDefiner: the organization's roles
// from WorkOS with permissions from the role mapping, or the mapping alone
// without an organization.
func (provider) RoleDefinitions(ctx context.Context) ([]abi.RoleDefinition, error) {
	c, err := getClients()
	if err != nil {
		return nil, err
	}
	perms := func(slug string) []string { return abi.MapRoles(c.cfg.RoleMapping, []string{slug}) }
	var defs []abi.RoleDefinition
	if c.cfg.OrganizationID != "" {
		res, err := c.orgs.ListOrganizationRoles(ctx, organizations.ListOrganizationRolesOpts{OrganizationID: c.cfg.OrganizationID})
		if err != nil {
			return nil, classify("list organization roles", err)
		}
		for _, r := range res.Data {
			p := perms(r.Slug)
			desc := r.Description
			if desc == "" {
				desc = describePermissions(p)
			}
			defs = append(defs, abi.RoleDefinition{ID: r.Slug, Name: r.Name, Description: desc, Permissions: p})
		}
		return defs, nil
	}
	for slug, p := range c.cfg.RoleMapping {
		if slug == abi.DefaultRoleKey {
			continue
		}
		defs = append(defs, abi.RoleDefinition{ID: slug, Name: slug, Description: describePermissions(p), Permissions: append([]string{}, p...)})
	}
	sort.Slice(defs, func(i, j int) bool { return defs[i].ID < defs[j].ID })
	return defs, nil
}

// describePermissions summarises a permission list as Mastra does.
func describePermissions(p []string) string {
	for _, x := range p {
		if x == "*" {
			return "Full access to all resources"
		}
	}
	if len(p) > 0 {
		allRead, anyExec := true, false
		for _, x := range p {
			allRead = allRead && strings.HasSuffix(x, ":read")
			anyExec = anyExec || strings.HasSuffix(x, ":execute")
		}
		if allRead {
			return "Read-only access"
		}
		if anyExec {
			return "Read and execute access"
		}
	}
	return fmt.Sprintf("%d permission(s)", len(p))
}
