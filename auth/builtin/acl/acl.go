// Package acl is authhost's built-in resource access-control list: grants
// of actions on one resource to a subject, kept in the store. A subject is
// a user id or "role:<roleId>"; a user is granted what is granted to its id
// and to any of its roles. The action "*" grants every action.
package acl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/store"
)

// Key layout. Every segment is path-escaped, so "/" never appears inside
// one. Both keys hold the whole grant as JSON, so each lookup is one read.
const (
	resPrefix = "acl/"     // acl/<type>/<id>/<subject> → grant
	subPrefix = "acl-sub/" // acl-sub/<subject>/<type>/<id> → grant (for ListAccessible)
)

// RolePrefix starts role subjects: "role:admin" is every user with role admin.
const RolePrefix = "role:"

// AllActions is the action that grants every action.
const AllActions = "*"

// Options configures a Manager.
type Options struct {
	// Roles reports a user's role ids for matching role subjects; nil uses
	// the roles carried on auth.User. Pass the RBAC provider to use the
	// host's role assignments.
	Roles auth.RBACProvider
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Manager is an auth.ACLManager on a store.Store.
type Manager struct {
	st    store.Store
	roles auth.RBACProvider
	now   func() time.Time
}

var _ auth.ACLManager = (*Manager)(nil)

// New returns a Manager keeping grants in st.
func New(st store.Store, opts Options) *Manager {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Manager{st: st, roles: opts.Roles, now: now}
}

func esc(s string) string { return url.PathEscape(s) }

func resKey(subject string, res auth.Resource) string {
	return resPrefix + esc(res.Type) + "/" + esc(res.ID) + "/" + esc(subject)
}

func subKey(subject string, res auth.Resource) string {
	return subPrefix + esc(subject) + "/" + esc(res.Type) + "/" + esc(res.ID)
}

func validate(subject string, res auth.Resource) error {
	switch {
	case subject == "" || subject == RolePrefix:
		return auth.Errorf(auth.CodeInvalidRequest, "acl: subject is required")
	case res.Type == "":
		return auth.Errorf(auth.CodeInvalidRequest, "acl: resource type is required")
	case res.ID == "":
		return auth.Errorf(auth.CodeInvalidRequest, "acl: resource id is required")
	}
	return nil
}

// subjects returns the subjects u answers to: its id and its roles.
func (m *Manager) subjects(ctx context.Context, u auth.User) ([]string, error) {
	roles := u.Roles
	if m.roles != nil {
		var err error
		if roles, err = m.roles.Roles(ctx, u); err != nil {
			return nil, fmt.Errorf("acl: roles of %q: %w", u.ID, err)
		}
	}
	out := make([]string, 0, len(roles)+1)
	// A user id that looks like a role subject must not match role grants.
	if u.ID != "" && !strings.HasPrefix(u.ID, RolePrefix) {
		out = append(out, u.ID)
	}
	for _, r := range roles {
		if r != "" {
			out = append(out, RolePrefix+r)
		}
	}
	return out, nil
}

func allows(actions []string, action string) bool {
	return slices.Contains(actions, AllActions) || slices.Contains(actions, action)
}

func get(ctx context.Context, r store.Reader, key string) (*auth.ACLGrant, error) {
	b, err := r.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var g auth.ACLGrant
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("acl: decode %s: %w", key, err)
	}
	return &g, nil
}

// CanAccess implements auth.ACLProvider.
func (m *Manager) CanAccess(ctx context.Context, u auth.User, res auth.Resource, action string) (bool, error) {
	if action == "" || res.Type == "" || res.ID == "" {
		return false, nil
	}
	subs, err := m.subjects(ctx, u)
	if err != nil {
		return false, err
	}
	for _, s := range subs {
		g, err := get(ctx, m.st, resKey(s, res))
		if err != nil {
			return false, fmt.Errorf("acl: check %s/%s: %w", res.Type, res.ID, err)
		}
		if g != nil && allows(g.Actions, action) {
			return true, nil
		}
	}
	return false, nil
}

