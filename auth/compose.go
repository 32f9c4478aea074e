package auth

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/authhost/authhost/abi"
)

// Capability names as they appear in config and in the capabilities
// response: the ABI's (abi.Cap*).
const (
	CapUser        = string(abi.CapUser)
	CapSession     = string(abi.CapSession)
	CapSSO         = string(abi.CapSSO)
	CapCredentials = string(abi.CapCredentials)
	CapRBAC        = string(abi.CapRBAC)
	CapACL         = string(abi.CapACL)
	CapAudit       = string(abi.CapAudit)
)

// slot is one composed capability: whether a Provider offers it and how
// the chosen provider's value lands in Composed.
type slot struct {
	has    func(Provider) bool
	assign func(*Composed, Provider)
}

// slots holds every capability composition picks exactly one provider for,
// keyed by name; audit (several providers) and webhook (routed by plugin
// name, never composed) are the ABI's others. TestSlotsCoverABI checks the
// keys against abi.Capabilities.
var slots = map[string]slot{
	CapUser:        {func(p Provider) bool { return p.User != nil }, func(c *Composed, p Provider) { c.User = p.User }},
	CapSession:     {func(p Provider) bool { return p.Session != nil }, func(c *Composed, p Provider) { c.Session = p.Session }},
	CapSSO:         {func(p Provider) bool { return p.SSO != nil }, func(c *Composed, p Provider) { c.SSO = p.SSO }},
	CapCredentials: {func(p Provider) bool { return p.Credentials != nil }, func(c *Composed, p Provider) { c.Credentials = p.Credentials }},
	CapRBAC:        {func(p Provider) bool { return p.RBAC != nil }, func(c *Composed, p Provider) { c.RBAC = p.RBAC }},
	CapACL:         {func(p Provider) bool { return p.ACL != nil }, func(c *Composed, p Provider) { c.ACL = p.ACL }},
}

// Capabilities lists the capabilities composition chooses providers for,
// in abi.Capabilities order (webhook is not composed).
func Capabilities() []string {
	var out []string
	for _, c := range abi.Capabilities {
		if _, ok := slots[string(c)]; ok || string(c) == CapAudit {
			out = append(out, string(c))
		}
	}
	return out
}

// BuiltinName names the built-in defaults in a Selection.
const BuiltinName = "builtin"

// NoneName in a Selection turns a capability off even when a plugin or the
// built-in offers it (e.g. an installed but unconfigured SSO plugin).
const NoneName = "none"

// Provider is one named source of capabilities: a loaded plugin or the
// built-in defaults. Nil fields are capabilities it does not offer.
type Provider struct {
	Name        string
	User        UserProvider
	Session     SessionProvider
	SSO         SSOProvider
	Credentials CredentialsProvider
	RBAC        RBACProvider
	ACL         ACLProvider
	Audit       AuditLogger
	// ManagesSessions is true when the provider's own cookies or tokens
	// carry the session: the host never creates a session of its own for
	// its logins, and resolves requests through the provider's session
	// capability when it is the selected one (else its UserProvider).
	ManagesSessions bool
	// SessionOnly is true when the provider recognises a signed-in request
	// only by the session id its session capability reads from the
	// request (abi session_transport.exclusive): when it serves both the
	// user and the session capability, a request carrying no session id
	// is anonymous without asking its user capability.
	SessionOnly bool
	// UserRoles, when set, reports the roles the provider knows for a
	// user now (its user capability, cached by the host): it refreshes
	// the role snapshot of the sessions the host created for the
	// provider's sign-ins (see Composed.CurrentUser).
	UserRoles RoleSource
}

// RoleSource reports a user's roles as a provider knows them now.
type RoleSource interface {
	Roles(ctx context.Context, u User) ([]string, error)
}

func (p Provider) has(c string) bool {
	if c == CapAudit {
		return p.Audit != nil
	}
	s, ok := slots[c]
	return ok && s.has(p)
}

