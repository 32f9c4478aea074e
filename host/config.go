package host

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/auth/hashgate"
	"github.com/authhost/authhost/host/internal/engine"
	"github.com/authhost/authhost/store"
)

// Limits bound what one plugin may use. A zero field means "inherit": per
// plugin from Config.Defaults, and from the abi.Default* values there.
type Limits struct {
	// MaxMemoryMiB caps each linear memory of an instance.
	MaxMemoryMiB int
	// CallTimeout is the deadline of one export call, host functions
	// included.
	CallTimeout time.Duration
	// PoolSize is the most instances kept per plugin; default GOMAXPROCS.
	PoolSize int
	// PoolWarm is how many instances are kept alive, created in the
	// background at load and after a discard so no request waits for an
	// instance creation; default 1, at most PoolSize. A plugin that
	// Config.Selected leaves out keeps none.
	PoolWarm int
	// IdleTimeout is how long an instance beyond PoolWarm may sit idle
	// before it is closed and its memory given back; default 30 s.
	IdleTimeout time.Duration
	// MaxInputBytes and MaxOutputBytes bound one call's payloads.
	MaxInputBytes  int
	MaxOutputBytes int
	// MaxHTTPBodyBytes bounds http_do request and response bodies.
	MaxHTTPBodyBytes int64
	// HTTPTimeout is the deadline of one http_do request (redirects
	// included); the call deadline applies too.
	HTTPTimeout time.Duration
	// MaxKVKeyBytes and MaxKVValueBytes bound the plugin KV.
	MaxKVKeyBytes   int
	MaxKVValueBytes int
	// MaxKVBytes and MaxKVKeys are the plugin's KV quota: the total of its
	// keys' and values' bytes, and the number of keys (default 16 MiB and
	// 10,000). A kv_set past either fails with invalid_request.
	MaxKVBytes int64
	MaxKVKeys  int
	// MaxLogMessageBytes truncates log host function messages and guest
	// output lines.
	MaxLogMessageBytes int
}

// Health tunes when a crashing plugin is marked unhealthy. Zero fields take
// the defaults shown.
type Health struct {
	// FailureThreshold consecutive instance failures (traps, timeouts,
	// failed instantiations) within Window mark a plugin unhealthy.
	// Default 5.
	FailureThreshold int
	// Window is the span within which failures count as consecutive.
	// Default 1 minute.
	Window time.Duration
	// Backoff is how long an unhealthy plugin fails closed before one call
	// is tried again; it doubles while the plugin keeps failing, up to
	// MaxBackoff. Defaults 5 s and 5 min.
	Backoff    time.Duration
	MaxBackoff time.Duration
}

// PluginConfig is the operator's configuration of one provider, keyed by
// the provider's name in Config.Plugins.
type PluginConfig struct {
	// Config is passed to the guest as the Extism config key "config" (a
	// JSON document the PDK reads).
	Config json.RawMessage
	// AllowedHosts lists the host names http_do may reach: exact names or
	// "*.example.com" globs (any subdomain, not the apex). Empty denies
	// every host.
	AllowedHosts []string
	// AllowPrivateNetworks lets http_do reach loopback, private, link-local
	// and the other non-public addresses (egress.Class) that are refused by
	// default, checked on the resolved address of every connection. Set it
	// only for a plugin whose peers run on the host's own network (the quick
	// start's local emulators, tests).
	AllowPrivateNetworks bool
	// Limits override Config.Defaults field by field.
	Limits Limits
	// SessionCacheSeconds caps how long the host trusts a session of this
	// plugin without asking it again (the provider says how long it
	// vouches, in the session's cache_seconds). Nil means
	// DefaultSessionCacheSeconds; 0 turns the cache off.
	SessionCacheSeconds *int
	// RoleCacheSeconds is how long the host reuses the plugin's answers
	// about a user's roles, per user: rbac_roles and rbac_permissions, and
	// the roles user_get reports (which refresh the role snapshot of host
	// sessions, auth.Provider.UserRoles). Nil means
	// DefaultRoleCacheSeconds; 0 asks every time.
	RoleCacheSeconds *int
	// SHA256 pins the plugin's file: when set (lowercase hex), a file
	// whose SHA-256 differs is refused at load and reload.
	SHA256 string
}

