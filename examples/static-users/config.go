package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk"
)

// config is the plugin's configuration (the `config` block of its entry in
// authhost.yaml).
type config struct {
	Users             []userConfig         `json:"users"`
	Roles             []abi.RoleDefinition `json:"roles"`
	AllowSignUp       bool                 `json:"allow_sign_up"`
	DefaultRole       string               `json:"default_role"`
	MinPasswordLength int                  `json:"min_password_length"`

	byEmail map[string]*userConfig
	byID    map[string]*userConfig
	roles   map[string]abi.RoleDefinition

	dummyOnce sync.Once
	dummy     string
	dummyErr  error
}

// userConfig is one configured user.
type userConfig struct {
	ID           string         `json:"id"`
	Email        string         `json:"email"`
	Name         string         `json:"name"`
	AvatarURL    string         `json:"avatar_url"`
	PasswordHash string         `json:"password_hash"`
	Roles        []string       `json:"roles"`
	Demo         bool           `json:"demo"`
	DemoPassword string         `json:"demo_password"` // printed by the host's demo banner; never checked
	Metadata     map[string]any `json:"metadata"`
}

// defaultRoles apply when the configuration defines no roles.
var defaultRoles = []abi.RoleDefinition{
	{ID: "owner", Name: "Owner", Description: "Full access to all features and settings", Permissions: []string{"*"}},
	{ID: "admin", Name: "Admin", Description: "Manage agents, workflows, and team members", Permissions: []string{
		"studio:*", "agents:*", "workflows:*", "memory:*", "tools:*", "logs:read", "users:read", "users:invite",
		"settings:read", "settings:write", "audit:read", "audit:export", "plugins:read", "plugins:manage", "acl:read", "acl:write"}},
	{ID: "member", Name: "Member", Description: "Execute agents and workflows", Permissions: []string{
		"studio:read", "studio:execute", "agents:read", "agents:execute", "workflows:read", "workflows:execute",
		"memory:read", "tools:read", "logs:read"}},
	{ID: "viewer", Name: "Viewer", Description: "Read-only access to agents and workflows", Permissions: []string{
		"studio:read", "agents:read", "workflows:read", "logs:read"}},
}

const (
	defaultMinPasswordLength = 8
	maxPasswordBytes         = 1024
)

