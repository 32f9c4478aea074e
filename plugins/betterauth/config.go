package main

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/authhost/authhost/pdk"
)

// config is the plugin's configuration (the `config` block of its entry in
// authhost.yaml).
type config struct {
	// BaseURL is where authhost reaches Better Auth, e.g.
	// https://app.example.com (required).
	BaseURL string `json:"base_url"`
	// BasePath is Better Auth's basePath (default /api/auth).
	BasePath string `json:"base_path"`
	// CookiePrefix is Better Auth's advanced.cookiePrefix (default
	// better-auth): the session cookie is <prefix>.session_token.
	CookiePrefix string `json:"cookie_prefix"`
	// Origin is sent as the Origin header of state-changing calls; Better
	// Auth refuses cookie-authenticated POSTs without a trusted Origin.
	// Default: the origin of BaseURL (trusted by Better Auth by default).
	Origin string `json:"origin"`
	// SecureCookies selects the __Secure- cookie name and the Secure
	// attribute, as Better Auth does on https (default: BaseURL is https).
	SecureCookies *bool `json:"secure_cookies"`
	// RequireEmailVerification refuses users whose email is not verified.
	RequireEmailVerification bool `json:"require_email_verification"`
	// SignUpEnabled turns sign-up through authhost on or off (default true).
	SignUpEnabled *bool `json:"sign_up_enabled"`
	// PasswordResetRedirectURL is the redirectTo of password-reset emails
	// when the caller gives none.
	PasswordResetRedirectURL string `json:"password_reset_redirect_url"`
	// JWT enables local verification of Better Auth JWTs (jwt plugin).
	JWT *jwtConfig `json:"jwt"`

	apiURL    string // BaseURL + BasePath, no trailing slash
	origin    string
	secure    bool
	signUp    bool
	jwtOn     bool
	jwksURL   string
	issuer    string
	audience  string
	jwksTTL   time.Duration
	clockSkew time.Duration
}

// jwtConfig configures local JWT verification against Better Auth's JWKS.
type jwtConfig struct {
	Enabled bool `json:"enabled"`
	// JWKSURL defaults to <base_url><base_path>/jwks.
	JWKSURL string `json:"jwks_url"`
	// Issuer and Audience default to BaseURL (Better Auth's defaults are its
	// own baseURL).
	Issuer   string `json:"issuer"`
	Audience string `json:"audience"`
	// CacheTTLSeconds is how long the JWKS is cached in KV (default 3600).
	CacheTTLSeconds int `json:"cache_ttl_seconds"`
	// ClockSkewSeconds is the leeway on exp/nbf/iat (default 30).
	ClockSkewSeconds *int `json:"clock_skew_seconds"`
}

const (
	defaultBasePath     = "/api/auth"
	defaultCookiePrefix = "better-auth"
	defaultJWKSTTL      = time.Hour
	defaultClockSkew    = 30 * time.Second
)

