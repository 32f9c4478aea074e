package pdk

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/authhost/authhost/abi"
)

// UserProvider is the user capability (exports user_current, user_get).
type UserProvider interface {
	// CurrentUser returns the user the request authenticates, or (nil, nil)
	// when it carries no identity this provider recognises.
	CurrentUser(ctx context.Context, req abi.Request) (*abi.User, error)
	// GetUser returns the user with the given id, or (nil, nil) when there
	// is none.
	GetUser(ctx context.Context, id string) (*abi.User, error)
}

// ProfileURLer is the optional user_profile_url export of a UserProvider.
type ProfileURLer interface {
	// ProfileURL returns the user's profile page, or "" when there is none.
	ProfileURL(ctx context.Context, u abi.User) (string, error)
}

// SessionProvider is the session capability (session_create,
// session_validate, session_destroy, session_refresh,
// session_id_from_request, session_headers, session_clear_headers).
type SessionProvider interface {
	CreateSession(ctx context.Context, userID string, metadata map[string]any) (*abi.Session, error)
	// ValidateSession returns (nil, nil) for an unknown or expired session.
	ValidateSession(ctx context.Context, id string) (*abi.Session, error)
	DestroySession(ctx context.Context, id string) error
	// RefreshSession extends the session; (nil, nil) when it is invalid.
	RefreshSession(ctx context.Context, id string) (*abi.Session, error)
	// SessionIDFromRequest returns "" when the request carries no session.
	SessionIDFromRequest(ctx context.Context, req abi.Request) (string, error)
	// SessionCookies returns the Set-Cookie values (one cookie each) that
	// carry s.
	SessionCookies(ctx context.Context, s abi.Session) ([]string, error)
	// ClearCookies returns the Set-Cookie values that remove the session.
	ClearCookies(ctx context.Context) ([]string, error)
}

// SessionLister is the optional session_list export of a SessionProvider.
type SessionLister interface {
	ListSessions(ctx context.Context, userID string) ([]abi.Session, error)
}

// SSOProvider is the sso capability (sso_login_url, sso_callback). The host
// generates state, nonce and the PKCE pair and checks the state before
// Callback runs.
type SSOProvider interface {
	LoginURL(ctx context.Context, req abi.SSOLoginURLRequest) (string, error)
	Callback(ctx context.Context, req abi.SSOCallbackRequest) (*abi.SSOCallbackResult, error)
}

// SSOLogoutURLer is the optional sso_logout_url export of an SSOProvider.
type SSOLogoutURLer interface {
	// LogoutURL returns "" when the identity provider has no logout URL.
	LogoutURL(ctx context.Context, req abi.SSOLogoutURLRequest) (string, error)
}

// CredentialsProvider is the credentials capability (credentials_sign_in,
// credentials_sign_up). Wrong credentials are Errorf(abi.CodeInvalidCredentials, …).
type CredentialsProvider interface {
	SignIn(ctx context.Context, req abi.SignInRequest) (*abi.CredentialsResult, error)
	SignUp(ctx context.Context, req abi.SignUpRequest) (*abi.CredentialsResult, error)
}

// SignUpEnabler is the optional credentials_sign_up_enabled export. A
// credentials provider without it is reported as having sign-up enabled.
type SignUpEnabler interface {
	SignUpEnabled(ctx context.Context) (bool, error)
}

// PasswordResetter is the optional pair credentials_password_reset_request
// and credentials_password_reset.
type PasswordResetter interface {
	RequestPasswordReset(ctx context.Context, req abi.PasswordResetRequest) error
	ResetPassword(ctx context.Context, req abi.PasswordResetApply) error
}

// RBACProvider is the rbac capability (rbac_roles, rbac_permissions).
type RBACProvider interface {
	Roles(ctx context.Context, u abi.User) ([]string, error)
	Permissions(ctx context.Context, u abi.User) ([]string, error)
}

// RoleDefiner is the optional rbac_role_definitions export.
type RoleDefiner interface {
	RoleDefinitions(ctx context.Context) ([]abi.RoleDefinition, error)
}

// ACLProvider is the acl capability (acl_check, acl_list).
type ACLProvider interface {
	CheckAccess(ctx context.Context, req abi.ACLCheckRequest) (bool, error)
	// ListAccessible returns the ids of the resources of the requested type
	// the user may perform the action on.
	ListAccessible(ctx context.Context, req abi.ACLListRequest) ([]string, error)
}

