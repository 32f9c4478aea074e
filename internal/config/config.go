// Package config loads authhost's YAML configuration: server settings,
// capability selection, built-in defaults and per-plugin settings. String
// values may reference environment variables as ${NAME} or ${NAME:-default}
// so secrets stay out of the file; a referenced variable that is unset and
// has no default is an error naming it.
package config

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/authhost/authhost/auth/identity"
	"github.com/authhost/authhost/internal/forwarded"
)

// Config is the whole configuration file.
type Config struct {
	Listen string `yaml:"listen"`
	// PublicURL is the origin browsers use; empty means "follow the listen
	// address" (see DerivePublicURL), which keeps the quick start working
	// on any port.
	PublicURL  string `yaml:"public_url"`
	PluginsDir string `yaml:"plugins_dir"`
	// WatchPlugins reloads the plugins when a file of PluginsDir changes
	// (nil: on); SIGHUP and POST /api/admin/plugins/reload work either way.
	WatchPlugins *bool  `yaml:"watch_plugins"`
	DataDir      string `yaml:"data_dir"`
	// CacheDir keeps compiled plugins between starts; default
	// <data_dir>/wasm-cache. Several servers may share one.
	CacheDir string `yaml:"cache_dir"`
	// MemoryLimitMiB is the host process's soft memory limit (Go's
	// GOMEMLIMIT) in MiB: past it the Go collector works harder rather
	// than let the heap grow. 0 takes DefaultMemoryLimitMiB; -1 turns it
	// off. A GOMEMLIMIT environment variable wins over both.
	MemoryLimitMiB int `yaml:"memory_limit_mib"`
	// Engine runs the plugins: wazero (default, the direct engine) or
	// extism (the Extism go-sdk, kept as the reference implementation).
	Engine   string             `yaml:"engine"`
	Store    Store              `yaml:"store"`
	Mode     string             `yaml:"mode"` // development (default) or production
	License  License            `yaml:"license"`
	Log      Log                `yaml:"log"`
	Caps     map[string]StrList `yaml:"capabilities"`
	Session  Session            `yaml:"session"`
	RBAC     RBAC               `yaml:"rbac"`
	Audit    Audit              `yaml:"audit"`
	Plugins  map[string]Plugin  `yaml:"plugins"`
	Security Security           `yaml:"security"`
	Metrics  Metrics            `yaml:"metrics"`
	Throttle Throttle           `yaml:"throttle"`
	// BootstrapOwners are emails granted the owner role at sign-in while
	// they have no stored role assignment: how the first owner of a
	// deployment whose users live in an identity provider is made.
	BootstrapOwners []string `yaml:"bootstrap_owners"`
}

// DefaultMemoryLimitMiB is memory_limit_mib when none is configured: the
// quick start's heap under load (plugin linear memories included) fits
// with the collector using about a tenth of the CPU (BENCHMARKS.md,
// "Memory"). Raise it when more plugins keep instances, or when
// authhost_gc_cpu_seconds_total grows faster than a tenth of the CPU.
const DefaultMemoryLimitMiB = 128

// Metrics configures the Prometheus endpoint. With listen set, /metrics is
// served there without authentication (bind it to a private address);
// with token set, the main listener also serves /metrics to requests with
// `Authorization: Bearer <token>`. With neither, there is no endpoint.
// Pprof also serves the Go runtime's profiles (/debug/pprof/) on the
// separate listener, never on the main one.
type Metrics struct {
	Listen string `yaml:"listen"`
	Token  string `yaml:"token"`
	Pprof  bool   `yaml:"pprof"`
}

// License is the license setting: a token, `none` (run production with
// RBAC, ACL and audit off, on purpose), or a mapping that also names extra
// trusted public keys:
//
//	license: ${AUTHHOST_LICENSE}
//	license: none
//	license: {token: ${AUTHHOST_LICENSE}, public_keys: [base64url-ed25519-key]}
type License struct {
	Token string `yaml:"token"`
	// None is the operator's explicit choice to run without a license.
	None bool `yaml:"-"`
	// PublicKeys are trusted besides the compiled-in vendor key, so that an
	// operator can issue licenses for their own deployment.
	PublicKeys []string `yaml:"public_keys"`
}

// UnmarshalYAML implements yaml.Unmarshaler: a scalar is a token or `none`.
func (l *License) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		v := strings.TrimSpace(n.Value)
		*l = License{Token: v, None: v == "none"}
		if l.None {
			l.Token = ""
		}
		return nil
	}
	if n.Kind == yaml.MappingNode { // n.Decode does not inherit KnownFields
		for i := 0; i < len(n.Content); i += 2 {
			if k := n.Content[i].Value; k != "token" && k != "public_keys" {
				return fmt.Errorf("line %d: field %s not found in license (want token, public_keys)", n.Content[i].Line, k)
			}
		}
	}
	type plain License
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*l = License(p)
	if strings.TrimSpace(l.Token) == "none" {
		*l = License{None: true, PublicKeys: l.PublicKeys}
	}
	return nil
}