// DefaultSessionCacheSeconds is the operator's cap on trusting a plugin's
// session without asking the plugin again, when none is configured. A
// longer cap saves more provider calls; a revocation made directly at the
// identity service (not through authhost) takes effect only once the
// cached entry expires, so the cap is also the longest such a session
// keeps working. Every revocation that passes through authhost (logout,
// refresh, sign-out everywhere, role change, webhook user delete) drops the
// entry at once.
const DefaultSessionCacheSeconds = 30

// MaxSessionCacheSeconds bounds SessionCacheSeconds.
const MaxSessionCacheSeconds = 3600

// DefaultRoleCacheSeconds is how long the host reuses a plugin's answers
// about a user's roles and permissions when none is configured. A role
// change that passes through authhost (admin API, directory-sync webhook,
// webhook user delete) drops the user's answers at once; one made only at
// the identity service shows within this time.
const DefaultRoleCacheSeconds = 30

// roleCache returns how long the plugin's role answers are reused.
func (pc PluginConfig) roleCache() time.Duration {
	n := DefaultRoleCacheSeconds
	if pc.RoleCacheSeconds != nil {
		n = *pc.RoleCacheSeconds
	}
	return time.Duration(n) * time.Second
}

// sessionCache returns the plugin's session cache cap.
func (pc PluginConfig) sessionCache() time.Duration {
	n := DefaultSessionCacheSeconds
	if pc.SessionCacheSeconds != nil {
		n = *pc.SessionCacheSeconds
	}
	return time.Duration(n) * time.Second
}

// Config configures a Manager. New validates and copies it; later changes
// to the value passed in have no effect.
type Config struct {
	// PluginsDir holds the provider binaries (*.wasm).
	PluginsDir string
	// CacheDir holds wazero's persistent compilation cache. Empty keeps the
	// cache in memory only.
	CacheDir string
	// Engine selects the WebAssembly engine: EngineWazero (the default
	// when empty) or EngineExtism.
	Engine string
	// Store backs the plugin KV (keys under "plugin/<name>/kv/"). Nil
	// makes the kv_* host functions fail with code unavailable.
	Store store.Store
	// Logger receives host and plugin logs; nil uses slog.Default().
	Logger *slog.Logger
	// OnCall, if set, is told of every plugin call when it ends (metrics).
	// It runs on the caller's goroutine and must be fast.
	OnCall func(CallRecord)
	// OnHostCall, if set, is told of every host function call a plugin
	// makes (kv_*, http_do, log) when it returns, with its raw input and
	// output: a tracing hook for `authhost call`. It runs on the calling
	// instance's goroutine and must not retain Input or Output past the
	// call without copying them.
	OnHostCall func(HostCallRecord)
	// Defaults apply to every plugin; zero fields take abi.Default*.
	Defaults Limits
	// Health tunes unhealthy marking.
	Health Health
	// Plugins holds per-provider settings keyed by provider name.
	Plugins map[string]PluginConfig
	// HashGate bounds the password_hash and password_verify host functions
	// host-wide. Pass the gate the server holds around credentials calls,
	// so both count against one bound (a host function reached from a
	// call already holding a slot takes no second one). Nil makes a
	// default gate, hashgate.New(0, -1, 0).
	HashGate *hashgate.Gate
	// Selected reports whether a provider, by its describe name and
	// declared capabilities, may serve a capability. A provider it leaves
	// out is still compiled and described, but keeps no warm instance (its
	// pool grows only if something calls it). Nil selects every provider.
	Selected func(name string, capabilities []abi.Capability) bool
}

// The engines Config.Engine selects.
const (
	// EngineWazero is the direct wazero engine (the default).
	EngineWazero = "wazero"
	// EngineExtism is the Extism go-sdk engine, the reference
	// implementation.
	EngineExtism = "extism"
)

// newEngine returns the engine named by a normalized Config.Engine.
func newEngine(name, cacheDir string) (engine.Engine, error) {
	if name == EngineExtism {
		return engine.NewExtism(engine.ExtismConfig{CacheDir: cacheDir})
	}
	return engine.NewWazero(engine.WazeroConfig{CacheDir: cacheDir})
}

// defaultIdleTimeout is Limits.IdleTimeout when none is configured.
const defaultIdleTimeout = 30 * time.Second

