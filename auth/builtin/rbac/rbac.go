// Package rbac is authhost's built-in role-based access control: static
// role definitions (auth.DefaultRoles by default), a mapping from an
// identity provider's role names to role ids, and per-user role
// assignments kept in the store.
package rbac

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/store"
)

// userPrefix keys assignments: rbac/user/<escaped user id> → JSON role ids.
const userPrefix = "rbac/user/"

// Options configures a Manager. The zero value uses the default roles,
// passes provider roles through unchanged and gives no default role.
type Options struct {
	// Roles are the role definitions; nil means auth.DefaultRoles().
	Roles []auth.RoleDefinition
	// Mapping maps role names carried on auth.User (from the identity
	// provider) to role ids; its "_default" entry applies to unmapped
	// names and to users without roles. Nil passes names through.
	Mapping auth.RoleMapping
	// DefaultRoles are the roles of a user with no assignment and no
	// (mapped) provider roles; empty means none.
	DefaultRoles []string
}

// Manager is a static auth.RBACManager. A user's roles are, in order of
// precedence: the roles assigned with SetUserRoles (an empty assignment
// included: no roles); else the roles on the auth.User, mapped by
// Options.Mapping; else Options.DefaultRoles. Only
// defined role ids are returned. Permissions are resolved with
// auth.ResolvePermissions, inheritance included.
type Manager struct {
	st       store.Store
	defs     []auth.RoleDefinition
	known    map[string]bool
	mapping  auth.RoleMapping
	defaults []string
}

var _ auth.RBACManager = (*Manager)(nil)

// New returns a Manager keeping assignments in st. It checks the options:
// role ids must be unique and non-empty, and inherited, mapped and default
// roles must be defined.
func New(st store.Store, opts Options) (*Manager, error) {
	defs := opts.Roles
	if defs == nil {
		defs = auth.DefaultRoles()
	}
	m := &Manager{st: st, known: map[string]bool{}, mapping: opts.Mapping}
	for i, d := range defs {
		if d.ID == "" {
			return nil, fmt.Errorf("rbac: roles[%d]: empty id", i)
		}
		if m.known[d.ID] {
			return nil, fmt.Errorf("rbac: roles[%d]: duplicate id %q", i, d.ID)
		}
		m.known[d.ID] = true
		m.defs = append(m.defs, cloneDef(d))
	}
	for _, d := range defs {
		for _, p := range d.Inherits {
			if !m.known[p] {
				return nil, fmt.Errorf("rbac: role %q inherits unknown role %q", d.ID, p)
			}
		}
	}
	for name, ids := range opts.Mapping {
		for _, id := range ids {
			if !m.known[id] {
				return nil, fmt.Errorf("rbac: mapping %q: unknown role %q", name, id)
			}
		}
	}
	for _, id := range opts.DefaultRoles {
		if !m.known[id] {
			return nil, fmt.Errorf("rbac: default roles: unknown role %q", id)
		}
	}
	m.defaults = slices.Clone(opts.DefaultRoles)
	return m, nil
}

func cloneDef(d auth.RoleDefinition) auth.RoleDefinition {
	d.Permissions = slices.Clone(d.Permissions)
	d.Inherits = slices.Clone(d.Inherits)
	return d
}

func userKey(userID string) string { return userPrefix + url.PathEscape(userID) }

// known keeps the defined role ids of ids, without duplicates, in order.
func (m *Manager) keepKnown(ids []string) []string {
	out := []string{}
	for _, id := range ids {
		if m.known[id] && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// Roles implements auth.RBACProvider.
func (m *Manager) Roles(ctx context.Context, u auth.User) ([]string, error) {
	assigned, ok, err := m.assigned(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if ok {
		return m.keepKnown(assigned), nil
	}
	if roles := m.keepKnown(m.mapping.Map(u.Roles)); len(roles) > 0 {
		return roles, nil
	}
	return slices.Clone(m.defaults), nil
}

// Permissions implements auth.RBACProvider.
func (m *Manager) Permissions(ctx context.Context, u auth.User) ([]string, error) {
	roles, err := m.Roles(ctx, u)
	if err != nil {
		return nil, err
	}
	return auth.ResolvePermissions(roles, m.defs), nil
}

// RoleDefinitions implements auth.RBACManager; it returns a copy.
func (m *Manager) RoleDefinitions(context.Context) ([]auth.RoleDefinition, error) {
	out := make([]auth.RoleDefinition, len(m.defs))
	for i, d := range m.defs {
		out[i] = cloneDef(d)
	}
	return out, nil
}

// UserRoles implements auth.RBACManager.
func (m *Manager) UserRoles(ctx context.Context, userID string) ([]string, bool, error) {
	roles, ok, err := m.assigned(ctx, userID)
	if err != nil {
		return nil, false, err
	}
	if roles == nil {
		roles = []string{}
	}
	return roles, ok, nil
}

func (m *Manager) assigned(ctx context.Context, userID string) ([]string, bool, error) {
	if userID == "" {
		return nil, false, nil
	}
	b, err := m.st.Get(ctx, userKey(userID))
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("rbac: roles of %q: %w", userID, err)
	}
	var roles []string
	if err := json.Unmarshal(b, &roles); err != nil {
		return nil, false, fmt.Errorf("rbac: roles of %q: %w", userID, err)
	}
	return roles, true, nil
}

// SetUserRoles implements auth.RBACManager: the assignment is stored as
// given, so an empty list means no roles (not the default ones). Unknown
// roles are refused with CodeInvalidRequest.
func (m *Manager) SetUserRoles(ctx context.Context, userID string, roles []string) error {
	if userID == "" {
		return auth.Errorf(auth.CodeInvalidRequest, "rbac: user id is required")
	}
	for _, r := range roles {
		if !m.known[r] {
			return auth.Errorf(auth.CodeInvalidRequest, "rbac: unknown role %q", r)
		}
	}
	b, err := json.Marshal(m.keepKnown(roles))
	if err != nil {
		return fmt.Errorf("rbac: encode roles: %w", err)
	}
	if err := m.st.Put(ctx, userKey(userID), b, 0); err != nil {
		return fmt.Errorf("rbac: set roles of %q: %w", userID, err)
	}
	return nil
}

// ClearUserRoles implements auth.RBACManager: without an assignment the
// user falls back to the mapped provider roles, else the default roles.
// Clearing a user without one is not an error.
func (m *Manager) ClearUserRoles(ctx context.Context, userID string) error {
	if userID == "" {
		return auth.Errorf(auth.CodeInvalidRequest, "rbac: user id is required")
	}
	if err := m.st.Delete(ctx, userKey(userID)); err != nil {
		return fmt.Errorf("rbac: clear roles of %q: %w", userID, err)
	}
	return nil
}
