package auth

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Capability names as they appear in config and in the capabilities response.
const (
	CapUser        = "user"
	CapSession     = "session"
	CapSSO         = "sso"
	CapCredentials = "credentials"
	CapRBAC        = "rbac"
	CapACL         = "acl"
	CapAudit       = "audit"
)

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
}

func (p Provider) has(c string) bool {
	switch c {
	case CapUser:
		return p.User != nil
	case CapSession:
		return p.Session != nil
	case CapSSO:
		return p.SSO != nil
	case CapCredentials:
		return p.Credentials != nil
	case CapRBAC:
		return p.RBAC != nil
	case CapACL:
		return p.ACL != nil
	case CapAudit:
		return p.Audit != nil
	}
	return false
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
	// AuditExporter prepares exports at the selected audit providers that
	// implement AuditExporter, in selection order (nil when none does):
	// each call goes to the first of them that does not answer
	// ErrNotSupported.
	AuditExporter AuditExporter

	// Sources names the provider chosen for each capability.
	Sources map[string][]string
	// managed holds the capabilities whose provider manages its own sessions.
	managed map[string]bool
}

// ManagesSessions reports whether the provider chosen for capability c
// (sso or credentials) manages its own sessions.
func (c *Composed) ManagesSessions(capability string) bool { return c.managed[capability] }

var singleCaps = []string{CapUser, CapSession, CapSSO, CapCredentials, CapRBAC, CapACL}

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
			return nil, fmt.Errorf("compose: unknown capability %q in selection (want one of %s)", c, strings.Join(append(singleCaps, CapAudit), ", "))
		}
	}
	out := &Composed{Sources: map[string][]string{}, managed: map[string]bool{}}
	var errs []error
	for _, c := range singleCaps {
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
		switch c {
		case CapUser:
			out.User = p.User
		case CapSession:
			out.Session = p.Session
		case CapSSO:
			out.SSO = p.SSO
		case CapCredentials:
			out.Credentials = p.Credentials
		case CapRBAC:
			out.RBAC = p.RBAC
		case CapACL:
			out.ACL = p.ACL
		}
	}
	names, err := pickAudit(plugins, builtin, byName, sel[CapAudit])
	if err != nil {
		errs = append(errs, err)
	}
	if len(names) > 0 {
		var (
			loggers   []AuditLogger
			exporters exporterChain
		)
		for _, n := range names {
			l := byName[n].Audit
			loggers = append(loggers, l)
			if s, ok := l.(AuditStore); ok && out.AuditStore == nil {
				out.AuditStore = s
			}
			if x, ok := l.(AuditExporter); ok {
				exporters = append(exporters, x)
			}
		}
		switch len(exporters) {
		case 0:
		case 1:
			out.AuditExporter = exporters[0]
		default:
			out.AuditExporter = exporters
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

func validCapability(c string) bool {
	if c == CapAudit {
		return true
	}
	for _, s := range singleCaps {
		if s == c {
			return true
		}
	}
	return false
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

// exporterChain asks each AuditExporter in turn, skipping those that answer
// ErrNotSupported (a plugin that exports the functions without offering
// them) and, for GetAuditExport, those that do not know the id.
type exporterChain []AuditExporter

var _ AuditExporter = exporterChain(nil)

func (c exporterChain) CreateAuditExport(ctx context.Context, req AuditExportRequest) (*AuditExport, error) {
	var err error
	for _, x := range c {
		var ex *AuditExport
		ex, err = x.CreateAuditExport(ctx, req)
		if !errors.Is(err, ErrNotSupported) {
			return ex, err
		}
	}
	return nil, err
}

func (c exporterChain) GetAuditExport(ctx context.Context, id string) (*AuditExport, error) {
	var (
		err       error
		supported bool
	)
	for _, x := range c {
		var ex *AuditExport
		ex, err = x.GetAuditExport(ctx, id)
		switch {
		case errors.Is(err, ErrNotSupported):
		case errors.Is(err, ErrNotFound):
			supported = true
		default:
			return ex, err
		}
	}
	if supported {
		return nil, Errorf(CodeNotFound, "audit export %q not found", id)
	}
	return nil, err
}
