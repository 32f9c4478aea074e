// Command workos is authhost's WorkOS provider, built as a WebAssembly
// plugin (GOOS=wasip1, c-shared). It drives the unmodified
// github.com/workos/workos-go/v4 clients over the host's http_do transport:
// AuthKit SSO with PKCE, sessions backed by WorkOS access and refresh
// tokens (verified against the WorkOS JWKS), users, roles from the token or
// from organization memberships, audit-log export and directory-sync
// webhooks.
package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk"
	"github.com/workos/workos-go/v4/pkg/auditlogs"
	"github.com/workos/workos-go/v4/pkg/directorysync"
	"github.com/workos/workos-go/v4/pkg/organizations"
	"github.com/workos/workos-go/v4/pkg/usermanagement"
)

// version is the provider's own version.
const version = "0.1.0"

// defaultEndpoint is the WorkOS API.
const defaultEndpoint = "https://api.workos.com"

// config is the plugin's configuration (the `config` block of its entry in
// authhost.yaml).
type config struct {
	// APIKey is the WorkOS secret key (sk_…). Required.
	APIKey string `json:"api_key"`
	// ClientID is the WorkOS client id (client_…). Required.
	ClientID string `json:"client_id"`
	// Endpoint is the WorkOS API base URL; default https://api.workos.com.
	Endpoint string `json:"endpoint"`
	// Issuer is the iss claim access tokens must carry. Empty accepts
	// Endpoint and Endpoint + "/user_management/" + ClientID.
	Issuer string `json:"issuer"`
	// SSO selects what the authorization URL asks for: connection, then
	// provider, then organization, else AuthKit.
	SSO ssoConfig `json:"sso"`
	// OrganizationID scopes roles (memberships) and is the default audit
	// organization.
	OrganizationID string `json:"organization_id"`
	// RoleMapping maps WorkOS role slugs to authhost permissions; the key
	// "_default" applies to users without a (mapped) role.
	RoleMapping map[string][]string `json:"role_mapping"`
	// RolesFrom is "token" (the access token's role claim, falling back to
	// memberships), or "memberships" (always list memberships).
	RolesFrom string `json:"roles_from"`
	// CookieName is the session cookie; default wos_session.
	CookieName string `json:"cookie_name"`
	// CookieSecure adds the Secure attribute to the session cookie.
	CookieSecure bool `json:"cookie_secure"`
	// WebhookSecret verifies WorkOS-Signature on webhooks.
	WebhookSecret string `json:"webhook_secret"`
	// DirectoryID, when set, ignores directory-sync events of other
	// directories.
	DirectoryID string `json:"directory_id"`
	// GroupRoles maps directory group names (or ids) to authhost roles.
	GroupRoles map[string]string `json:"group_roles"`
	// AuditOrganizationID is the organization audit events go to; default
	// OrganizationID.
	AuditOrganizationID string `json:"audit_organization_id"`
	// AuditEventPrefix prefixes audit actions; default "authhost".
	AuditEventPrefix string `json:"audit_event_prefix"`
	// Login is the login button (provider id, text, icon); default
	// {workos, "Sign in with SSO"}.
	Login *abi.LoginButton `json:"login"`
}

// ssoConfig chooses the identity source of the authorization URL.
type ssoConfig struct {
	Connection   string `json:"connection"`
	Provider     string `json:"provider"` // GoogleOAuth, MicrosoftOAuth, GitHubOAuth, AppleOAuth, authkit
	Organization string `json:"organization"`
	ScreenHint   string `json:"screen_hint"` // sign-in or sign-up (AuthKit only)
}

