// Package config loads authhost's YAML configuration: server settings,
// capability selection, built-in defaults and per-plugin settings. String
// values may reference environment variables as ${NAME} or ${NAME:-default}
// so secrets stay out of the file; a referenced variable that is unset and
// has no default is an error naming it.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration file.
type Config struct {
	Listen     string `yaml:"listen"`
	PublicURL  string `yaml:"public_url"`
	PluginsDir string `yaml:"plugins_dir"`
	DataDir    string `yaml:"data_dir"`
	// CacheDir keeps compiled plugins between starts; default
	// <data_dir>/wasm-cache. Several servers may share one.
	CacheDir string `yaml:"cache_dir"`
	// Engine runs the plugins: wazero (default, the direct engine) or
	// extism (the Extism go-sdk, kept as the reference implementation).
	Engine   string             `yaml:"engine"`
	Mode     string             `yaml:"mode"` // development (default) or production
	License  string             `yaml:"license"`
	Log      Log                `yaml:"log"`
	Caps     map[string]StrList `yaml:"capabilities"`
	Session  Session            `yaml:"session"`
	RBAC     RBAC               `yaml:"rbac"`
	Audit    Audit              `yaml:"audit"`
	Plugins  map[string]Plugin  `yaml:"plugins"`
	Security Security           `yaml:"security"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info (default), warn, error
	Format string `yaml:"format"` // text (default) or json
}

// Session configures the built-in session provider.
type Session struct {
	Store       string        `yaml:"store"` // store (default, persistent), memory or cookie
	CookieName  string        `yaml:"cookie_name"`
	TTL         time.Duration `yaml:"ttl"`          // sliding; default 168h
	AbsoluteTTL time.Duration `yaml:"absolute_ttl"` // default 720h
	Secret      string        `yaml:"secret"`       // required for cookie sessions, ≥ 32 bytes
}

// RBAC configures the built-in RBAC manager.
type RBAC struct {
	DefaultRole string              `yaml:"default_role"`
	RoleMapping map[string][]string `yaml:"role_mapping"`
	Roles       []Role              `yaml:"roles"`
}

// Role is a role definition in config.
type Role struct {
	ID          string   `yaml:"id"`
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Permissions []string `yaml:"permissions"`
	Inherits    []string `yaml:"inherits"`
}

// Audit configures the built-in audit logging.
type Audit struct {
	Console       string `yaml:"console"` // off (default), text or json
	RetentionDays int    `yaml:"retention_days"`
}

// Security holds HTTP hardening settings.
type Security struct {
	// AllowedRedirectOrigins may receive post-login redirects besides the
	// public URL's own origin (e.g. a separate front-end).
	AllowedRedirectOrigins []string `yaml:"allowed_redirect_origins"`
}

// Plugin configures one provider plugin, keyed by its describe name.
type Plugin struct {
	// Config is handed to the plugin as its JSON `config` document.
	Config       map[string]any `yaml:"config"`
	AllowedHosts []string       `yaml:"allowed_hosts"`
	Limits       Limits         `yaml:"limits"`
	// Optional plugins may be absent without making the server unready.
	Optional bool `yaml:"optional"`
}

// Limits bounds one plugin. Zero values take the ABI defaults.
type Limits struct {
	MemoryMiB        int   `yaml:"memory_mib"`
	TimeoutMS        int   `yaml:"timeout_ms"`
	PoolSize         int   `yaml:"pool_size"`
	PoolWarm         int   `yaml:"pool_warm"` // instances kept ready; default 1
	HTTPTimeoutMS    int   `yaml:"http_timeout_ms"`
	MaxHTTPBodyBytes int64 `yaml:"max_http_body_bytes"`
}

// StrList accepts a YAML scalar or sequence of strings.
type StrList []string

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *StrList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*s = StrList{n.Value}
		return nil
	case yaml.SequenceNode:
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		*s = l
		return nil
	}
	return fmt.Errorf("line %d: want a name or a list of names", n.Line)
}

// ConfigJSON returns the plugin's config as the JSON document handed to it.
func (p Plugin) ConfigJSON() (json.RawMessage, error) {
	if p.Config == nil {
		return json.RawMessage("{}"), nil
	}
	b, err := json.Marshal(p.Config)
	if err != nil {
		return nil, fmt.Errorf("encode plugin config: %w", err)
	}
	return b, nil
}

// Defaults returns the configuration used when no file is given.
func Defaults() Config {
	return Config{
		Listen:     ":8080",
		PublicURL:  "http://localhost:8080",
		PluginsDir: "./plugins",
		DataDir:    "./data",
		Mode:       "development",
		Engine:     "wazero",
		Log:        Log{Level: "info", Format: "text"},
		Session:    Session{Store: "store", CookieName: "authhost_session", TTL: 7 * 24 * time.Hour, AbsoluteTTL: 30 * 24 * time.Hour},
		Audit:      Audit{Console: "off", RetentionDays: 0},
	}
}

// Load reads and validates a config file over the defaults, expanding
// environment variables with getenv (os.Getenv when nil).
func Load(path string, getenv func(string) (string, bool)) (Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	cfg, err := Parse(raw, getenv)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes YAML over the defaults, strictly (unknown keys are errors),
// expands environment references in string values and validates.
func Parse(raw []byte, getenv func(string) (string, bool)) (Config, error) {
	if getenv == nil {
		getenv = os.LookupEnv
	}
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return Config{}, fmt.Errorf("parse yaml: %w", err)
	}
	if err := expandNode(&root, getenv); err != nil {
		return Config{}, err
	}
	cfg := Defaults()
	if len(root.Content) > 0 {
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		if err := enc.Encode(&root); err != nil {
			return Config{}, fmt.Errorf("re-encode yaml: %w", err)
		}
		dec := yaml.NewDecoder(&buf)
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil {
			return Config{}, fmt.Errorf("decode: %w", err)
		}
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// expandNode replaces ${NAME} references in every scalar value (not keys,
// and never re-parsed as YAML, so a value cannot inject structure).
func expandNode(n *yaml.Node, getenv func(string) (string, bool)) error {
	switch n.Kind {
	case yaml.ScalarNode:
		var missing []string
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(m string) string {
			sub := envRef.FindStringSubmatch(m)
			if v, ok := getenv(sub[1]); ok && v != "" {
				return v
			}
			if sub[2] != "" {
				return sub[3]
			}
			missing = append(missing, sub[1])
			return ""
		})
		if len(missing) > 0 {
			return fmt.Errorf("line %d: environment variable %s is not set", n.Line, strings.Join(missing, ", "))
		}
		if n.Tag == "!!str" || strings.Contains(n.Value, "\n") {
			n.Style = yaml.DoubleQuotedStyle
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			if err := expandNode(n.Content[i], getenv); err != nil {
				return err
			}
		}
	default:
		for _, c := range n.Content {
			if err := expandNode(c, getenv); err != nil {
				return err
			}
		}
	}
	return nil
}

// Validate checks the configuration and names the field at fault.
func (c *Config) Validate() error {
	var errs []error
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("public_url: %q must be an absolute http(s) URL", c.PublicURL))
	}
	if c.Listen == "" {
		errs = append(errs, errors.New("listen: must not be empty"))
	}
	if c.PluginsDir == "" {
		errs = append(errs, errors.New("plugins_dir: must not be empty"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir: must not be empty"))
	}
	switch c.Mode {
	case "development", "production":
	default:
		errs = append(errs, fmt.Errorf("mode: %q must be development or production", c.Mode))
	}
	switch c.Engine {
	case "wazero", "extism":
	default:
		errs = append(errs, fmt.Errorf("engine: %q must be wazero or extism", c.Engine))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: %q must be debug, info, warn or error", c.Log.Level))
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log.format: %q must be text or json", c.Log.Format))
	}
	switch c.Session.Store {
	case "store", "memory":
	case "cookie":
		if len(c.Session.Secret) < 32 {
			errs = append(errs, errors.New("session.secret: cookie sessions need a secret of at least 32 bytes (generate one with: openssl rand -base64 32)"))
		}
	default:
		errs = append(errs, fmt.Errorf("session.store: %q must be store, memory or cookie", c.Session.Store))
	}
	if c.Session.TTL <= 0 {
		errs = append(errs, errors.New("session.ttl: must be positive"))
	}
	if c.Session.AbsoluteTTL < c.Session.TTL {
		errs = append(errs, errors.New("session.absolute_ttl: must not be shorter than session.ttl"))
	}
	switch c.Audit.Console {
	case "off", "text", "json":
	default:
		errs = append(errs, fmt.Errorf("audit.console: %q must be off, text or json", c.Audit.Console))
	}
	if c.Audit.RetentionDays < 0 {
		errs = append(errs, errors.New("audit.retention_days: must not be negative"))
	}
	for name, p := range c.Plugins {
		l := p.Limits
		if l.MemoryMiB < 0 || l.TimeoutMS < 0 || l.PoolSize < 0 || l.PoolWarm < 0 || l.HTTPTimeoutMS < 0 || l.MaxHTTPBodyBytes < 0 {
			errs = append(errs, fmt.Errorf("plugins.%s.limits: values must not be negative", name))
		}
		if l.MemoryMiB > 4096 {
			errs = append(errs, fmt.Errorf("plugins.%s.limits.memory_mib: %d exceeds the 4096 MiB Wasm32 address space", name, l.MemoryMiB))
		}
		for _, h := range p.AllowedHosts {
			if h == "" || strings.ContainsAny(h, "/:@ ") {
				errs = append(errs, fmt.Errorf("plugins.%s.allowed_hosts: %q must be a host name or glob (no scheme, port or path)", name, h))
			}
		}
	}
	for _, o := range c.Security.AllowedRedirectOrigins {
		ou, err := url.Parse(o)
		if err != nil || ou.Scheme == "" || ou.Host == "" || (ou.Path != "" && ou.Path != "/") {
			errs = append(errs, fmt.Errorf("security.allowed_redirect_origins: %q must be an origin like https://app.example.com", o))
		}
	}
	return errors.Join(errs...)
}
