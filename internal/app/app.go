// Package app wires authhost together from its configuration: the badger
// store, the plugin host, the built-in defaults, capability composition, the
// license and the HTTP server. `authhost serve` and the end-to-end test
// harness (internal/testenv/authhostenv) both build the server through New,
// so the tests run exactly what ships.
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
	"sort"
	"strings"
	"time"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/host"
	"github.com/authhost/authhost/internal/config"
	"github.com/authhost/authhost/server"
	"github.com/authhost/authhost/store"
	badgerstore "github.com/authhost/authhost/store/badger"
)

// App is everything serve wires together.
type App struct {
	// Handler serves the API (and the web UI).
	Handler http.Handler
	// Plugins is the plugin host; tests use it to reach plugin statistics.
	Plugins *host.Manager
	// Store is the opened badger store.
	Store   store.Store
	demo    []demoCredential
	closers []func() error
	log     *slog.Logger
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
	ok := false
	defer func() {
		if !ok {
			a.Close()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	st, err := badgerstore.Open(filepath.Join(cfg.DataDir, "store"), badgerstore.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	a.closers = append(a.closers, st.Close)
	a.Store = st

	pluginCfgs := map[string]host.PluginConfig{}
	for name, p := range cfg.Plugins {
		js, err := p.ConfigJSON()
		if err != nil {
			return nil, fmt.Errorf("plugins.%s: %w", name, err)
		}
		pluginCfgs[name] = host.PluginConfig{
			Config:       js,
			AllowedHosts: p.AllowedHosts,
			Limits: host.Limits{
				MaxMemoryMiB:     p.Limits.MemoryMiB,
				CallTimeout:      time.Duration(p.Limits.TimeoutMS) * time.Millisecond,
				PoolSize:         p.Limits.PoolSize,
				PoolWarm:         p.Limits.PoolWarm,
				HTTPTimeout:      time.Duration(p.Limits.HTTPTimeoutMS) * time.Millisecond,
				MaxHTTPBodyBytes: p.Limits.MaxHTTPBodyBytes,
			},
		}
	}
	mgr, err := host.New(host.Config{
		PluginsDir: cfg.PluginsDir,
		CacheDir:   cacheDir(cfg),
		Engine:     cfg.Engine,
		Store:      st,
		Logger:     log,
		Plugins:    pluginCfgs,
	})
	if err != nil {
		return nil, fmt.Errorf("plugin host: %w", err)
	}
	a.closers = append(a.closers, mgr.Close)
	a.Plugins = mgr
	plugins, loadErrs := mgr.Load(ctx)
	for _, e := range loadErrs {
		log.Error("plugin failed to load", "error", e)
	}
	var providers []auth.Provider
	for _, p := range plugins { // the host logs each one it loaded
		providers = append(providers, pluginProvider(p))
	}
	a.demo = demoCredentials(cfg, log)

	pub, err := auth.DecodePublicKey(auth.DefaultLicensePublicKey)
	if err != nil {
		return nil, err
	}
	lic := auth.EvaluateLicense(auth.Mode(cfg.Mode), cfg.License, pub, time.Now())
	if cfg.License != "" && !lic.Licensed {
		log.Warn("license rejected", "reason", lic.Reason)
	}
	if lic.Mode == auth.ModeProduction && !lic.Licensed {
		log.Warn("production mode without a valid license: rbac, acl and audit are off", "reason", lic.Reason)
	}

	builtin, err := newBuiltin(cfg, st, log)
	if err != nil {
		return nil, err
	}
	sel, missing := selection(cfg, providers)
	for _, m := range missing {
		log.Error("capability unavailable: its provider did not load", "detail", m)
	}
	composed, err := auth.Compose(providers, builtin, sel)
	if err != nil {
		return nil, fmt.Errorf("compose providers: %w", err)
	}
	for _, c := range []string{auth.CapUser, auth.CapSession, auth.CapSSO, auth.CapCredentials, auth.CapRBAC, auth.CapACL, auth.CapAudit} {
		if src := composed.Sources[c]; len(src) > 0 {
			log.Info("capability composed", "capability", c, "from", strings.Join(src, ","))
		}
	}

	publicURL, _ := url.Parse(cfg.PublicURL) // validated by config
	ready := readiness(cfg, plugins, append(loadErrs, missing...))
	sealKey, err := loadOrCreateKey(ctx, st, "server/keys/sso-seal")
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
		SealKey:                sealKey,
		SessionTTL:             cfg.Session.TTL,
		Plugins:                func() []server.PluginStatus { return pluginStatuses(mgr.Plugins()) },
		Webhooks:               webhooks(mgr),
		RoleStore:              roleStore(builtin.RBAC),
	})
	if err != nil {
		return nil, err
	}
	a.Handler = srv
	if cfg.Audit.RetentionDays > 0 && composed.AuditStore != nil {
		a.closers = append(a.closers, startRetention(composed.AuditStore, cfg.Audit.RetentionDays, log))
	}
	ok = true
	return a, nil
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
func pluginStatuses(plugins []*host.Plugin) []server.PluginStatus {
	out := make([]server.PluginStatus, 0, len(plugins))
	for _, p := range plugins {
		d, st := p.Describe(), p.Stats()
		caps := make([]string, len(d.Capabilities))
		for i, c := range d.Capabilities {
			caps[i] = string(c)
		}
		out = append(out, server.PluginStatus{Name: p.Name(), Version: d.Version, ABI: d.ABI, File: filepath.Base(p.File()),
			Capabilities: caps, Healthy: st.Healthy, PoolSize: st.PoolSize, Instances: st.Instances, InUse: st.InUse,
			Calls: st.Calls, Errors: st.Errors, Discards: st.Discards, P50Micros: st.P50.Microseconds(), P99Micros: st.P99.Microseconds()})
	}
	return out
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
				missing = append(missing, fmt.Errorf("capabilities.%s: provider %q is not loaded", c, n))
			}
		}
		if len(keep) == 0 {
			keep = []string{auth.NoneName}
		}
		sel[c] = keep
	}
	return sel, missing
}