func builtinLimits() Limits {
	return Limits{
		MaxMemoryMiB:       abi.DefaultMaxMemoryMiB,
		CallTimeout:        abi.DefaultCallTimeoutMS * time.Millisecond,
		PoolSize:           runtime.GOMAXPROCS(0),
		PoolWarm:           1,
		IdleTimeout:        defaultIdleTimeout,
		MaxInputBytes:      abi.DefaultMaxInputBytes,
		MaxOutputBytes:     abi.DefaultMaxOutputBytes,
		MaxHTTPBodyBytes:   abi.DefaultMaxHTTPBodyBytes,
		HTTPTimeout:        abi.DefaultHTTPTimeoutMS * time.Millisecond,
		MaxKVKeyBytes:      abi.DefaultMaxKVKeyBytes,
		MaxKVValueBytes:    abi.DefaultMaxKVValueBytes,
		MaxKVBytes:         defaultMaxKVBytes,
		MaxKVKeys:          defaultMaxKVKeys,
		MaxLogMessageBytes: abi.DefaultMaxLogMessageBytes,
	}
}

// merge returns l with its zero fields taken from base.
func (l Limits) merge(base Limits) Limits {
	pick := func(v, b int) int {
		if v == 0 {
			return b
		}
		return v
	}
	if l.CallTimeout == 0 {
		l.CallTimeout = base.CallTimeout
	}
	if l.HTTPTimeout == 0 {
		l.HTTPTimeout = base.HTTPTimeout
	}
	if l.IdleTimeout == 0 {
		l.IdleTimeout = base.IdleTimeout
	}
	if l.MaxHTTPBodyBytes == 0 {
		l.MaxHTTPBodyBytes = base.MaxHTTPBodyBytes
	}
	if l.MaxKVBytes == 0 {
		l.MaxKVBytes = base.MaxKVBytes
	}
	l.MaxKVKeys = pick(l.MaxKVKeys, base.MaxKVKeys)
	l.MaxMemoryMiB = pick(l.MaxMemoryMiB, base.MaxMemoryMiB)
	l.PoolSize = pick(l.PoolSize, base.PoolSize)
	l.PoolWarm = pick(l.PoolWarm, base.PoolWarm)
	l.MaxInputBytes = pick(l.MaxInputBytes, base.MaxInputBytes)
	l.MaxOutputBytes = pick(l.MaxOutputBytes, base.MaxOutputBytes)
	l.MaxKVKeyBytes = pick(l.MaxKVKeyBytes, base.MaxKVKeyBytes)
	l.MaxKVValueBytes = pick(l.MaxKVValueBytes, base.MaxKVValueBytes)
	l.MaxLogMessageBytes = pick(l.MaxLogMessageBytes, base.MaxLogMessageBytes)
	return l
}

func (l Limits) validate(where string) error {
	var errs []error
	neg := func(field string, v int64) {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%s: %s must not be negative", where, field))
		}
	}
	neg("MaxMemoryMiB", int64(l.MaxMemoryMiB))
	neg("CallTimeout", int64(l.CallTimeout))
	neg("PoolSize", int64(l.PoolSize))
	neg("PoolWarm", int64(l.PoolWarm))
	neg("IdleTimeout", int64(l.IdleTimeout))
	neg("MaxInputBytes", int64(l.MaxInputBytes))
	neg("MaxOutputBytes", int64(l.MaxOutputBytes))
	neg("MaxHTTPBodyBytes", l.MaxHTTPBodyBytes)
	neg("HTTPTimeout", int64(l.HTTPTimeout))
	neg("MaxKVKeyBytes", int64(l.MaxKVKeyBytes))
	neg("MaxKVValueBytes", int64(l.MaxKVValueBytes))
	neg("MaxKVBytes", l.MaxKVBytes)
	neg("MaxKVKeys", int64(l.MaxKVKeys))
	neg("MaxLogMessageBytes", int64(l.MaxLogMessageBytes))
	if l.MaxMemoryMiB > 4096 {
		errs = append(errs, fmt.Errorf("%s: MaxMemoryMiB %d exceeds the 4096 MiB of wasm32", where, l.MaxMemoryMiB))
	}
	return errors.Join(errs...)
}

func (h Health) withDefaults() Health {
	if h.FailureThreshold == 0 {
		h.FailureThreshold = 5
	}
	if h.Window == 0 {
		h.Window = time.Minute
	}
	if h.Backoff == 0 {
		h.Backoff = 5 * time.Second
	}
	if h.MaxBackoff == 0 {
		h.MaxBackoff = 5 * time.Minute
	}
	if h.MaxBackoff < h.Backoff {
		h.MaxBackoff = h.Backoff
	}
	return h
}

