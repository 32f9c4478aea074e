package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/auth/builtin/acl"
	"github.com/authhost/authhost/auth/builtin/audit"
	"github.com/authhost/authhost/auth/builtin/audit/pgaudit"
	"github.com/authhost/authhost/auth/builtin/rbac"
	"github.com/authhost/authhost/auth/builtin/session"
	"github.com/authhost/authhost/internal/config"
	"github.com/authhost/authhost/store"
	pgstore "github.com/authhost/authhost/store/postgres"
)

// newBuiltin builds the built-in defaults from config: sessions (store,
// memory or cookie), static RBAC, the ACL manager and the audit store (plus
// a console logger when configured).
func newBuiltin(cfg config.Config, st store.Store, log *slog.Logger) (auth.Provider, error) {
	public, _ := url.Parse(cfg.PublicURL) // validated by config
	cookie := session.CookieConfig{Name: cfg.Session.CookieName, Secure: public.Scheme == "https"}
	var sessions auth.SessionProvider
	switch cfg.Session.Store {
	case "store":
		sessions = session.NewStore(st, session.Options{Cookie: cookie, TTL: cfg.Session.TTL, MaxAge: cfg.Session.AbsoluteTTL})
	case "memory":
		sessions = session.NewMemory(session.Options{Cookie: cookie, TTL: cfg.Session.TTL, MaxAge: cfg.Session.AbsoluteTTL})
	case "cookie":
		cs, err := session.NewCookie(session.CookieOptions{Secret: []byte(cfg.Session.Secret), Cookie: cookie,
			TTL: cfg.Session.TTL, MaxAge: cfg.Session.AbsoluteTTL, Revocations: st})
		if err != nil {
			return auth.Provider{}, fmt.Errorf("session: %w", err)
		}
		sessions = cs
	}

	var roles []auth.RoleDefinition
	for _, r := range cfg.RBAC.Roles {
		roles = append(roles, auth.RoleDefinition{ID: r.ID, Name: r.Name, Description: r.Description, Permissions: r.Permissions, Inherits: r.Inherits})
	}
	var defaults []string
	if cfg.RBAC.DefaultRole != "" {
		defaults = []string{cfg.RBAC.DefaultRole}
	}
	rb, err := rbac.New(st, rbac.Options{Roles: roles, Mapping: auth.RoleMapping(cfg.RBAC.RoleMapping), DefaultRoles: defaults})
	if err != nil {
		return auth.Provider{}, fmt.Errorf("rbac: %w", err)
	}

	// On Postgres the audit events get their own indexed table.
	var auditStore auth.AuditStore = audit.NewStore(st, audit.StoreOptions{})
	if ps, ok := st.(*pgstore.Store); ok {
		auditStore = pgaudit.New(ps.Pool(), pgaudit.Options{})
	}
	var auditLog auth.AuditLogger = auditStore
	if cfg.Audit.Console != "off" {
		auditLog = auditWithConsole{AuditStore: auditStore,
			console: audit.NewConsole(os.Stderr, audit.ConsoleOptions{JSON: cfg.Audit.Console == "json"})}
	}
	log.Debug("built-in providers ready", "session_store", cfg.Session.Store)
	return auth.Provider{
		Name:    auth.BuiltinName,
		Session: sessions,
		RBAC:    rb,
		ACL:     acl.New(st, acl.Options{Roles: rb}),
		Audit:   auditLog,
	}, nil
}

// auditWithConsole is the audit store that also echoes every event to the
// console; it stays queryable because it embeds the store.
type auditWithConsole struct {
	auth.AuditStore
	console *audit.Console
}

// Log implements auth.AuditLogger.
func (a auditWithConsole) Log(ctx context.Context, e auth.AuditEvent) error {
	err := a.AuditStore.Log(ctx, e)
	_ = a.console.Log(ctx, e) // the console is best effort; the store is the record
	return err
}
