// Package app wires authhost together from its configuration: the store
// (badger or PostgreSQL), the plugin host, the built-in defaults,
// capability composition, the license and the HTTP server. `authhost
// serve` and the end-to-end test harness (internal/testenv/authhostenv)
// both build the server through New, so the tests run exactly what ships.
package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/auth/hashgate"
	"github.com/authhost/authhost/auth/invalidation"
	"github.com/authhost/authhost/host"
	"github.com/authhost/authhost/internal/config"
	"github.com/authhost/authhost/internal/metrics"
	"github.com/authhost/authhost/server"
	"github.com/authhost/authhost/store"
	badgerstore "github.com/authhost/authhost/store/badger"
	pgstore "github.com/authhost/authhost/store/postgres"
)

// App is everything serve wires together.
type App struct {
	// Handler serves the API (and the web UI).
	Handler http.Handler
	// Plugins is the plugin host; tests use it to reach plugin statistics.
	Plugins *host.Manager
	// MetricsHandler serves /metrics on the separate metrics.listen
	// address; nil when metrics.listen is not set.
	MetricsHandler http.Handler
	// Store is the opened store (badger or PostgreSQL).
	Store   store.Store
	demo    []demoCredential
	closers []func() error
	log     *slog.Logger
	// cacheBytes is the compilation cache's size after pruning at start.
	cacheBytes int64

	// reloadMu serializes reloads (file watcher, SIGHUP, admin API) and
	// guards what they change: the config, the superseded plugins not yet
	// handed to a swap.
	reloadMu sync.Mutex
	cfg      config.Config
	builtin  auth.Provider // the built-in defaults, kept across reloads
	mets     *metrics.Metrics
	srv      *server.Server
	pending  []*host.Plugin
	caches   sessionCacheSet
	// bus carries cache invalidations to this process's caches and, on a
	// shared store, to every replica's.
	bus *invalidation.Bus
	// degraded is the latest generation's degraded plugin files
	// ([]server.DegradedPlugin), read by the admin API during reloads.
	degraded atomic.Value
}

type demoCredential struct{ plugin, email, password string }

// Close stops background work and closes the plugin host and the store.
func (a *App) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i](); err != nil {
			a.log.Warn("close", "error", err)
		}
	}
}

// PrintDemoBanner prints the demo credentials found in the config.
func (a *App) PrintDemoBanner(w io.Writer) {
	for _, d := range a.demo {
		if d.password != "" {
			fmt.Fprintf(w, "demo credential (do not use in production): %s / %s\n", d.email, d.password)
		} else {
			fmt.Fprintf(w, "demo credential (do not use in production): %s\n", d.email)
		}
	}
}

