package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/auth/invalidation"
	"github.com/authhost/authhost/host"
	"github.com/authhost/authhost/internal/config"
	"github.com/authhost/authhost/server"
)

// pluginConfigs turns the config's plugins section into the host's.
func pluginConfigs(cfg config.Config) (map[string]host.PluginConfig, error) {
	out := map[string]host.PluginConfig{}
	for name, p := range cfg.Plugins {
		js, err := p.ConfigJSON()
		if err != nil {
			return nil, fmt.Errorf("plugins.%s: %w", name, err)
		}
		out[name] = host.PluginConfig{
			Config:               js,
			AllowedHosts:         p.AllowedHosts,
			AllowPrivateNetworks: p.AllowPrivateNetworks,
			Limits: host.Limits{
				MaxMemoryMiB:     p.Limits.MemoryMiB,
				CallTimeout:      time.Duration(p.Limits.TimeoutMS) * time.Millisecond,
				PoolSize:         p.Limits.PoolSize,
				PoolWarm:         p.Limits.PoolWarm,
				IdleTimeout:      time.Duration(p.Limits.IdleTimeoutMS) * time.Millisecond,
				HTTPTimeout:      time.Duration(p.Limits.HTTPTimeoutMS) * time.Millisecond,
				MaxHTTPBodyBytes: p.Limits.MaxHTTPBodyBytes,
				MaxKVBytes:       p.Limits.MaxKVBytes,
				MaxKVKeys:        p.Limits.MaxKVKeys,
			},
			SessionCacheSeconds: p.SessionCacheSeconds,
			RoleCacheSeconds:    p.RoleCacheSeconds,
			SHA256:              p.SHA256,
		}
	}
	return out, nil
}

// compose builds one generation of the composed provider from the loaded
// plugins: their adapters (each plugin's own session cache, so a replaced
// plugin starts with an empty one), the built-in defaults whose role
// changes drop those caches, the configured selection, and the health
// that readiness reports. Caller holds reloadMu (or is New).
func (a *App) compose(plugins []*host.Plugin, loadErrs []error) (*auth.Composed, health, error) {
	var providers []auth.Provider
	var caches []invalidation.Sink
	for _, p := range plugins { // the host logs each one it loaded
		prov := p.Provider()
		// Role changes (admin API, directory sync), logouts and the other
		// replicas' notices drop cached plugin sessions of this
		// generation, so they apply on the next request on every replica.
		caches = append(caches, cacheSinks(prov)...)
		if _, ok := prov.Session.(invalidation.Sink); ok {
			prov.Session = a.bus.WrapSession(prov.Session)
		}
		providers = append(providers, prov)
	}
	a.caches.set(caches)
	sel, missing := selection(a.cfg, providers)
	for _, m := range missing {
		a.log.Error("capability unavailable: its provider did not load", "detail", m)
	}
	composed, err := auth.Compose(providers, a.builtin, sel)
	if err != nil {
		return nil, health{}, fmt.Errorf("compose providers: %w", err)
	}
	composed.Audit = a.mets.CountAudit(composed.Audit)
	for _, c := range auth.Capabilities() {
		if src := composed.Sources[c]; len(src) > 0 {
			a.log.Info("capability composed", "capability", c, "from", strings.Join(src, ","))
		}
	}
	loadedNames := map[string]bool{}
	for _, p := range plugins {
		loadedNames[p.Name()] = true
	}
	h := assess(a.cfg, loadedNames, loadErrs, missing)
	for _, d := range h.degraded {
		a.log.Warn("plugin degraded: it failed to load, but nothing selects or configures it", "file", d.File, "detail", d.Error)
	}
	a.degraded.Store(h.degraded)
	return composed, h, nil
}

// degradedPlugins lists the current generation's degraded plugin files.
func (a *App) degradedPlugins() []server.DegradedPlugin {
	d, _ := a.degraded.Load().([]server.DegradedPlugin)
	return d
}

// Reload reloads the plugins directory and swaps what requests see: added,
// replaced and removed files take effect, plugins whose file and settings
// are unchanged are kept as they are (host.Manager.Reload: same pool,
// caches and generation), a file that fails to load keeps
// its previous version serving (logged at error, listed in the returned
// problems and in /api/admin/plugins), and the plugins that were replaced
// close once the requests that hold them have finished. Server state (rate
// limiters, lockouts, the audit flood window) is kept. Reloads are
// serialized.
func (a *App) Reload(ctx context.Context) (problems []string, err error) {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	return a.reloadLocked(ctx)
}

