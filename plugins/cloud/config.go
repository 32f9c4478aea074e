package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk"
	"github.com/authhost/authhost/pdk/jose"
)

// config is the plugin's configuration (the `config` block of its entry in
// authhost.yaml).
type config struct {
	Issuer                  string              `json:"issuer"`
	ClientID                string              `json:"client_id"`
	ClientSecret            string              `json:"client_secret"`
	Scopes                  []string            `json:"scopes"`
	TokenEndpointAuthMethod string              `json:"token_endpoint_auth_method"`
	AllowedAlgorithms       []string            `json:"allowed_algorithms"`
	ClockSkewSeconds        *int                `json:"clock_skew_seconds"`
	Userinfo                *bool               `json:"userinfo"`
	RoleClaim               string              `json:"role_claim"`
	RoleMapping             map[string][]string `json:"role_mapping"`
	AuthParams              map[string]string   `json:"auth_params"`
	DiscoveryTTLSeconds     int                 `json:"discovery_ttl_seconds"`
	JWKSTTLSeconds          int                 `json:"jwks_ttl_seconds"`
	JWKSRefreshSeconds      int                 `json:"jwks_min_refresh_seconds"`
	SessionTTLSeconds       int                 `json:"session_ttl_seconds"`
	SessionMaxTTLSeconds    int                 `json:"session_absolute_ttl_seconds"`
	CookieName              string              `json:"cookie_name"`
	CookieSecure            *bool               `json:"cookie_secure"`
	Login                   *abi.LoginButton    `json:"login"`

	// derived
	prefix    string // KV prefix, per issuer and client
	clockSkew time.Duration
}

// Defaults.
const (
	defaultDiscoveryTTL   = time.Hour
	defaultJWKSTTL        = time.Hour
	defaultJWKSMinRefresh = 10 * time.Second
	defaultSessionTTL     = 24 * time.Hour
	defaultSessionMaxTTL  = 30 * 24 * time.Hour
	defaultClockSkew      = 60 * time.Second
	defaultCookieName     = "authhost_cloud"
	defaultRoleClaim      = "roles"
	userSnapshotTTL       = 30 * 24 * time.Hour
)

var (
	defaultScopes     = []string{"openid", "profile", "email"}
	defaultAlgorithms = []string{"RS256", "ES256", "EdDSA"}
	defaultButton     = abi.LoginButton{Provider: "cloud", Text: "Sign in with SSO"}
)

func (c *config) discoveryTTL() time.Duration {
	return secondsOr(c.DiscoveryTTLSeconds, defaultDiscoveryTTL)
}
func (c *config) jwksTTL() time.Duration { return secondsOr(c.JWKSTTLSeconds, defaultJWKSTTL) }
func (c *config) jwksMinRefresh() time.Duration {
	return secondsOr(c.JWKSRefreshSeconds, defaultJWKSMinRefresh)
}
func (c *config) sessionTTL() time.Duration {
	return secondsOr(c.SessionTTLSeconds, defaultSessionTTL)
}
func (c *config) sessionMaxTTL() time.Duration {
	return max(secondsOr(c.SessionMaxTTLSeconds, defaultSessionMaxTTL), c.sessionTTL())
}
func (c *config) userinfo() bool { return c.Userinfo == nil || *c.Userinfo }

func secondsOr(s int, d time.Duration) time.Duration {
	if s > 0 {
		return time.Duration(s) * time.Second
	}
	return d
}

