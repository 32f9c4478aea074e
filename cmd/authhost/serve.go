package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/host"
	"github.com/authhost/authhost/internal/config"
	"github.com/authhost/authhost/server"
	"github.com/authhost/authhost/store"
	badgerstore "github.com/authhost/authhost/store/badger"
)

// serveFlags are the flags of `authhost serve`; set flags override the file.
type serveFlags struct {
	config, listen, publicURL, pluginsDir, dataDir, mode, logLevel string
}

func parseServeFlags(args []string) (serveFlags, *flag.FlagSet, error) {
	var f serveFlags
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.config, "config", "", "YAML config file")
	fs.StringVar(&f.listen, "listen", "", "listen address (default :8080)")
	fs.StringVar(&f.publicURL, "public-url", "", "public URL of this server")
	fs.StringVar(&f.pluginsDir, "plugins-dir", "", "directory of provider plugins (*.wasm)")
	fs.StringVar(&f.dataDir, "data-dir", "", "data directory (store, compilation cache)")
	fs.StringVar(&f.mode, "mode", "", "development or production")
	fs.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return f, fs, usageError{"serve: " + err.Error()}
	}
	if fs.NArg() > 0 {
		return f, fs, usageError{fmt.Sprintf("serve: unexpected argument %q", fs.Arg(0))}
	}
	return f, fs, nil
}

// loadServeConfig reads the file (if any) and applies the flags over it.
func loadServeConfig(f serveFlags) (config.Config, error) {
	cfg := config.Defaults()
	if f.config != "" {
		var err error
		if cfg, err = config.Load(f.config, nil); err != nil {
			return cfg, err
		}
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&cfg.Listen, f.listen)
	set(&cfg.PublicURL, f.publicURL)
	set(&cfg.PluginsDir, f.pluginsDir)
	set(&cfg.DataDir, f.dataDir)
	set(&cfg.Mode, f.mode)
	set(&cfg.Log.Level, f.logLevel)
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, _, err := parseServeFlags(args)
	if err != nil {
		return err
	}
	cfg, err := loadServeConfig(f)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	app, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer app.close()

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("serve: listen on %s: %w", cfg.Listen, err)
	}
	srv := &http.Server{
		Handler:           app.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("authhost listening", "addr", ln.Addr().String(), "public_url", cfg.PublicURL, "mode", cfg.Mode, "version", version, "abi", abi.Version)
	fmt.Fprintf(stdout, "authhost %s listening on %s (public URL %s)\n", version, ln.Addr(), cfg.PublicURL)
	app.printDemoBanner(stdout)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("serve: shutdown: %w", err)
	}
	return nil
}

// app is everything serve wires together.
type app struct {
	handler http.Handler
	demo    []demoCredential
	closers []func() error
	log     *slog.Logger
}

type demoCredential struct{ plugin, email, password string }

func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i](); err != nil {
			a.log.Warn("close", "error", err)
		}
	}
}

func (a *app) printDemoBanner(w io.Writer) {
	for _, d := range a.demo {
		if d.password != "" {
			fmt.Fprintf(w, "demo credential (do not use in production): %s / %s\n", d.email, d.password)
		} else {
			fmt.Fprintf(w, "demo credential (do not use in production): %s\n", d.email)
		}
	}
}

// newApp opens the store, loads the plugins, composes the providers and
// builds the HTTP handler.
func newApp(ctx context.Context, cfg config.Config, log *slog.Logger) (*app, error) {
	a := &app{log: log}
	ok := false
	defer func() {
		if !ok {
			a.close()
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
				HTTPTimeout:      time.Duration(p.Limits.HTTPTimeoutMS) * time.Millisecond,
				MaxHTTPBodyBytes: p.Limits.MaxHTTPBodyBytes,
			},
		}
	}
	mgr, err := host.New(host.Config{
		PluginsDir: cfg.PluginsDir,
		CacheDir:   filepath.Join(cfg.DataDir, "wasm-cache"),
		Store:      st,
		Logger:     log,
		Plugins:    pluginCfgs,
	})
	if err != nil {
		return nil, fmt.Errorf("plugin host: %w", err)
	}
	a.closers = append(a.closers, mgr.Close)
	plugins, loadErrs := mgr.Load(ctx)
	for _, e := range loadErrs {
		log.Error("plugin failed to load", "error", e)
	}
	var providers []auth.Provider
	for _, p := range plugins {
		d := p.Describe()
		log.Info("plugin loaded", "plugin", p.Name(), "version", d.Version, "abi", d.ABI, "file", p.File(), "capabilities", d.Capabilities)
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
	})
	if err != nil {
		return nil, err
	}
	a.handler = srv
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

var errNoBuiltin = errors.New("builtin providers not configured")