// Selection names, per capability, the provider(s) that serve it. Only
// audit may name several (events fan out to all). Unnamed capabilities take
// the one plugin that offers them, else the built-in.
type Selection map[string][]string

// Composed is the provider the server talks to: one source per capability
// (several for audit), chosen by Compose.
type Composed struct {
	User        UserProvider
	Session     SessionProvider
	SSO         SSOProvider
	Credentials CredentialsProvider
	RBAC        RBACProvider
	ACL         ACLProvider
	// Audit fans out to every selected audit logger; AuditStore is the
	// first selected logger that can be queried, if any.
	Audit      AuditLogger
	AuditStore AuditStore
	// AuditExporter is the first selected audit provider that is an
	// AuditExporter (nil when none is): plugins are exporters only when
	// they offer both export calls (describe's implements).
	AuditExporter AuditExporter

	// Sources names the provider chosen for each capability.
	Sources map[string][]string
	// managed holds the capabilities whose provider manages its own sessions.
	managed map[string]bool
	// sessionOnlyUser is set when one provider serves user and session
	// and recognises requests only by its session (Provider.SessionOnly).
	sessionOnlyUser bool
	// userRoles refreshes the roles of host sessions whose snapshot source
	// (MetaSource: the sign-in capability) is in rolesFrom; see
	// refreshRoles.
	userRoles RoleSource
	rolesFrom map[string]bool
}

// ManagesSessions reports whether the provider chosen for capability c
// (sso or credentials) manages its own sessions.
func (c *Composed) ManagesSessions(capability string) bool { return c.managed[capability] }