// validateHostPattern checks one AllowedHosts entry.
func validateHostPattern(p string) error {
	h := strings.TrimPrefix(p, "*.")
	if h == "" || strings.ContainsAny(h, "*/:?#@ ") || strings.HasPrefix(h, ".") || strings.HasSuffix(h, ".") && len(h) == 1 {
		return fmt.Errorf("allowed host %q: want a host name or \"*.domain\"", p)
	}
	return nil
}

// normalize validates c and returns a deep copy with defaults applied.
func (c Config) normalize() (Config, error) {
	var errs []error
	if c.PluginsDir == "" {
		errs = append(errs, errors.New("host: config: PluginsDir is required"))
	}
	switch c.Engine {
	case "", EngineWazero, EngineExtism:
	default:
		errs = append(errs, fmt.Errorf("host: config: Engine %q must be %q or %q", c.Engine, EngineWazero, EngineExtism))
	}
	if err := c.Defaults.validate("host: config: Defaults"); err != nil {
		errs = append(errs, err)
	}
	h := c.Health
	if h.FailureThreshold < 0 || h.Window < 0 || h.Backoff < 0 || h.MaxBackoff < 0 {
		errs = append(errs, errors.New("host: config: Health fields must not be negative"))
	}
	out := c
	if out.Engine == "" {
		out.Engine = EngineWazero
	}
	out.Defaults = c.Defaults.merge(builtinLimits())
	out.Health = h.withDefaults()
	if out.HashGate == nil {
		out.HashGate = hashgate.New(0, -1, 0)
	}
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	out.Plugins = make(map[string]PluginConfig, len(c.Plugins))
	for _, name := range slices.Sorted(maps.Keys(c.Plugins)) {
		pc := c.Plugins[name]
		where := fmt.Sprintf("host: config: plugin %q", name)
		// The ABI's name rule also keeps the KV prefix "plugin/<name>/kv/"
		// of one plugin from containing another's.
		if err := abi.CheckName(name); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
		}
		if len(pc.Config) > 0 && !json.Valid(pc.Config) {
			errs = append(errs, fmt.Errorf("%s: Config is not valid JSON", where))
		}
		for _, hp := range pc.AllowedHosts {
			if err := validateHostPattern(hp); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", where, err))
			}
		}
		if err := pc.Limits.validate(where + ": Limits"); err != nil {
			errs = append(errs, err)
		}
		if n := pc.SessionCacheSeconds; n != nil && (*n < 0 || *n > MaxSessionCacheSeconds) {
			errs = append(errs, fmt.Errorf("%s: SessionCacheSeconds %d is out of range 0..%d", where, *n, MaxSessionCacheSeconds))
		}
		if n := pc.RoleCacheSeconds; n != nil && (*n < 0 || *n > MaxSessionCacheSeconds) {
			errs = append(errs, fmt.Errorf("%s: RoleCacheSeconds %d is out of range 0..%d", where, *n, MaxSessionCacheSeconds))
		}
		if pc.SHA256 != "" {
			if b, err := hex.DecodeString(pc.SHA256); err != nil || len(b) != sha256.Size {
				errs = append(errs, fmt.Errorf("%s: SHA256 must be %d hex digits", where, 2*sha256.Size))
			}
		}
		clone := func(n *int) *int {
			if n == nil {
				return nil
			}
			v := *n
			return &v
		}
		out.Plugins[name] = PluginConfig{
			Config:               slices.Clone(pc.Config),
			AllowedHosts:         slices.Clone(pc.AllowedHosts),
			AllowPrivateNetworks: pc.AllowPrivateNetworks,
			Limits:               pc.Limits.merge(out.Defaults),
			SessionCacheSeconds:  clone(pc.SessionCacheSeconds),
			RoleCacheSeconds:     clone(pc.RoleCacheSeconds),
			SHA256:               strings.ToLower(pc.SHA256),
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return out, nil
}

// pluginConfig returns the effective settings of provider name.
func (c Config) pluginConfig(name string) PluginConfig {
	if pc, ok := c.Plugins[name]; ok {
		return pc
	}
	return PluginConfig{Limits: c.Defaults}
}

// HostCallRecord describes one finished host function call of a plugin.
type HostCallRecord struct {
	Plugin, Func  string
	Input, Output []byte
	Duration      time.Duration
}

// CallRecord describes one finished plugin call.
type CallRecord struct {
	Plugin, Export string
	// Outcome is "ok", "error" (the provider answered with an error
	// envelope: a business failure such as a wrong password), "timeout",
	// "unavailable" (unhealthy, closed, no instance) or "failure" (trap,
	// malformed output, instance lost).
	Outcome  string
	Duration time.Duration
}