// New opens the store, loads the plugins, composes the providers and
// builds the HTTP handler. cfg must be validated. Close releases it all.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (*App, error) {
	a := &App{log: log}
	if err := cfg.DerivePublicURL(cfg.Listen); err != nil {
		return nil, err
	}
	lic, err := evaluateLicense(cfg, log) // before anything slow: fail fast
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			a.Close()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	applyMemoryLimit(cfg, log)
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	a.closers = append(a.closers, st.Close)
	a.Store = st
	a.bus, err = invalidation.New(ctx, st, a.caches.sinks, log)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	a.closers = append(a.closers, func() error { a.bus.Close(); return nil })
	if a.bus.Shared() {
		log.Info("cache invalidations are shared with every replica on the store")
	}

	pluginCfgs, err := pluginConfigs(cfg)
	if err != nil {
		return nil, err
	}
	mets := metrics.New()
	// One hash gate bounds password hashing host-wide: the server holds a
	// slot around credentials calls, the host around password_hash and
	// password_verify (reusing the caller's slot when it holds one).
	hashes := hashgate.New(cfg.Throttle.PasswordHashes, -1, cfg.Throttle.PasswordHashWait)
	wasmCache := cacheDir(cfg)
	mgr, err := host.New(host.Config{
		PluginsDir: cfg.PluginsDir,
		CacheDir:   wasmCache,
		Engine:     cfg.Engine,
		Store:      st,
		Logger:     log,
		Plugins:    pluginCfgs,
		OnCall:     mets.ObserveCall,
		HashGate:   hashes,
		Selected:   selected(cfg),
	})
	if err != nil {
		return nil, fmt.Errorf("plugin host: %w", err)
	}
	a.closers = append(a.closers, mgr.Close)
	a.Plugins = mgr
	plugins, loadErrs := mgr.Load(ctx)
	releaseLoadGarbage()
	a.cacheBytes = pruneCache(wasmCache, maxCacheBytes, log)
	log.Info("compilation cache", "dir", wasmCache, "bytes", a.cacheBytes)
	for _, e := range loadErrs {
		log.Error("plugin failed to load", "error", e)
	}
	if err := configErrors(loadErrs); err != nil && cfg.Mode == string(auth.ModeProduction) {
		return nil, fmt.Errorf("production mode: a plugin refused its configuration: %w", err)
	}
	a.demo = demoCredentials(plugins, log)

	builtin, err := newBuiltin(cfg, st, log)
	if err != nil {
		return nil, err
	}
	if m, ok := builtin.RBAC.(auth.RBACManager); ok {
		builtin.RBAC = auth.InvalidatingRBAC(m, a.bus)
	}
	a.cfg, a.builtin, a.mets = cfg, builtin, mets
	composed, health, err := a.compose(plugins, loadErrs)
	if err != nil {
		return nil, err
	}
	mets.WatchPlugins(mgr.Plugins)
	mets.WatchMemory(host.CodeBytes)
	mets.WatchSessionCaches(a.caches.stats)
	publicURL, _ := url.Parse(cfg.PublicURL) // validated by config
	if len(health.problems) > 0 && cfg.Mode == string(auth.ModeProduction) {
		return nil, fmt.Errorf("production start refused: %s", strings.Join(health.problems, "; "))
	}
	ready := health.readiness()
	sealKey, err := loadOrCreateKey(ctx, st, "server/keys/sso-seal")
	if err != nil {
		return nil, err
	}
	proxies, err := cfg.Security.Proxies()
	if err != nil {
		return nil, err
	}
	srv, err := server.New(server.Config{
		Auth:                   composed,
		License:                lic,
		PublicURL:              publicURL,
		Ready:                  ready,
		Logger:                 log,
		AllowedRedirectOrigins: cfg.Security.AllowedRedirectOrigins,
		ListenAddr:             cfg.Listen,
		BootstrapOwners:        cfg.BootstrapOwners,
		TrustedProxies:         proxies,
		SealKey:                sealKey,
		SessionTTL:             cfg.Session.TTL,
		Plugins:                func() []server.PluginStatus { return pluginStatuses(mgr, mgr.Plugins(), log) },
		Degraded:               a.degradedPlugins,
		ReloadPlugins:          a.Reload,
		Webhooks:               webhooks(mgr, webhookProviders(cfg)),
		RoleStore:              roleStore(builtin.RBAC),
		AccessLog:              cfg.Log.Access,
		SignInLimit:            cfg.Throttle.SignInPerAccountIP,
		SignInIPLimit:          cfg.Throttle.SignInPerIP,
		SignInWindow:           cfg.Throttle.SignInWindow,
		SignInAccountLimit:     cfg.Throttle.SignInPerAccount,
		SignInAccountWindow:    cfg.Throttle.SignInAccountWindow,
		SignUpIPLimit:          cfg.Throttle.SignUpsPerIP,
		SignUpWindow:           cfg.Throttle.SignUpWindow,
		HashGate:               hashes,
		Counters:               counters(st),
		AuditWindow:            auditWindow(cfg.Audit.CollapseWindow),
	})
	if err != nil {
		return nil, err
	}
	a.srv = srv
	a.Handler = withMetrics(mets, cfg.Metrics, srv)
	if cfg.Metrics.Listen != "" {
		a.MetricsHandler = metricsOnly(mets, cfg.Metrics.Pprof)
	}
	// Closed first (closers run in reverse): the audit counts it still
	// holds are written while the store and the plugins are open.
	a.closers = append(a.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Close(ctx)
	})
	if cfg.WatchesPlugins() {
		stop, err := a.watchPlugins(cfg.PluginsDir, watchSettle)
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, stop)
	}
	if cfg.Audit.RetentionDays > 0 && composed.AuditStore != nil {
		a.closers = append(a.closers, startRetention(composed.AuditStore, cfg.Audit.RetentionDays, log))
	}
	ok = true
	return a, nil
}