// Compose picks a provider per capability from plugins and the built-in.
// Errors name the capability and the candidates, e.g. an ambiguous default
// or a selection naming a provider that does not offer the capability.
func Compose(plugins []Provider, builtin Provider, sel Selection) (*Composed, error) {
	byName := map[string]Provider{BuiltinName: builtin}
	for _, p := range plugins {
		if p.Name == BuiltinName || p.Name == NoneName {
			return nil, fmt.Errorf("compose: a plugin may not be named %q", BuiltinName)
		}
		if _, dup := byName[p.Name]; dup {
			return nil, fmt.Errorf("compose: two plugins are named %q", p.Name)
		}
		byName[p.Name] = p
	}
	for c := range sel {
		if !validCapability(c) {
			return nil, fmt.Errorf("compose: unknown capability %q in selection (want one of %s)", c, strings.Join(Capabilities(), ", "))
		}
	}
	out := &Composed{Sources: map[string][]string{}, managed: map[string]bool{}}
	var errs []error
	for _, c := range Capabilities() {
		if c == CapAudit {
			continue
		}
		name, err := pickOne(c, plugins, builtin, byName, sel[c])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if name == "" {
			continue
		}
		p := byName[name]
		out.Sources[c] = []string{name}
		out.managed[c] = p.ManagesSessions
		slots[c].assign(out, p)
	}
	out.pickUserRoles(byName)
	if u, sp := out.Sources[CapUser], out.Sources[CapSession]; len(u) == 1 && len(sp) == 1 && u[0] == sp[0] {
		out.sessionOnlyUser = byName[u[0]].SessionOnly
	}
	names, err := pickAudit(plugins, builtin, byName, sel[CapAudit])
	if err != nil {
		errs = append(errs, err)
	}
	if len(names) > 0 {
		var loggers []AuditLogger
		for _, n := range names {
			l := byName[n].Audit
			loggers = append(loggers, l)
			if s, ok := l.(AuditStore); ok && out.AuditStore == nil {
				out.AuditStore = s
			}
			if x, ok := l.(AuditExporter); ok && out.AuditExporter == nil {
				out.AuditExporter = x
			}
		}
		out.Sources[CapAudit] = names
		if len(loggers) == 1 {
			out.Audit = loggers[0]
		} else {
			out.Audit = FanOut(loggers...)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// pickUserRoles decides whose roles refresh the snapshot of host sessions:
// with the built-in sessions and RBAC, the user provider's, for the
// sessions of sign-ins (credentials, sso) that same provider served, as it
// knows those users. Other sign-ins keep their snapshot.
func (c *Composed) pickUserRoles(byName map[string]Provider) {
	one := func(capability string) string {
		if s := c.Sources[capability]; len(s) == 1 {
			return s[0]
		}
		return ""
	}
	users := one(CapUser)
	if one(CapSession) != BuiltinName || one(CapRBAC) != BuiltinName || users == "" || byName[users].UserRoles == nil {
		return
	}
	for _, signIn := range []string{CapCredentials, CapSSO} {
		if one(signIn) == users {
			if c.rolesFrom == nil {
				c.rolesFrom = map[string]bool{}
			}
			c.rolesFrom[signIn] = true
		}
	}
	if c.rolesFrom != nil {
		c.userRoles = byName[users].UserRoles
	}
}

func validCapability(c string) bool {
	_, ok := slots[c]
	return ok || c == CapAudit
}

func pickOne(c string, plugins []Provider, builtin Provider, byName map[string]Provider, named []string) (string, error) {
	if len(named) == 1 && named[0] == NoneName {
		return "", nil
	}
	switch len(named) {
	case 0:
	case 1:
		p, ok := byName[named[0]]
		if !ok {
			return "", fmt.Errorf("compose: %s: provider %q is not loaded (loaded: %s)", c, named[0], strings.Join(loadedNames(byName), ", "))
		}
		if !p.has(c) {
			return "", fmt.Errorf("compose: %s: provider %q does not offer capability %q", c, named[0], c)
		}
		return named[0], nil
	default:
		return "", fmt.Errorf("compose: %s: only audit may name several providers, got %s", c, strings.Join(named, ", "))
	}
	var candidates []string
	for _, p := range plugins {
		if p.has(c) {
			candidates = append(candidates, p.Name)
		}
	}
	switch {
	case len(candidates) == 1:
		return candidates[0], nil
	case len(candidates) > 1:
		sort.Strings(candidates)
		return "", fmt.Errorf("compose: %s is offered by several plugins (%s): name one in the config's capabilities section", c, strings.Join(candidates, ", "))
	case builtin.has(c):
		return BuiltinName, nil
	}
	return "", nil
}

// pickAudit defaults to the built-in store plus every plugin that offers
// audit, so events are never lost and can always be queried.
func pickAudit(plugins []Provider, builtin Provider, byName map[string]Provider, named []string) ([]string, error) {
	if len(named) == 1 && named[0] == NoneName {
		return nil, nil
	}
	if len(named) > 0 {
		seen := map[string]bool{}
		for _, n := range named {
			p, ok := byName[n]
			if !ok {
				return nil, fmt.Errorf("compose: audit: provider %q is not loaded (loaded: %s)", n, strings.Join(loadedNames(byName), ", "))
			}
			if !p.has(CapAudit) {
				return nil, fmt.Errorf("compose: audit: provider %q does not offer capability \"audit\"", n)
			}
			if seen[n] {
				return nil, fmt.Errorf("compose: audit: provider %q named twice", n)
			}
			seen[n] = true
		}
		return named, nil
	}
	var out []string
	if builtin.has(CapAudit) {
		out = append(out, BuiltinName)
	}
	for _, p := range plugins {
		if p.has(CapAudit) {
			out = append(out, p.Name)
		}
	}
	return out, nil
}

func loadedNames(byName map[string]Provider) []string {
	out := make([]string, 0, len(byName))
	for n := range byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// FanOut returns an AuditLogger that logs every event to all loggers. Every
// logger is tried; the joined errors of those that failed are returned.
func FanOut(loggers ...AuditLogger) AuditLogger { return fanOut(loggers) }

type fanOut []AuditLogger

var _ AuditLogger = fanOut(nil)

func (f fanOut) Log(ctx context.Context, e AuditEvent) error {
	var errs []error
	for _, l := range f {
		if err := l.Log(ctx, e); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