// ListAccessible implements auth.ACLProvider; the ids come sorted.
func (m *Manager) ListAccessible(ctx context.Context, u auth.User, resourceType, action string) ([]string, error) {
	out := []string{}
	if action == "" || resourceType == "" {
		return out, nil
	}
	subs, err := m.subjects(ctx, u)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, s := range subs {
		err := m.st.Scan(ctx, subPrefix+esc(s)+"/"+esc(resourceType)+"/", store.ScanOptions{}, func(k string, v []byte) error {
			var g auth.ACLGrant
			if err := json.Unmarshal(v, &g); err != nil {
				return fmt.Errorf("acl: decode %s: %w", k, err)
			}
			if allows(g.Actions, action) && !seen[g.Resource.ID] {
				seen[g.Resource.ID] = true
				out = append(out, g.Resource.ID)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("acl: list %s: %w", resourceType, err)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Grant implements auth.ACLManager. Actions merge with those already
// granted to the subject on the resource; GrantedAt and GrantedBy record
// the latest grant.
func (m *Manager) Grant(ctx context.Context, subject string, res auth.Resource, actions []string, grantedBy string) (*auth.ACLGrant, error) {
	if err := validate(subject, res); err != nil {
		return nil, err
	}
	clean := slices.DeleteFunc(slices.Clone(actions), func(a string) bool { return strings.TrimSpace(a) == "" })
	if len(clean) == 0 {
		return nil, auth.Errorf(auth.CodeInvalidRequest, "acl: at least one action is required")
	}
	var out auth.ACLGrant
	err := m.st.Update(ctx, func(tx store.Txn) error {
		old, err := get(ctx, tx, resKey(subject, res))
		if err != nil {
			return err
		}
		merged := clean
		if old != nil {
			merged = append(slices.Clone(old.Actions), clean...)
		}
		slices.Sort(merged)
		out = auth.ACLGrant{
			Subject:   subject,
			Resource:  res,
			Actions:   slices.Compact(merged),
			GrantedAt: m.now().UTC(),
			GrantedBy: grantedBy,
		}
		return m.put(ctx, tx, out)
	})
	if err != nil {
		return nil, fmt.Errorf("acl: grant %s on %s/%s: %w", subject, res.Type, res.ID, err)
	}
	return &out, nil
}

func (m *Manager) put(ctx context.Context, tx store.Txn, g auth.ACLGrant) error {
	b, err := json.Marshal(g)
	if err != nil {
		return err
	}
	if err := tx.Put(ctx, resKey(g.Subject, g.Resource), b, 0); err != nil {
		return err
	}
	return tx.Put(ctx, subKey(g.Subject, g.Resource), b, 0)
}

// Revoke implements auth.ACLManager. Revoking what was never granted is
// not an error; a grant left without actions is deleted.
func (m *Manager) Revoke(ctx context.Context, subject string, res auth.Resource, actions []string) error {
	if err := validate(subject, res); err != nil {
		return err
	}
	err := m.st.Update(ctx, func(tx store.Txn) error {
		old, err := get(ctx, tx, resKey(subject, res))
		if err != nil || old == nil {
			return err
		}
		left := slices.DeleteFunc(slices.Clone(old.Actions), func(a string) bool { return slices.Contains(actions, a) })
		if len(actions) == 0 || len(left) == 0 {
			if err := tx.Delete(ctx, resKey(subject, res)); err != nil {
				return err
			}
			return tx.Delete(ctx, subKey(subject, res))
		}
		old.Actions = left
		return m.put(ctx, tx, *old)
	})
	if err != nil {
		return fmt.Errorf("acl: revoke %s on %s/%s: %w", subject, res.Type, res.ID, err)
	}
	return nil
}

// Grants implements auth.ACLManager. With neither subject nor resource it
// lists every grant; results are in key order.
func (m *Manager) Grants(ctx context.Context, subject string, res *auth.Resource) ([]auth.ACLGrant, error) {
	out := []auth.ACLGrant{}
	if subject != "" && res != nil {
		g, err := get(ctx, m.st, resKey(subject, *res))
		if err != nil {
			return nil, fmt.Errorf("acl: grants: %w", err)
		}
		if g != nil {
			out = append(out, *g)
		}
		return out, nil
	}
	prefix := resPrefix
	switch {
	case subject != "":
		prefix = subPrefix + esc(subject) + "/"
	case res != nil && res.ID != "":
		prefix = resPrefix + esc(res.Type) + "/" + esc(res.ID) + "/"
	case res != nil:
		prefix = resPrefix + esc(res.Type) + "/"
	}
	err := m.st.Scan(ctx, prefix, store.ScanOptions{}, func(k string, v []byte) error {
		var g auth.ACLGrant
		if err := json.Unmarshal(v, &g); err != nil {
			return fmt.Errorf("acl: decode %s: %w", k, err)
		}
		out = append(out, g)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("acl: grants: %w", err)
	}
	return out, nil
}

// FilterAccessible returns the items u may perform action on, in their
// original order. id gives an item's resource id. It asks acl once
// (ListAccessible) rather than once per item.
func FilterAccessible[T any](ctx context.Context, acl auth.ACLProvider, u auth.User, items []T, id func(T) string, resType, action string) ([]T, error) {
	ids, err := acl.ListAccessible(ctx, u, resType, action)
	if err != nil {
		return nil, fmt.Errorf("acl: filter %s: %w", resType, err)
	}
	ok := make(map[string]bool, len(ids))
	for _, i := range ids {
		ok[i] = true
	}
	out := make([]T, 0, len(items))
	for _, it := range items {
		if ok[id(it)] {
			out = append(out, it)
		}
	}
	return out, nil
}