// openStore opens the configured backend: badger under the data
// directory, or the PostgreSQL database every replica shares.
func openStore(ctx context.Context, cfg config.Config, log *slog.Logger) (store.Store, error) {
	if cfg.Store.Driver == "postgres" {
		if cfg.Session.Store == "memory" {
			log.Warn("session.store memory keeps sessions in this process: other replicas on the shared store will not know them (use store or cookie)")
		}
		return pgstore.Open(ctx, cfg.Store.DSN, pgstore.Options{Logger: log})
	}
	return badgerstore.Open(filepath.Join(cfg.DataDir, "store"), badgerstore.Options{Logger: log})
}

// loadOrCreateKey returns the 32-byte key stored under name, creating it on
// first start so it survives restarts.
func loadOrCreateKey(ctx context.Context, st store.Store, name string) ([]byte, error) {
	var key []byte
	err := st.Update(ctx, func(tx store.Txn) error {
		v, err := tx.Get(ctx, name)
		if err == nil && len(v) == 32 {
			key = v
			return nil
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return err
		}
		return tx.Put(ctx, name, key, 0)
	})
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", name, err)
	}
	return key, nil
}

// startRetention deletes audit events older than days, now and then daily;
// the returned func stops it.
func startRetention(as auth.AuditStore, days int, log *slog.Logger) func() error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(24 * time.Hour)
		defer t.Stop()
		for {
			if n, err := as.DeleteOlderThan(ctx, days); err != nil {
				log.Warn("audit retention failed", "error", err)
			} else if n > 0 {
				log.Info("audit retention", "deleted", n, "older_than_days", days)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() error { cancel(); <-done; return nil }
}

// pluginStatuses reports the loaded plugins for the admin API.
func pluginStatuses(mgr *host.Manager, plugins []*host.Plugin, log *slog.Logger) []server.PluginStatus {
	out := make([]server.PluginStatus, 0, len(plugins))
	failures := mgr.LoadFailures()
	for _, p := range plugins {
		d, st := p.Describe(), p.Stats()
		caps := make([]string, len(d.Capabilities))
		for i, c := range d.Capabilities {
			caps[i] = string(c)
		}
		ps := server.PluginStatus{Name: p.Name(), Version: d.Version, ABI: d.ABI, File: filepath.Base(p.File()),
			Capabilities: caps, Healthy: st.Healthy, PoolSize: st.PoolSize, Instances: st.Instances, InUse: st.InUse,
			Idle: st.Instances - st.InUse, MemoryBytes: st.MemoryBytes, CodeBytes: st.CodeBytes,
			Calls: st.Calls, Errors: st.Errors, Discards: st.Discards, P50Micros: st.P50.Microseconds(), P99Micros: st.P99.Microseconds(),
			KV: kvUsage(mgr, p.Name(), log), Generation: p.Generation(), SHA256: p.SHA256(), LoadedAt: p.LoadedAt().UTC()}
		if err := failures[p.File()]; err != nil {
			ps.LoadError = err.Error()
		}
		out = append(out, ps)
	}
	return out
}

// kvUsage reads plugin name's KV usage, or nil (logged) when the store
// cannot say.
func kvUsage(mgr *host.Manager, name string, log *slog.Logger) *server.KVUsage {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	u, err := mgr.KVUsage(ctx, name)
	if err != nil {
		log.Warn("plugin kv usage unavailable", "plugin", name, "err", err)
		return nil
	}
	return &server.KVUsage{Bytes: u.Bytes, Keys: u.Keys, MaxBytes: u.MaxBytes, MaxKeys: u.MaxKeys}
}

// selection turns the config's capability choices into a Selection. A
// choice naming a plugin that did not load turns that capability off (it
// fails closed) and is reported, so the server still starts and /readyz
// says what is wrong instead of the process exiting.
func selection(cfg config.Config, providers []auth.Provider) (auth.Selection, []error) {
	loaded := map[string]bool{auth.BuiltinName: true, auth.NoneName: true}
	for _, p := range providers {
		loaded[p.Name] = true
	}
	sel := auth.Selection{}
	var missing []error
	for c, names := range cfg.Caps {
		var keep []string
		for _, n := range names {
			if loaded[n] {
				keep = append(keep, n)
			} else {
				missing = append(missing, &missingProvider{capability: c, name: n})
			}
		}
		if len(keep) == 0 {
			keep = []string{auth.NoneName}
		}
		sel[c] = keep
	}
	return sel, missing
}

// demoCredentials collects the demo accounts the loaded plugins report in
// describe (their configuration is theirs to read) and logs each.
func demoCredentials(plugins []*host.Plugin, log *slog.Logger) []demoCredential {
	var out []demoCredential
	for _, p := range plugins {
		for _, d := range p.Describe().Demo {
			log.Warn("DEMO CREDENTIAL enabled: remove it before production", "plugin", p.Name(), "email", d.Email)
			out = append(out, demoCredential{plugin: p.Name(), email: d.Email, password: d.Password})
		}
	}
	return out
}

// counters is the store the rate limits count in, shared by every
// replica on it; nil (counts in this process) for a store that cannot
// count, which no authhost backend is.
func counters(st store.Store) server.CounterStore {
	cs, _ := st.(server.CounterStore)
	return cs
}

// configErrors joins the load errors that are plugins refusing their
// configuration (host.ConfigError), or returns nil when there are none.
func configErrors(loadErrs []error) error {
	var errs []error
	for _, e := range loadErrs {
		var ce *host.ConfigError
		if errors.As(e, &ce) {
			errs = append(errs, ce)
		}
	}
	return errors.Join(errs...)
}

// webhookProviders names the plugins whose webhooks may be served: those
// the operator configured (a plugins.<name> entry) or named for a
// capability. A plugin that only sits in the plugins directory serves
// nothing, even if it declares webhook (or is picked as an audit logger by
// default).
func webhookProviders(cfg config.Config) map[string]bool {
	served := map[string]bool{}
	for name := range cfg.Plugins {
		served[name] = true
	}
	for _, names := range cfg.Caps {
		for _, n := range names {
			served[n] = true
		}
	}
	delete(served, auth.BuiltinName)
	delete(served, auth.NoneName)
	return served
}

// webhooks returns the webhook endpoint of a served plugin that declares
// webhook, looked up at each delivery so hot reloads are followed.
func webhooks(mgr *host.Manager, served map[string]bool) func(string) auth.WebhookHandler {
	return func(name string) auth.WebhookHandler {
		if !served[name] {
			return nil
		}
		for _, p := range mgr.Plugins() {
			if p.Name() == name {
				if h := p.Webhook(); h != nil {
					return h
				}
			}
		}
		return nil
	}
}

// auditWindow is the server's audit flood window for the configured one,
// where 0 turns collapsing off.
func auditWindow(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// roleStore is the built-in RBAC manager, where webhooks (directory sync)
// record role assignments.
func roleStore(r auth.RBACProvider) auth.RBACManager {
	m, _ := r.(auth.RBACManager)
	return m
}

// evaluateLicense checks the configured license against the trusted keys.
// Production refuses to start without a valid license unless the operator
// said `license: none`; development only warns about a rejected token.
func evaluateLicense(cfg config.Config, log *slog.Logger) (auth.LicenseState, error) {
	keys, err := auth.TrustedKeys(cfg.License.PublicKeys)
	if err != nil {
		return auth.LicenseState{}, fmt.Errorf("license.public_keys: %w", err)
	}
	lic := auth.EvaluateLicense(auth.Mode(cfg.Mode), cfg.License.Token, cfg.License.None, keys, time.Now())
	if err := lic.Usable(); err != nil {
		return lic, err
	}
	switch {
	case cfg.License.Token != "" && !lic.Licensed:
		log.Warn("license rejected", "reason", lic.Reason)
	case lic.Mode == auth.ModeProduction && !lic.Licensed:
		log.Warn("production mode with license: none: rbac, acl and audit are off")
	case lic.Licensed:
		log.Info("license in force", "org", lic.License.Organization, "tier", lic.License.Tier, "expires", lic.License.ExpiresAt)
	}
	return lic, nil
}
