package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/internal/app"
	"github.com/authhost/authhost/internal/config"
)

// serveFlags are the flags of `authhost serve`; set flags override the file.
type serveFlags struct {
	config, listen, publicURL, pluginsDir, dataDir, mode, logLevel string
}

func parseServeFlags(args []string, stdout io.Writer) (serveFlags, error) {
	var f serveFlags
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&f.config, "config", "", "YAML config file")
	fs.StringVar(&f.listen, "listen", "", "listen address (default :8080)")
	fs.StringVar(&f.publicURL, "public-url", "", "public URL of this server")
	fs.StringVar(&f.pluginsDir, "plugins-dir", "", "directory of provider plugins (*.wasm)")
	fs.StringVar(&f.dataDir, "data-dir", "", "data directory (store, compilation cache)")
	fs.StringVar(&f.mode, "mode", "", "development or production")
	fs.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error")
	pos, err := parseArgs(fs, args, "serve [flags]", stdout)
	if err != nil {
		return f, err
	}
	if len(pos) > 0 {
		return f, usageError{fmt.Sprintf("serve: unexpected argument %q", pos[0])}
	}
	return f, nil
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
	f, err := parseServeFlags(args, stdout)
	if err != nil {
		return err
	}
	cfg, err := loadServeConfig(f)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	// Bind first: a port in use is reported at once, not after compiling
	// every plugin, and an unset public_url follows the real address.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("serve: listen on %s: %w", cfg.Listen, err)
	}
	defer ln.Close()
	if err := cfg.DerivePublicURL(ln.Addr().String()); err != nil {
		return err
	}
	if cfg.Listen == "" || strings.HasSuffix(cfg.Listen, ":0") {
		cfg.Listen = ln.Addr().String()
	}
	var metricsLn net.Listener
	if cfg.Metrics.Listen != "" {
		if metricsLn, err = net.Listen("tcp", cfg.Metrics.Listen); err != nil {
			return fmt.Errorf("serve: metrics: listen on %s: %w", cfg.Metrics.Listen, err)
		}
		defer metricsLn.Close()
	}
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	if metricsLn != nil {
		msrv := &http.Server{Handler: a.MetricsHandler, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = msrv.Serve(metricsLn) }()
		defer msrv.Close()
		log.Info("metrics listening", "addr", metricsLn.Addr().String())
	}

	srv := &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("authhost listening", "addr", ln.Addr().String(), "public_url", cfg.PublicURL, "mode", cfg.Mode, "version", version, "abi", abi.Version)
	fmt.Fprintf(stdout, "authhost %s listening on %s (public URL %s)\n", version, ln.Addr(), cfg.PublicURL)
	a.PrintDemoBanner(stdout)

	stopHUP := reloadOnHUP(ctx, f, cfg, a, log)
	defer stopHUP()

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

// reloadOnHUP re-reads the config file (and the flags over it) on every
// SIGHUP and applies it: the plugins directory is reloaded with the new
// plugin settings and capability selection. A config that does not
// validate is logged and changes nothing. The returned func stops it.
func reloadOnHUP(ctx context.Context, f serveFlags, running config.Config, a *app.App, log *slog.Logger) func() {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-hup:
				if !ok {
					return
				}
			}
			log.Info("SIGHUP: reloading the config and the plugins")
			cfg, err := loadServeConfig(f)
			if err != nil {
				log.Error("config reload refused: the running config stays", "error", err)
				continue
			}
			if cfg.Listen == "" || strings.HasSuffix(cfg.Listen, ":0") {
				cfg.Listen = running.Listen
			}
			problems, err := a.ReloadConfig(ctx, cfg)
			switch {
			case err != nil:
				log.Error("config reload failed", "error", err)
			case len(problems) > 0:
				log.Error("config reloaded; some plugins did not load", "problems", problems)
			default:
				log.Info("config reloaded")
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(hup)
		<-done
	}
}