// configSchema is the JSON Schema reported in authhost_describe.
const configSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "required": ["base_url"],
  "properties": {
    "base_url": {"type": "string", "format": "uri", "description": "Where authhost reaches Better Auth, e.g. https://app.example.com. Its host must be in allowed_hosts."},
    "base_path": {"type": "string", "default": "/api/auth", "description": "Better Auth's basePath."},
    "cookie_prefix": {"type": "string", "default": "better-auth", "description": "Better Auth's advanced.cookiePrefix; the session cookie is <prefix>.session_token."},
    "origin": {"type": "string", "description": "Origin header sent on state-changing calls; must be one of Better Auth's trustedOrigins. Default: the origin of base_url."},
    "secure_cookies": {"type": "boolean", "description": "Use the __Secure- cookie name and the Secure attribute. Default: base_url is https."},
    "require_email_verification": {"type": "boolean", "default": false, "description": "Refuse users whose email is not verified."},
    "sign_up_enabled": {"type": "boolean", "default": true},
    "password_reset_redirect_url": {"type": "string", "description": "redirectTo of password-reset emails when the caller gives none; must be trusted by Better Auth."},
    "jwt": {
      "type": "object",
      "additionalProperties": false,
      "description": "Verify Better Auth JWTs (jwt plugin, EdDSA) locally against its JWKS.",
      "properties": {
        "enabled": {"type": "boolean", "default": false},
        "jwks_url": {"type": "string", "description": "Default <base_url><base_path>/jwks."},
        "issuer": {"type": "string", "description": "Expected iss; default base_url."},
        "audience": {"type": "string", "description": "Expected aud; default base_url."},
        "cache_ttl_seconds": {"type": "integer", "minimum": 1, "default": 3600},
        "clock_skew_seconds": {"type": "integer", "minimum": 0, "default": 30}
      }
    }
  }
}`

// configs parses the configuration once per distinct document.
var configs = pdk.NewConfigCache("betterauth", (*config).validate)

// loadConfig returns the parsed configuration.
func loadConfig() (*config, error) { return configs.Load() }

// validate fills defaults and checks the decoded configuration; errors
// name the field at fault.
func (cfg *config) validate() error {
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return fmt.Errorf("base_url %q: want an absolute http(s) URL", cfg.BaseURL)
	}
	cfg.BaseURL = base.String()
	if cfg.BasePath == "" {
		cfg.BasePath = defaultBasePath
	}
	if !strings.HasPrefix(cfg.BasePath, "/") {
		return fmt.Errorf("base_path %q: want a path starting with /", cfg.BasePath)
	}
	cfg.apiURL = cfg.BaseURL + strings.TrimRight(cfg.BasePath, "/")
	if cfg.CookiePrefix == "" {
		cfg.CookiePrefix = defaultCookiePrefix
	}
	if strings.ContainsAny(cfg.CookiePrefix, " ;=,\t\r\n") {
		return fmt.Errorf("cookie_prefix %q: not a valid cookie name part", cfg.CookiePrefix)
	}
	cfg.origin = base.Scheme + "://" + base.Host
	if cfg.Origin != "" {
		o, err := url.Parse(cfg.Origin)
		if err != nil || o.Scheme == "" || o.Host == "" {
			return fmt.Errorf("origin %q: want scheme://host[:port]", cfg.Origin)
		}
		cfg.origin = o.Scheme + "://" + o.Host
	}
	cfg.secure = base.Scheme == "https"
	if cfg.SecureCookies != nil {
		cfg.secure = *cfg.SecureCookies
	}
	cfg.signUp = cfg.SignUpEnabled == nil || *cfg.SignUpEnabled
	if j := cfg.JWT; j != nil && j.Enabled {
		cfg.jwtOn = true
		cfg.jwksURL = j.JWKSURL
		if cfg.jwksURL == "" {
			cfg.jwksURL = cfg.apiURL + "/jwks"
		}
		if u, err := url.Parse(cfg.jwksURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("jwt.jwks_url %q: want an absolute http(s) URL", j.JWKSURL)
		}
		cfg.issuer, cfg.audience = j.Issuer, j.Audience
		if cfg.issuer == "" {
			cfg.issuer = cfg.BaseURL
		}
		if cfg.audience == "" {
			cfg.audience = cfg.BaseURL
		}
		cfg.jwksTTL = defaultJWKSTTL
		if j.CacheTTLSeconds < 0 {
			return fmt.Errorf("jwt.cache_ttl_seconds %d: want a positive number", j.CacheTTLSeconds)
		}
		if j.CacheTTLSeconds > 0 {
			cfg.jwksTTL = time.Duration(j.CacheTTLSeconds) * time.Second
		}
		cfg.clockSkew = defaultClockSkew
		if j.ClockSkewSeconds != nil {
			if *j.ClockSkewSeconds < 0 {
				return fmt.Errorf("jwt.clock_skew_seconds %d: want >= 0", *j.ClockSkewSeconds)
			}
			cfg.clockSkew = time.Duration(*j.ClockSkewSeconds) * time.Second
		}
	}
	return nil
}

// sessionCookieName is the cookie Better Auth keeps the session token in.
func (c *config) sessionCookieName() string { return c.cookieName("session_token") }

// cookieName is Better Auth's name for one of its cookies.
func (c *config) cookieName(suffix string) string {
	n := c.CookiePrefix + "." + suffix
	if c.secure {
		n = "__Secure-" + n
	}
	return n
}