// configSchema is the JSON Schema reported in authhost_describe.
const configSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "users": {
      "type": "array",
      "description": "Users who can sign in.",
      "items": {
        "type": "object",
        "additionalProperties": false,
        "required": ["email", "password_hash"],
        "properties": {
          "id": {"type": "string", "description": "Stable user id; derived from the email when empty."},
          "email": {"type": "string", "format": "email"},
          "name": {"type": "string"},
          "avatar_url": {"type": "string", "format": "uri"},
          "password_hash": {"type": "string", "description": "argon2id PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash) or bcrypt ($2a$/$2b$/$2y$, cost ≤ 12)."},
          "roles": {"type": "array", "items": {"type": "string"}},
          "demo": {"type": "boolean", "description": "Marks a publicly known demo credential."},
          "demo_password": {"type": "string", "description": "The demo credential's password, printed by the host at start. Ignored for sign-in."},
          "metadata": {"type": "object"}
        }
      }
    },
    "roles": {
      "type": "array",
      "description": "Role definitions; when absent the default roles owner, admin, member and viewer apply.",
      "items": {
        "type": "object",
        "required": ["id", "permissions"],
        "properties": {
          "id": {"type": "string"},
          "name": {"type": "string"},
          "description": {"type": "string"},
          "permissions": {"type": "array", "items": {"type": "string"}},
          "inherits": {"type": "array", "items": {"type": "string"}}
        }
      }
    },
    "allow_sign_up": {"type": "boolean", "default": false},
    "default_role": {"type": "string", "default": "member", "description": "Role given to users who sign up."},
    "min_password_length": {"type": "integer", "minimum": 1, "default": 8}
  }
}`

// configs parses the configuration once per distinct document.
var configs = pdk.NewConfigCache("static-users", (*config).validate)

// loadConfig returns the parsed configuration.
func loadConfig() (*config, error) { return configs.Load() }

// validate fills defaults and checks the decoded configuration; errors
// are pdk.ConfigError values naming the field at fault.
func (cfg *config) validate() error {
	if cfg.MinPasswordLength == 0 {
		cfg.MinPasswordLength = defaultMinPasswordLength
	}
	if cfg.MinPasswordLength < 1 || cfg.MinPasswordLength > maxPasswordBytes {
		return pdk.ConfigError("min_password_length", "%d is out of range 1..%d", cfg.MinPasswordLength, maxPasswordBytes)
	}
	if len(cfg.Roles) == 0 {
		cfg.Roles = slices.Clone(defaultRoles)
	}
	cfg.roles = map[string]abi.RoleDefinition{}
	for i, r := range cfg.Roles {
		if r.ID == "" {
			return pdk.ConfigError(fmt.Sprintf("roles.%d.id", i), "empty id")
		}
		if _, dup := cfg.roles[r.ID]; dup {
			return pdk.ConfigError(fmt.Sprintf("roles.%d.id", i), "duplicate role %q", r.ID)
		}
		if r.Name == "" {
			cfg.Roles[i].Name = r.ID
		}
		cfg.roles[r.ID] = cfg.Roles[i]
	}
	if cfg.DefaultRole == "" {
		cfg.DefaultRole = "member"
	}
	if _, ok := cfg.roles[cfg.DefaultRole]; !ok {
		return pdk.ConfigError("default_role", "%q is not a defined role", cfg.DefaultRole)
	}
	cfg.byEmail = map[string]*userConfig{}
	cfg.byID = map[string]*userConfig{}
	for i := range cfg.Users {
		u := &cfg.Users[i]
		u.Email = normalizeEmail(u.Email)
		if u.Email == "" {
			return pdk.ConfigError(fmt.Sprintf("users.%d.email", i), "empty email")
		}
		if err := checkHash(u.PasswordHash); err != nil {
			return pdk.ConfigError(fmt.Sprintf("users.%d.password_hash", i), "%s: %v", u.Email, err)
		}
		if u.ID == "" {
			u.ID = userID(u.Email)
		}
		if _, dup := cfg.byEmail[u.Email]; dup {
			return pdk.ConfigError(fmt.Sprintf("users.%d.email", i), "duplicate email %s", u.Email)
		}
		if _, dup := cfg.byID[u.ID]; dup {
			return pdk.ConfigError(fmt.Sprintf("users.%d.id", i), "duplicate id %s", u.ID)
		}
		cfg.byEmail[u.Email] = u
		cfg.byID[u.ID] = u
	}
	return nil
}

// dummyHash returns the hash verified when the email is unknown: same
// algorithm and cost as the first configured user's (most deployments use
// one profile), or the sign-up profile when none is configured.
func (c *config) dummyHash() (string, error) {
	c.dummyOnce.Do(func() {
		model := ""
		if len(c.Users) > 0 {
			model = c.Users[0].PasswordHash
		}
		c.dummy, c.dummyErr = dummyHash(model)
	})
	return c.dummy, c.dummyErr
}

// normalizeEmail folds an email for lookups.
func normalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// userID derives a stable id from an email.
func userID(email string) string {
	sum := sha256.Sum256([]byte("static-users:" + normalizeEmail(email)))
	return "usr_" + hex.EncodeToString(sum[:10])
}

// demoCredentials lists the configured users marked demo, for describe:
// the host warns about them at start-up (and prints demo_password).
func demoCredentials() []abi.DemoCredential {
	cfg, err := loadConfig()
	if err != nil {
		return nil
	}
	var out []abi.DemoCredential
	for _, u := range cfg.Users {
		if u.Demo {
			out = append(out, abi.DemoCredential{Email: u.Email, Password: u.DemoPassword})
		}
	}
	return out
}