func (a *App) reloadLocked(ctx context.Context) ([]string, error) {
	before := map[*host.Plugin]bool{}
	for _, p := range a.Plugins.Plugins() {
		before[p] = true
	}
	plugins, superseded, loadErrs := a.Plugins.Reload(ctx)
	a.pending = append(a.pending, superseded...)
	var problems []string
	for _, e := range loadErrs {
		problems = append(problems, e.Error())
	}
	var le *host.LoadError
	for _, e := range loadErrs {
		if !errors.As(e, &le) {
			// The directory itself is unreadable: nothing was swapped.
			return problems, fmt.Errorf("app: reload: %w", e)
		}
	}
	composed, h, err := a.compose(plugins, loadErrs)
	if err != nil {
		// The superseded plugins stay open (the previous provider still
		// uses them) until a later reload swaps successfully.
		return problems, fmt.Errorf("app: reload: %w", err)
	}
	release := a.pending
	a.pending = nil
	if err := a.srv.Swap(composed, h.readiness(), func() {
		for _, p := range release {
			a.Plugins.Release(p)
		}
	}); err != nil {
		return problems, fmt.Errorf("app: reload: %w", err)
	}
	kept := 0 // unchanged, or serving on after a failed replacement
	for _, p := range plugins {
		if before[p] {
			kept++
		}
	}
	a.log.Info("plugins reloaded", "plugins", len(plugins), "kept", kept, "replaced", len(release), "problems", len(problems))
	return problems, nil
}

// ReloadConfig applies a re-read configuration (SIGHUP): the plugins'
// settings (config, limits, egress, pins) and the capability selection
// take effect through a reload. Settings read only at start (listen
// address, store, sessions, security, throttles, license) keep their
// running values; a change to them is logged.
func (a *App) ReloadConfig(ctx context.Context, cfg config.Config) ([]string, error) {
	pcs, err := pluginConfigs(cfg)
	if err != nil {
		return nil, fmt.Errorf("app: reload config: %w", err)
	}
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	if err := a.Plugins.SetPluginConfigs(pcs); err != nil {
		return nil, fmt.Errorf("app: reload config: %w", err)
	}
	// Which plugins keep warm instances follows the new capability choices.
	a.Plugins.SetSelected(selected(cfg))
	if cfg.Listen != a.cfg.Listen || cfg.DataDir != a.cfg.DataDir || cfg.PluginsDir != a.cfg.PluginsDir || cfg.Mode != a.cfg.Mode {
		a.log.Warn("config reload: listen, data_dir, plugins_dir and mode changes need a restart")
	}
	a.cfg.Plugins, a.cfg.Caps = cfg.Plugins, cfg.Caps
	return a.reloadLocked(ctx)
}

// cacheSinks returns the caches in front of a plugin's adapters: its
// session cache and its role caches (rbaccache: RBAC answers, and the user
// roles that refresh host sessions), which logouts, role changes and user
// deletes drop alike.
func cacheSinks(p auth.Provider) []invalidation.Sink {
	var out []invalidation.Sink
	for _, c := range []any{p.Session, p.RBAC, p.UserRoles} {
		if s, ok := c.(invalidation.Sink); ok {
			out = append(out, s)
		}
	}
	return out
}

// sessionCacheSet is the session and role caches of the current
// generation's plugins: the sinks of the invalidation bus (role changes,
// user deletes, logouts and other replicas' notices reach them through
// it), so the bus, built once at start, follows reloads.
type sessionCacheSet struct {
	cur atomic.Pointer[[]invalidation.Sink]
}

func (c *sessionCacheSet) set(caches []invalidation.Sink) { c.cur.Store(&caches) }

// sinks returns the current generation's caches.
func (c *sessionCacheSet) sinks() []invalidation.Sink {
	if cur := c.cur.Load(); cur != nil {
		return *cur
	}
	return nil
}

// stats sums the counters of the current generation's caches.
func (c *sessionCacheSet) stats() (hits, misses int64, entries int) {
	for _, s := range c.sinks() {
		if st, ok := s.(interface{ Stats() (int64, int64, int) }); ok {
			h, m, n := st.Stats()
			hits, misses, entries = hits+h, misses+m, entries+n
		}
	}
	return hits, misses, entries
}