// ACLManager is the optional pair acl_grant and acl_revoke.
type ACLManager interface {
	Grant(ctx context.Context, req abi.ACLGrantRequest) (*abi.ACLGrant, error)
	Revoke(ctx context.Context, req abi.ACLRevokeRequest) error
}

// AuditLogger is the audit capability (audit_log).
type AuditLogger interface {
	LogEvent(ctx context.Context, e abi.AuditEvent) error
}

// AuditQuerier is the optional audit_query export.
type AuditQuerier interface {
	QueryEvents(ctx context.Context, q abi.AuditQueryRequest) (*abi.AuditQueryResult, error)
}

// AuditExporter is the optional pair audit_export_create and
// audit_export_get (abi 1.1) of an AuditLogger: the provider prepares an
// export of the events it holds and reports its state until it is ready.
type AuditExporter interface {
	CreateAuditExport(ctx context.Context, req abi.AuditExportRequest) (*abi.AuditExport, error)
	GetAuditExport(ctx context.Context, id string) (*abi.AuditExport, error)
}

// WebhookHandler is the webhook capability (webhook_handle).
type WebhookHandler interface {
	HandleWebhook(ctx context.Context, req abi.WebhookRequest) (*abi.WebhookResult, error)
}

// Provider describes one authhost provider: its identity and the
// implementation of each capability it offers. A nil capability field means
// the capability is not offered; the capabilities in authhost_describe are
// derived from the fields that are set. Optional exports are detected by
// type assertion on the capability value (e.g. a User that also implements
// ProfileURLer serves user_profile_url).
type Provider struct {
	// Name is the provider name: lower-case letters, digits and '-',
	// starting with a letter, at most 64 characters. Operators key the
	// plugin's configuration by it.
	Name string
	// Version is the provider's own version (semver recommended).
	Version string
	// Login is the button shown on the login page (for SSO providers).
	Login *abi.LoginButton
	// ManagesSessions is true when the provider's own cookies carry the
	// session (SSO/credentials results include Set-Cookie values).
	ManagesSessions bool
	// ConfigSchema is a JSON Schema of the plugin's configuration, shown to
	// operators; it must be valid JSON when set.
	ConfigSchema json.RawMessage
	// Configure, when set, serves authhost_configure: the host calls it at
	// load with the plugin's configuration, and a non-nil error (build it
	// with ConfigError to name the field) refuses the plugin, so a bad
	// configuration fails at start-up instead of on the first sign-in.
	Configure func(ctx context.Context, config []byte) error
	// SessionTransport, when set, says where the session id travels
	// (describe's session_transport): the host then reads it from requests
	// itself and never calls SessionIDFromRequest. It runs when describe
	// is served, with the configuration available; nil keeps the call.
	SessionTransport func() *abi.SessionTransport
	// Demo, when set, lists the demo credentials the configuration enables
	// (describe's demo), which the host warns about at start-up.
	Demo func() []abi.DemoCredential

	User        UserProvider
	Session     SessionProvider
	SSO         SSOProvider
	Credentials CredentialsProvider
	RBAC        RBACProvider
	ACL         ACLProvider
	Audit       AuditLogger
	Webhook     WebhookHandler
}

// Validate reports the first problem that would make the host refuse p.
func (p *Provider) Validate() error {
	if err := abi.CheckName(p.Name); err != nil {
		return fmt.Errorf("pdk: %w", err)
	}
	if p.Version == "" {
		return fmt.Errorf("pdk: provider %s: empty version", p.Name)
	}
	if len(p.Capabilities()) == 0 {
		return fmt.Errorf("pdk: provider %s: no capability set", p.Name)
	}
	if len(p.ConfigSchema) > 0 && !json.Valid(p.ConfigSchema) {
		return fmt.Errorf("pdk: provider %s: config schema is not valid JSON", p.Name)
	}
	if p.Login != nil && (p.Login.Provider == "" || p.Login.Text == "") {
		return fmt.Errorf("pdk: provider %s: login button needs provider and text", p.Name)
	}
	return nil
}