// Store selects the storage backend of everything authhost keeps.
type Store struct {
	// Driver is badger (default: embedded, under data_dir, one process)
	// or postgres (shared by every replica).
	Driver string `yaml:"driver"`
	// DSN is the PostgreSQL connection URL (postgres://user:pass@host/db,
	// pool settings as pool_max_conns=… parameters); postgres only.
	DSN string `yaml:"dsn"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info (default), warn, error
	Format string `yaml:"format"` // text (default) or json
	// Access logs one line per HTTP request at info (else at debug).
	Access bool `yaml:"access"`
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
	// CollapseWindow is the audit flood window (default 1m): repeated
	// failures and anonymous events per action, outcome and client network
	// are written at most once per window, with their count. 0s writes
	// every event.
	CollapseWindow time.Duration `yaml:"collapse_window"`
}

// Security holds HTTP hardening settings.
type Security struct {
	// AllowedRedirectOrigins may receive post-login redirects besides the
	// public URL's own origin (e.g. a separate front-end).
	AllowedRedirectOrigins []string `yaml:"allowed_redirect_origins"`
	// TrustedProxies are the reverse proxies (CIDRs or single addresses)
	// whose X-Forwarded-For / Forwarded headers name the client. From any
	// other peer those headers are ignored. Empty trusts none.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// Proxies returns the parsed trusted proxies (validated by Validate).
func (s Security) Proxies() ([]netip.Prefix, error) {
	ps, err := forwarded.ParseProxies(s.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("security.trusted_proxies: %w", err)
	}
	return ps, nil
}

// Throttle bounds password guessing, sign-ups and password hashing. Zero
// values take the defaults given per field.
type Throttle struct {
	// SignInPerAccountIP failed sign-ins lock one account for one client
	// address for SignInWindow (the hard lock); default 10.
	SignInPerAccountIP int `yaml:"sign_in_per_account_ip"`
	// SignInPerIP failed sign-ins, any accounts, lock one client address
	// for SignInWindow; default 100.
	SignInPerIP  int           `yaml:"sign_in_per_ip"`
	SignInWindow time.Duration `yaml:"sign_in_window"` // default 15m
	// SignInPerAccount failed sign-ins from any addresses throttle one
	// account for everyone for SignInAccountWindow; default 100 per 1h.
	SignInPerAccount    int           `yaml:"sign_in_per_account"`
	SignInAccountWindow time.Duration `yaml:"sign_in_account_window"`
	// SignUpsPerIP sign-ups (created or already existing) are allowed from
	// one client address per SignUpWindow; default 20 per 1h.
	SignUpsPerIP int           `yaml:"sign_ups_per_ip"`
	SignUpWindow time.Duration `yaml:"sign_up_window"`
	// PasswordHashes is how many password hashes (credentials sign-in,
	// sign-up, reset) run at once host-wide; default GOMAXPROCS/2, at
	// least 1. Up to 4× as many wait at most PasswordHashWait (default
	// 1s) for a slot; the rest are answered 429.
	PasswordHashes   int           `yaml:"password_hashes"`
	PasswordHashWait time.Duration `yaml:"password_hash_wait"`
}

// Plugin configures one provider plugin, keyed by its describe name.
type Plugin struct {
	// Config is handed to the plugin as its JSON `config` document.
	Config       map[string]any `yaml:"config"`
	AllowedHosts []string       `yaml:"allowed_hosts"`
	// AllowPrivateNetworks lets the plugin's http_do reach loopback,
	// private, link-local and other non-public addresses (refused by
	// default); for peers on the host's own network.
	AllowPrivateNetworks bool   `yaml:"allow_private_networks"`
	Limits               Limits `yaml:"limits"`
	// Optional plugins may be absent without making the server unready.
	Optional bool `yaml:"optional"`
	// SessionCacheSeconds caps how long the host trusts one of the
	// plugin's sessions without asking the plugin again (nil: the host's
	// default, 30; 0: off). See host.DefaultSessionCacheSeconds for the
	// trade-off.
	SessionCacheSeconds *int `yaml:"session_cache_seconds"`
	// RoleCacheSeconds is how long the host reuses the plugin's answers
	// about a user's roles (nil: the host's default, 30; 0: off). See
	// host.DefaultRoleCacheSeconds.
	RoleCacheSeconds *int `yaml:"role_cache_seconds"`
	// SHA256 pins the plugin's file (64 hex digits): any other file is
	// refused at start and at every reload, the pinned one keeps serving.
	SHA256 string `yaml:"sha256"`
}

// Limits bounds one plugin. Zero values take the ABI defaults.
type Limits struct {
	MemoryMiB int `yaml:"memory_mib"`
	TimeoutMS int `yaml:"timeout_ms"`
	PoolSize  int `yaml:"pool_size"`
	PoolWarm  int `yaml:"pool_warm"` // instances kept ready; default 1
	// IdleTimeoutMS is how long an instance beyond pool_warm may sit idle
	// before it is closed; 0 takes the host's default, 30 s.
	IdleTimeoutMS    int   `yaml:"idle_timeout_ms"`
	HTTPTimeoutMS    int   `yaml:"http_timeout_ms"`
	MaxHTTPBodyBytes int64 `yaml:"max_http_body_bytes"`
	// MaxKVBytes and MaxKVKeys are the plugin's KV quota (key plus value
	// bytes, number of keys); 0 takes the host's default, 16 MiB and 10,000.
	MaxKVBytes int64 `yaml:"max_kv_bytes"`
	MaxKVKeys  int   `yaml:"max_kv_keys"`
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
		PluginsDir: "./plugins",
		DataDir:    "./data",
		Store:      Store{Driver: "badger"},
		Mode:       "development",
		Engine:     "wazero",
		Log:        Log{Level: "info", Format: "text"},
		Session:    Session{Store: "store", CookieName: "authhost_session", TTL: 7 * 24 * time.Hour, AbsoluteTTL: 30 * 24 * time.Hour},
		Audit:      Audit{Console: "off", RetentionDays: 0, CollapseWindow: time.Minute},
	}
}

// Load reads and validates a config file over the defaults, expanding
// environment variables with getenv (os.Getenv when nil). Relative
// plugins_dir, data_dir and cache_dir written in the file resolve against
// the file's directory, so the server finds them from any working
// directory.
func Load(path string, getenv func(string) (string, bool)) (Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	cfg, err := parse(raw, getenv, filepath.Dir(path))
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes YAML over the defaults, strictly (unknown keys are errors),
// expands environment references in string values and validates. Relative
// paths stay relative to the working directory.
func Parse(raw []byte, getenv func(string) (string, bool)) (Config, error) {
	return parse(raw, getenv, "")
}

// DerivePublicURL sets an empty PublicURL from the address the server
// actually listens on: an unspecified host (":8080", "0.0.0.0", "[::]")
// becomes localhost, an explicit one is kept.
func (c *Config) DerivePublicURL(listenAddr string) error {
	if c.PublicURL != "" {
		return nil
	}
	host, port, err := net.SplitHostPort(listenAddr)
	if err != nil {
		return fmt.Errorf("public_url: derive from listen address %q: %w", listenAddr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	c.PublicURL = "http://" + net.JoinHostPort(host, port)
	return nil
}

func parse(raw []byte, getenv func(string) (string, bool), baseDir string) (Config, error) {
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
		if baseDir != "" {
			resolvePaths(&root, &cfg, baseDir)
		}
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// resolvePaths makes the relative directories that the file itself sets
// relative to baseDir (defaults stay relative to the working directory).
func resolvePaths(root *yaml.Node, cfg *Config, baseDir string) {
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return
	}
	m := root.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		var dst *string
		switch m.Content[i].Value {
		case "plugins_dir":
			dst = &cfg.PluginsDir
		case "data_dir":
			dst = &cfg.DataDir
		case "cache_dir":
			dst = &cfg.CacheDir
		default:
			continue
		}
		if *dst != "" && !filepath.IsAbs(*dst) {
			*dst = filepath.Join(baseDir, *dst)
		}
	}
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
	if c.PublicURL != "" { // empty: derived from the listen address at start
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("public_url: %q must be an absolute http(s) URL", c.PublicURL))
		}
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
	switch c.Store.Driver {
	case "badger":
		if c.Store.DSN != "" {
			errs = append(errs, errors.New("store.dsn: only the postgres driver takes a DSN"))
		}
	case "postgres":
		if c.Store.DSN == "" {
			errs = append(errs, errors.New(`store.dsn: the postgres driver needs a connection URL (e.g. dsn: "${AUTHHOST_STORE_DSN}")`))
		}
	default:
		errs = append(errs, fmt.Errorf("store.driver: %q must be badger or postgres", c.Store.Driver))
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
	if c.Audit.CollapseWindow < 0 {
		errs = append(errs, errors.New("audit.collapse_window: must not be negative (0s writes every event)"))
	}
	if c.Audit.RetentionDays < 0 {
		errs = append(errs, errors.New("audit.retention_days: must not be negative"))
	}
	if c.MemoryLimitMiB < -1 {
		errs = append(errs, errors.New("memory_limit_mib: must be -1 (off), 0 (default) or a size in MiB"))
	}
	for name, p := range c.Plugins {
		l := p.Limits
		if l.MemoryMiB < 0 || l.TimeoutMS < 0 || l.PoolSize < 0 || l.PoolWarm < 0 || l.IdleTimeoutMS < 0 || l.HTTPTimeoutMS < 0 || l.MaxHTTPBodyBytes < 0 || l.MaxKVBytes < 0 || l.MaxKVKeys < 0 {
			errs = append(errs, fmt.Errorf("plugins.%s.limits: values must not be negative", name))
		}
		if l.MemoryMiB > 4096 {
			errs = append(errs, fmt.Errorf("plugins.%s.limits.memory_mib: %d exceeds the 4096 MiB Wasm32 address space", name, l.MemoryMiB))
		}
		if n := p.SessionCacheSeconds; n != nil && (*n < 0 || *n > 3600) {
			errs = append(errs, fmt.Errorf("plugins.%s.session_cache_seconds: %d is out of range 0..3600", name, *n))
		}
		if n := p.RoleCacheSeconds; n != nil && (*n < 0 || *n > 3600) {
			errs = append(errs, fmt.Errorf("plugins.%s.role_cache_seconds: %d is out of range 0..3600", name, *n))
		}
		if h := p.SHA256; h != "" && !isSHA256Hex(h) {
			errs = append(errs, fmt.Errorf("plugins.%s.sha256: must be 64 hex digits (the output of sha256sum)", name))
		}
		for _, h := range p.AllowedHosts {
			if h == "" || strings.ContainsAny(h, "/:@ ") {
				errs = append(errs, fmt.Errorf("plugins.%s.allowed_hosts: %q must be a host name or glob (no scheme, port or path)", name, h))
			}
		}
	}
	for i, e := range c.BootstrapOwners {
		if _, err := identity.Email(e); err != nil {
			errs = append(errs, fmt.Errorf("bootstrap_owners[%d]: %q: %w", i, e, err))
		}
	}
	if len(c.BootstrapOwners) > 0 && len(c.RBAC.Roles) > 0 && !slices.ContainsFunc(c.RBAC.Roles, func(r Role) bool { return r.ID == "owner" }) {
		errs = append(errs, errors.New("bootstrap_owners: rbac.roles defines no role with id owner"))
	}
	if t := c.Metrics.Token; t != "" && len(t) < 16 {
		errs = append(errs, errors.New("metrics.token: use at least 16 characters (openssl rand -hex 16)"))
	}
	if c.Metrics.Listen != "" && c.Metrics.Listen == c.Listen {
		errs = append(errs, errors.New("metrics.listen: must differ from listen (use metrics.token to serve /metrics on the main listener)"))
	}
	if c.Metrics.Pprof && c.Metrics.Listen == "" {
		errs = append(errs, errors.New("metrics.pprof: needs metrics.listen (profiles are never served on the main listener)"))
	}
	for i, k := range c.License.PublicKeys {
		if b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(strings.TrimSpace(k), "=")); err != nil || len(b) != 32 {
			errs = append(errs, fmt.Errorf("license.public_keys[%d]: want a base64url Ed25519 public key (as printed by `authhost license keygen`)", i))
		}
	}
	if t := c.Throttle; t.SignInPerAccountIP < 0 || t.SignInPerIP < 0 || t.SignInPerAccount < 0 || t.SignUpsPerIP < 0 || t.PasswordHashes < 0 ||
		t.SignInWindow < 0 || t.SignInAccountWindow < 0 || t.SignUpWindow < 0 || t.PasswordHashWait < 0 {
		errs = append(errs, errors.New("throttle: values must not be negative (zero takes the default)"))
	}
	for _, o := range c.Security.AllowedRedirectOrigins {
		ou, err := url.Parse(o)
		if err != nil || ou.Scheme == "" || ou.Host == "" || (ou.Path != "" && ou.Path != "/") {
			errs = append(errs, fmt.Errorf("security.allowed_redirect_origins: %q must be an origin like https://app.example.com", o))
		}
	}
	if _, err := c.Security.Proxies(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// isSHA256Hex reports whether h is a SHA-256 digest in hex (either case).
func isSHA256Hex(h string) bool {
	if len(h) != 64 {
		return false
	}
	for _, c := range h {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// WatchesPlugins reports whether the plugins directory is watched for
// changes (watch_plugins, default true).
func (c Config) WatchesPlugins() bool { return c.WatchPlugins == nil || *c.WatchPlugins }