// configSchema is the JSON Schema reported in authhost_describe.
const configSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "required": ["issuer", "client_id"],
  "properties": {
    "issuer": {"type": "string", "format": "uri", "description": "OpenID issuer URL; discovery is read from <issuer>/.well-known/openid-configuration. Its host (and those of the endpoints) must be in allowed_hosts."},
    "client_id": {"type": "string"},
    "client_secret": {"type": "string", "description": "Client secret of a confidential client; empty for a public client (PKCE only)."},
    "scopes": {"type": "array", "items": {"type": "string"}, "default": ["openid", "profile", "email"], "description": "Requested scopes; openid is always added. Add offline_access for refresh tokens."},
    "token_endpoint_auth_method": {"enum": ["", "client_secret_basic", "client_secret_post", "none"], "default": "", "description": "Empty: client_secret_basic when the issuer supports it, else client_secret_post; none without a secret."},
    "allowed_algorithms": {"type": "array", "items": {"enum": ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]}, "default": ["RS256", "ES256", "EdDSA"]},
    "clock_skew_seconds": {"type": "integer", "minimum": 0, "maximum": 300, "default": 60},
    "userinfo": {"type": "boolean", "default": true, "description": "Fetch the userinfo endpoint after sign-in and merge its claims."},
    "role_claim": {"type": "string", "default": "roles", "description": "Claim holding the user's roles (a string or an array); dots address nested objects, e.g. realm_access.roles."},
    "role_mapping": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}, "description": "Identity-provider role -> permissions. _default applies to unmapped roles and to users without roles."},
    "auth_params": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Extra authorization request parameters, e.g. prompt or audience."},
    "discovery_ttl_seconds": {"type": "integer", "minimum": 1, "default": 3600},
    "jwks_ttl_seconds": {"type": "integer", "minimum": 1, "default": 3600},
    "jwks_min_refresh_seconds": {"type": "integer", "minimum": 1, "default": 10, "description": "A key id still unknown after a JWKS re-fetch is not fetched for again within this interval (a key id never seen before always triggers one re-fetch)."},
    "session_ttl_seconds": {"type": "integer", "minimum": 60, "default": 86400, "description": "Sliding session lifetime: session_refresh extends a session that has used up half of it."},
    "session_absolute_ttl_seconds": {"type": "integer", "minimum": 60, "default": 2592000, "description": "No session outlives its sign-in by more than this, however often it is refreshed."},
    "cookie_name": {"type": "string", "default": "authhost_cloud"},
    "cookie_secure": {"type": "boolean", "description": "Secure cookie attribute; default: true when the request URL is https."},
    "login": {"type": "object", "required": ["provider", "text"], "properties": {"provider": {"type": "string"}, "text": {"type": "string"}, "icon": {"type": "string"}, "description": {"type": "string"}}}
  }
}`

// configs parses the configuration once per distinct document.
var configs = pdk.NewConfigCache("cloud", (*config).validate)

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

// validate fills defaults and checks the decoded configuration; errors
// name the field at fault.
func (cfg *config) validate() error {
	cfg.Issuer = strings.TrimSuffix(strings.TrimSpace(cfg.Issuer), "/")
	if cfg.Issuer == "" {
		return fmt.Errorf("issuer: required")
	}
	u, err := url.Parse(cfg.Issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("issuer %q: want an absolute http(s) URL without query or fragment", cfg.Issuer)
	}
	if cfg.ClientID == "" {
		return fmt.Errorf("client_id: required")
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = slices.Clone(defaultScopes)
	}
	if !slices.Contains(cfg.Scopes, "openid") {
		cfg.Scopes = append([]string{"openid"}, cfg.Scopes...)
	}
	switch cfg.TokenEndpointAuthMethod {
	case "", "none":
	case "client_secret_basic", "client_secret_post":
		if cfg.ClientSecret == "" {
			return fmt.Errorf("token_endpoint_auth_method %s needs client_secret", cfg.TokenEndpointAuthMethod)
		}
	default:
		return fmt.Errorf("token_endpoint_auth_method %q: want client_secret_basic, client_secret_post or none", cfg.TokenEndpointAuthMethod)
	}
	if len(cfg.AllowedAlgorithms) == 0 {
		cfg.AllowedAlgorithms = slices.Clone(defaultAlgorithms)
	}
	for _, a := range cfg.AllowedAlgorithms {
		if !slices.Contains(jose.DefaultAlgorithms, a) {
			return fmt.Errorf("allowed_algorithms: %q is not supported (want some of %s; none and HS* are never accepted)", a, strings.Join(jose.DefaultAlgorithms, ", "))
		}
	}
	cfg.clockSkew = defaultClockSkew
	if cfg.ClockSkewSeconds != nil {
		if *cfg.ClockSkewSeconds < 0 || *cfg.ClockSkewSeconds > 300 {
			return fmt.Errorf("clock_skew_seconds %d: want 0..300", *cfg.ClockSkewSeconds)
		}
		cfg.clockSkew = time.Duration(*cfg.ClockSkewSeconds) * time.Second
	}
	for name, v := range map[string]int{"discovery_ttl_seconds": cfg.DiscoveryTTLSeconds, "jwks_ttl_seconds": cfg.JWKSTTLSeconds,
		"jwks_min_refresh_seconds": cfg.JWKSRefreshSeconds, "session_ttl_seconds": cfg.SessionTTLSeconds,
		"session_absolute_ttl_seconds": cfg.SessionMaxTTLSeconds} {
		if v < 0 {
			return fmt.Errorf("%s: negative", name)
		}
	}
	if cfg.RoleClaim == "" {
		cfg.RoleClaim = defaultRoleClaim
	}
	if cfg.CookieName == "" {
		cfg.CookieName = defaultCookieName
	}
	if strings.ContainsAny(cfg.CookieName, " \t\r\n;,=\"") {
		return fmt.Errorf("cookie_name %q: not a valid cookie name", cfg.CookieName)
	}
	for k := range cfg.AuthParams {
		switch k {
		case "response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge", "code_challenge_method":
			return fmt.Errorf("auth_params: %q is set by the plugin", k)
		}
	}
	if cfg.Login != nil && (cfg.Login.Provider == "" || cfg.Login.Text == "") {
		return fmt.Errorf("login: provider and text are required")
	}
	sum := sha256.Sum256([]byte(cfg.Issuer + "\x00" + cfg.ClientID))
	cfg.prefix = "oidc/" + hex.EncodeToString(sum[:6]) + "/"
	return nil
}