// pluginProvider exposes a loaded plugin's capabilities to composition.
func pluginProvider(p *host.Plugin) auth.Provider {
	return auth.Provider{
		Name:            p.Name(),
		User:            p.User(),
		Session:         p.Session(),
		SSO:             p.SSO(),
		Credentials:     p.Credentials(),
		RBAC:            p.RBAC(),
		ACL:             p.ACL(),
		Audit:           p.Audit(),
		ManagesSessions: p.Describe().ManagesSessions,
	}
}

// readiness is ready when every configured (non-optional) plugin loaded and
// no plugin file failed to load.
func readiness(cfg config.Config, plugins []*host.Plugin, loadErrs []error) server.Readiness {
	loaded := map[string]bool{}
	for _, p := range plugins {
		loaded[p.Name()] = true
	}
	var problems []string
	for _, e := range loadErrs {
		problems = append(problems, e.Error())
	}
	var names []string
	for name := range cfg.Plugins {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !loaded[name] && !cfg.Plugins[name].Optional {
			problems = append(problems, fmt.Sprintf("configured plugin %q is not loaded", name))
		}
	}
	return func() (bool, []string) { return len(problems) == 0, problems }
}

// demoCredentials finds users flagged `demo: true` in plugin configs and
// logs each as a demo credential.
func demoCredentials(cfg config.Config, log *slog.Logger) []demoCredential {
	var out []demoCredential
	for name, p := range cfg.Plugins {
		users, _ := p.Config["users"].([]any)
		for _, u := range users {
			m, _ := u.(map[string]any)
			if demo, _ := m["demo"].(bool); !demo {
				continue
			}
			email, _ := m["email"].(string)
			pw, _ := m["demo_password"].(string)
			log.Warn("DEMO CREDENTIAL enabled: remove it before production", "plugin", name, "email", email)
			out = append(out, demoCredential{plugin: name, email: email, password: pw})
		}
	}
	return out
}

// webhooks finds the webhook endpoint of a loaded plugin by name.
func webhooks(mgr *host.Manager) func(string) auth.WebhookHandler {
	return func(name string) auth.WebhookHandler {
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

// roleStore is the built-in RBAC manager, where webhooks (directory sync)
// record role assignments.
func roleStore(r auth.RBACProvider) auth.RBACManager {
	m, _ := r.(auth.RBACManager)
	return m
}

// cacheDir is where compiled plugins are kept between starts.
func cacheDir(cfg config.Config) string {
	if cfg.CacheDir != "" {
		return cfg.CacheDir
	}
	return filepath.Join(cfg.DataDir, "wasm-cache")
}