// configSchema is the JSON Schema reported in authhost_describe.
const configSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["api_key", "client_id"],
  "properties": {
    "api_key": {"type": "string", "description": "WorkOS secret API key (sk_…)."},
    "client_id": {"type": "string", "description": "WorkOS client id (client_…)."},
    "endpoint": {"type": "string", "description": "WorkOS API base URL.", "default": "https://api.workos.com"},
    "issuer": {"type": "string", "description": "Required iss of access tokens; empty accepts the endpoint and endpoint/user_management/<client_id>."},
    "sso": {"type": "object", "properties": {
      "connection": {"type": "string"}, "provider": {"type": "string"},
      "organization": {"type": "string"}, "screen_hint": {"enum": ["sign-in", "sign-up"]}}},
    "organization_id": {"type": "string"},
    "role_mapping": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    "roles_from": {"enum": ["token", "memberships"], "default": "token"},
    "cookie_name": {"type": "string", "default": "wos_session"},
    "cookie_secure": {"type": "boolean"},
    "webhook_secret": {"type": "string"},
    "directory_id": {"type": "string"},
    "group_roles": {"type": "object", "additionalProperties": {"type": "string"}},
    "audit_organization_id": {"type": "string"},
    "audit_event_prefix": {"type": "string", "default": "authhost"},
    "login": {"type": "object", "required": ["provider", "text"], "properties": {
      "provider": {"type": "string"}, "text": {"type": "string"}, "icon": {"type": "string"}}}
  }
}`

// configs parses the configuration once per distinct document.
var configs = pdk.NewConfigCache("workos", (*config).validate)

// loadConfig returns the parsed configuration.
func loadConfig() (*config, error) { return configs.Load() }

// cookieName is the configured session cookie, declared in describe.
func cookieName() (string, error) {
	cfg, err := loadConfig()
	if err != nil {
		return "", err
	}
	return cfg.CookieName, nil
}

// validate fills defaults and checks the decoded configuration.
func (c *config) validate() error {
	if c.APIKey == "" || c.ClientID == "" {
		return fmt.Errorf("api_key and client_id are required")
	}
	if c.Endpoint == "" {
		c.Endpoint = defaultEndpoint
	}
	c.Endpoint = strings.TrimRight(c.Endpoint, "/")
	if c.CookieName == "" {
		c.CookieName = "wos_session"
	}
	if c.AuditEventPrefix == "" {
		c.AuditEventPrefix = "authhost"
	}
	if c.AuditOrganizationID == "" {
		c.AuditOrganizationID = c.OrganizationID
	}
	switch c.RolesFrom {
	case "", "token", "memberships":
	default:
		return fmt.Errorf("roles_from must be token or memberships, not %q", c.RolesFrom)
	}
	return nil
}

// clients holds the SDK clients built for one configuration.
type clients struct {
	cfg   *config
	users *usermanagement.Client
	orgs  *organizations.Client
	audit *auditlogs.Client
	dsync *directorysync.Client
}

var (
	clientsMu  sync.Mutex
	cached     *clients
	cachedConf string
)

// getClients returns SDK clients for the current configuration, rebuilt
// when the configuration changes.
func getClients() (*clients, error) {
	raw := string(pdk.ConfigJSON())
	clientsMu.Lock()
	defer clientsMu.Unlock()
	if cached != nil && raw == cachedConf {
		return cached, nil
	}
	cfg, err := loadConfig()
	if err != nil {
		return nil, err
	}
	hc := pdk.HTTPClient()
	um := usermanagement.NewClient(cfg.APIKey)
	um.Endpoint = cfg.Endpoint
	um.HTTPClient = hc
	orgs := &organizations.Client{APIKey: cfg.APIKey, Endpoint: cfg.Endpoint, HTTPClient: hc, JSONEncode: json.Marshal}
	al := &auditlogs.Client{
		APIKey: cfg.APIKey, HTTPClient: hc, JSONEncode: json.Marshal,
		EventsEndpoint:  cfg.Endpoint + "/audit_logs/events",
		ExportsEndpoint: cfg.Endpoint + "/audit_logs/exports",
	}
	ds := &directorysync.Client{APIKey: cfg.APIKey, Endpoint: cfg.Endpoint, HTTPClient: hc}
	cached = &clients{cfg: cfg, users: um, orgs: orgs, audit: al, dsync: ds}
	cachedConf = raw
	return cached, nil
}

// provider is the stateless implementation of every capability; state
// lives in WorkOS and in the host's KV.
type provider struct{}

// Interface guard: the optional audit exports (abi 1.1).
var _ pdk.AuditExporter = provider{}

func init() {
	// The button may come from the configuration (login); the host shows
	// the one of the configured instance.
	button := pdk.LoginButton(abi.LoginButton{Provider: "workos", Text: "Sign in with SSO"})
	p := provider{}
	pdk.Register(pdk.Provider{
		Name:             "workos",
		Version:          version,
		Login:            &button,
		ManagesSessions:  true,
		ConfigSchema:     json.RawMessage(configSchema),
		Configure:        configs.Configure,
		SessionTransport: pdk.CookieTransport(cookieName),
		User:             p,
		Session:          p,
		SSO:              p,
		RBAC:             p,
		Audit:            p,
		Webhook:          p,
	})
}

func main() {}