// Capabilities returns the capabilities p offers, in abi.Capabilities order.
func (p *Provider) Capabilities() []abi.Capability {
	set := map[abi.Capability]bool{
		abi.CapUser:        p.User != nil,
		abi.CapSession:     p.Session != nil,
		abi.CapSSO:         p.SSO != nil,
		abi.CapCredentials: p.Credentials != nil,
		abi.CapRBAC:        p.RBAC != nil,
		abi.CapACL:         p.ACL != nil,
		abi.CapAudit:       p.Audit != nil,
		abi.CapWebhook:     p.Webhook != nil,
	}
	caps := []abi.Capability{}
	for _, c := range abi.Capabilities {
		if set[c] {
			caps = append(caps, c)
		}
	}
	return caps
}

// Implements returns the optional exports p offers, in abi.AllExports
// order: those of its capabilities whose interface the capability value
// implements (e.g. a Session that is also a SessionLister offers
// session_list), and authhost_configure when Configure is set.
func (p *Provider) Implements() []string {
	caps := p.Capabilities()
	out := []string{}
	if p.Configure != nil {
		out = append(out, abi.ExportConfigure)
	}
	for _, e := range abi.Table {
		if !slices.Contains(caps, e.Capability) {
			continue
		}
		for _, name := range e.Optional {
			if optional[name](p) {
				out = append(out, name)
			}
		}
	}
	return out
}

// optional tells, per optional capability export, whether p offers it.
var optional = map[string]func(p *Provider) bool{
	abi.ExportUserProfileURL:                is[ProfileURLer](func(p *Provider) any { return p.User }),
	abi.ExportSessionList:                   is[SessionLister](func(p *Provider) any { return p.Session }),
	abi.ExportSSOLogoutURL:                  is[SSOLogoutURLer](func(p *Provider) any { return p.SSO }),
	abi.ExportCredentialsSignUpEnabled:      is[SignUpEnabler](func(p *Provider) any { return p.Credentials }),
	abi.ExportCredentialsPasswordResetReq:   is[PasswordResetter](func(p *Provider) any { return p.Credentials }),
	abi.ExportCredentialsPasswordResetApply: is[PasswordResetter](func(p *Provider) any { return p.Credentials }),
	abi.ExportRBACRoleDefinitions:           is[RoleDefiner](func(p *Provider) any { return p.RBAC }),
	abi.ExportACLGrant:                      is[ACLManager](func(p *Provider) any { return p.ACL }),
	abi.ExportACLRevoke:                     is[ACLManager](func(p *Provider) any { return p.ACL }),
	abi.ExportAuditQuery:                    is[AuditQuerier](func(p *Provider) any { return p.Audit }),
	abi.ExportAuditExportCreate:             is[AuditExporter](func(p *Provider) any { return p.Audit }),
	abi.ExportAuditExportGet:                is[AuditExporter](func(p *Provider) any { return p.Audit }),
}

// is reports whether the capability value get returns implements I.
func is[I any](get func(p *Provider) any) func(p *Provider) bool {
	return func(p *Provider) bool { _, ok := get(p).(I); return ok }
}

// Describe returns the authhost_describe document of p.
func (p *Provider) Describe() abi.Describe {
	d := abi.Describe{
		ABI:             abi.Version,
		Name:            p.Name,
		Version:         p.Version,
		Capabilities:    p.Capabilities(),
		Login:           p.Login,
		ConfigSchema:    p.ConfigSchema,
		ManagesSessions: p.ManagesSessions,
		Implements:      p.Implements(),
	}
	if p.SessionTransport != nil && p.Session != nil {
		d.SessionTransport = p.SessionTransport()
	}
	if p.Demo != nil {
		d.Demo = p.Demo()
	}
	return d
}

var (
	regMu      sync.Mutex
	registered *Provider
)

// Register makes p the provider this plugin serves. Call it once, from an
// init function of package main. It panics when p is invalid or a provider
// is already registered, so mistakes surface when the host loads the plugin.
func Register(p Provider) {
	if err := p.Validate(); err != nil {
		panic(err)
	}
	regMu.Lock()
	defer regMu.Unlock()
	if registered != nil {
		panic(fmt.Sprintf("pdk: Register called twice (%s, then %s)", registered.Name, p.Name))
	}
	registered = &p
}

// Registered returns the registered provider, or nil.
func Registered() *Provider {
	regMu.Lock()
	defer regMu.Unlock()
	return registered
}
