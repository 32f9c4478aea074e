// Package server is authhost's HTTP front door: the chi router with the
// auth API, health endpoints and middleware. Handlers talk to the composed
// provider through auth interfaces and never know whether a capability is a
// Wasm plugin or a built-in.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/auth/hashgate"
	"github.com/authhost/authhost/internal/forwarded"
	"github.com/authhost/authhost/store/memory"
)

// Readiness reports whether the server may take traffic and, if not, why.
type Readiness func() (ready bool, problems []string)

// Config configures a Server. Auth and PublicURL are required.
type Config struct {
	Auth      *auth.Composed
	License   auth.LicenseState
	PublicURL *url.URL
	// APIPrefix is where the API is mounted; default "/api".
	APIPrefix string
	Ready     Readiness
	Logger    *slog.Logger
	// AllowedRedirectOrigins may receive post-login redirects and send
	// state-changing requests, besides the public URL's own origin.
	AllowedRedirectOrigins []string
	// ListenAddr is the host:port the server listens on. In development
	// mode (License.Mode) the loopback aliases of its port (localhost,
	// 127.0.0.1, [::1]) are trusted origins too, so the quick start signs
	// in however the browser names the machine.
	ListenAddr string
	// BootstrapOwners are emails granted the owner role at sign-in while
	// they have no stored role assignment (bootstrap.go).
	BootstrapOwners []string
	// SealKey (≥ 32 random bytes) seals the SSO state cookie. Keep it
	// stable across restarts so logins in flight survive them.
	SealKey []byte
	// SessionTTL is the session provider's sliding TTL: a host session with
	// less than half of it left is refreshed when used and its cookie
	// re-issued. Zero turns sliding refresh off.
	SessionTTL time.Duration
	// Plugins lists the loaded plugins for the admin API; nil lists none.
	Plugins func() []PluginStatus
	// Degraded lists the plugin files that failed to load but that
	// nothing selects or configures; nil lists none.
	Degraded func() []DegradedPlugin
	// ReloadPlugins reloads the plugins directory (and swaps the composed
	// provider through Swap), returning the problems of the files that
	// did not load; nil makes the reload route answer 503.
	ReloadPlugins func(ctx context.Context) (problems []string, err error)
	// SignInLimit is how many failed sign-ins lock an account out for
	// one client address (the hard lock) for SignInWindow, and
	// SignInIPLimit how many lock out one client address whatever the
	// account (looser: an office shares one); defaults 10, 100 and 15
	// minutes.
	SignInLimit   int
	SignInIPLimit int
	SignInWindow  time.Duration
	// SignInAccountLimit is how many failed sign-ins, from any addresses,
	// throttle an account for everyone for SignInAccountWindow: the soft
	// per-account bound that a single address cannot reach; defaults 100
	// and an hour (OWASP ASVS V2.2.1).
	SignInAccountLimit  int
	SignInAccountWindow time.Duration
	// SignUpIPLimit is how many accounts one client address may create (or
	// find already there) in SignUpWindow; defaults 20 and an hour.
	SignUpIPLimit int
	SignUpWindow  time.Duration
	// Counters is where the sign-in and sign-up limits count; processes
	// sharing one store (replicas on one PostgreSQL) share their counts.
	// Nil counts in this process only (an in-memory store).
	Counters CounterStore
	// HashGate bounds the credentials provider calls that hash a password
	// (sign-in, sign-up, password reset) host-wide; nil takes
	// hashgate.New(0, -1, 0).
	HashGate *hashgate.Gate
	// Webhooks returns the webhook endpoint of the named provider, or nil
	// when the server does not serve it one; nil serves none.
	Webhooks func(provider string) auth.WebhookHandler
	// TrustedProxies are the reverse proxies whose X-Forwarded-For or
	// Forwarded header names the client; from other peers those headers
	// are ignored. Nil trusts none.
	TrustedProxies []netip.Prefix
	// RoleStore is the host's own role assignments (the built-in RBAC
	// manager); webhooks (directory sync) write to it. Nil drops them.
	RoleStore auth.RBACManager
	// AccessLog logs every request at info; otherwise at debug.
	AccessLog bool
	// WebhookRate (deliveries per second), WebhookBurst and
	// WebhookConcurrency (deliveries in flight) bound each provider's
	// webhook; defaults 20, 40 and 4.
	WebhookRate        float64
	WebhookBurst       int
	WebhookConcurrency int
	// AuditWindow is the audit flood window: repeats of a failure or an
	// anonymous event per (action, outcome, error code, resource, client
	// network) are collapsed into at most one event per window with their
	// count (auditflood.go); default a minute.
	// A negative window turns the policy off: every event is written.
	AuditWindow time.Duration
}

// Server serves the authhost HTTP API.
type Server struct {
	cfg            Config
	log            *slog.Logger
	router         chi.Router
	redirects      redirectGuard
	trustedOrigins originPolicy
	owners         bootstrapOwners
	proxies        forwarded.Proxies
	sealer         *sealer
	// pairLimits (account and address: the hard lock), accountLimits
	// (the soft throttle) and ipLimits bound sign-in failures;
	// signUpLimits bounds sign-ups per address.
	pairLimits    *limiter
	accountLimits *limiter
	ipLimits      *limiter
	signUpLimits  *limiter
	// hashes bounds concurrent password hashes; busy is the error of a
	// request it refused.
	hashes *hashgate.Gate
	busy   *flowError
	// audit is the composed audit logger behind the flood policy; nil
	// when no audit logger is composed.
	audit *auditFlood
	// webhookLimits bounds each provider's webhook deliveries.
	webhookLimits *webhookLimits
	// state is the current generation of the composed provider and
	// readiness (hot reload swaps it, swapMu serializing the swaps).
	state  atomic.Pointer[state]
	swapMu sync.Mutex
	// resolveErrAt is when a failure to resolve a request's user was last
	// audited (unix nanoseconds).
	resolveErrAt atomic.Int64
}

// New validates cfg and builds the router.
func New(cfg Config) (*Server, error) {
	if cfg.Auth == nil {
		return nil, errors.New("server: config: Auth is required")
	}
	if cfg.PublicURL == nil || cfg.PublicURL.Scheme == "" || cfg.PublicURL.Host == "" {
		return nil, errors.New("server: config: PublicURL must be an absolute URL")
	}
	cfg.APIPrefix = normalizePrefix(cfg.APIPrefix)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Ready == nil {
		cfg.Ready = func() (bool, []string) { return true, nil }
	}
	if cfg.SignInLimit <= 0 {
		cfg.SignInLimit = 10
	}
	if cfg.SignInIPLimit <= 0 {
		cfg.SignInIPLimit = 10 * cfg.SignInLimit
	}
	if cfg.SignInWindow <= 0 {
		cfg.SignInWindow = 15 * time.Minute
	}
	if cfg.SignInAccountLimit <= 0 {
		cfg.SignInAccountLimit = 100
	}
	if cfg.SignInAccountWindow <= 0 {
		cfg.SignInAccountWindow = time.Hour
	}
	if cfg.SignUpIPLimit <= 0 {
		cfg.SignUpIPLimit = 20
	}
	if cfg.SignUpWindow <= 0 {
		cfg.SignUpWindow = time.Hour
	}
	if cfg.HashGate == nil {
		cfg.HashGate = hashgate.New(0, -1, 0)
	}
	if cfg.Plugins == nil {
		cfg.Plugins = func() []PluginStatus { return nil }
	}
	if cfg.Degraded == nil {
		cfg.Degraded = func() []DegradedPlugin { return nil }
	}
	if cfg.AuditWindow == 0 {
		cfg.AuditWindow = defaultAuditWindow
	}
	if cfg.WebhookRate <= 0 {
		cfg.WebhookRate = defaultWebhookRate
	}
	if cfg.WebhookBurst <= 0 {
		cfg.WebhookBurst = defaultWebhookBurst
	}
	if cfg.WebhookConcurrency <= 0 {
		cfg.WebhookConcurrency = defaultWebhookConcurrency
	}
	if cfg.Webhooks == nil {
		cfg.Webhooks = func(string) auth.WebhookHandler { return nil }
	}
	sl, err := newSealer(cfg.SealKey)
	if err != nil {
		return nil, err
	}
	if cfg.Counters == nil {
		cfg.Counters = memory.New(memory.Options{})
	}
	mac := limiterMAC(cfg.SealKey)
	s := &Server{cfg: cfg, log: cfg.Logger, sealer: sl,
		redirects:     newRedirectGuard(cfg.PublicURL, cfg.AllowedRedirectOrigins),
		pairLimits:    newLimiter(cfg.Counters, "account-ip", cfg.SignInLimit, cfg.SignInWindow, time.Now, mac, cfg.Logger),
		accountLimits: newLimiter(cfg.Counters, "account", cfg.SignInAccountLimit, cfg.SignInAccountWindow, time.Now, mac, cfg.Logger),
		ipLimits:      newLimiter(cfg.Counters, "ip", cfg.SignInIPLimit, cfg.SignInWindow, time.Now, mac, cfg.Logger),
		signUpLimits:  newLimiter(cfg.Counters, "sign-up-ip", cfg.SignUpIPLimit, cfg.SignUpWindow, time.Now, mac, cfg.Logger),
		webhookLimits: newWebhookLimits(cfg.WebhookRate, cfg.WebhookBurst, cfg.WebhookConcurrency),
		hashes:        cfg.HashGate,
		busy: &flowError{Status: http.StatusTooManyRequests, Code: "rate_limited",
			Message: "The server is busy; try again in a moment", RetryAfter: cfg.HashGate.RetryAfter()}}
	s.state.Store(&state{auth: cfg.Auth, ready: cfg.Ready})
	// The flood policy outlives reloads: it writes to the audit logger of
	// the generation current at each write.
	s.audit = newAuditFlood(currentAudit{s}, cfg.AuditWindow, cfg.Logger)
	trusted := cfg.AllowedRedirectOrigins
	if cfg.License.Mode == auth.ModeDevelopment {
		trusted = append(loopbackOrigins(cfg.PublicURL.Scheme, cfg.ListenAddr), trusted...)
	}
	s.trustedOrigins = newOriginPolicy(cfg.PublicURL, trusted)
	s.proxies = forwarded.Proxies(cfg.TrustedProxies)
	s.owners = newBootstrapOwners(cfg.BootstrapOwners)
	s.router = s.routes()
	return s, nil
}

// Close writes the audit counts still pending (the flood policy's
// collapsed repeats). Call it once the HTTP server has stopped taking
// requests; events emitted afterwards are written one by one.
func (s *Server) Close(ctx context.Context) error {
	if s.audit == nil {
		return nil
	}
	if err := s.audit.Close(ctx); err != nil {
		return fmt.Errorf("server: close: %w", err)
	}
	return nil
}

// normalizePrefix gives the prefix one leading slash and no trailing one.
func normalizePrefix(p string) string {
	p = strings.Trim(strings.TrimSpace(p), "/")
	if p == "" {
		return "/api"
	}
	return "/" + p
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.withState(w, r) }

func (s *Server) routes() chi.Router {
	r := chi.NewRouter()
	r.Use(s.clientAddr)
	r.Use(middleware.RequestID)
	r.Use(s.recoverer)
	r.Use(securityHeaders)
	r.Use(s.accessLog)
	r.Get("/healthz", s.handleHealthz)
	r.Get("/readyz", s.handleReadyz)
	r.Get("/static/*", handleStatic)
	r.Group(func(r chi.Router) {
		r.Use(s.identify)
		r.Use(s.csrfGuard)
		for _, rt := range s.routeTable() {
			h := http.Handler(rt.handler)
			if rt.auth {
				h = s.require(rt.permission)(h)
			}
			r.Method(rt.method, s.cfg.APIPrefix+rt.path, h)
		}
		s.uiRoutes(r)
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		// A browser gets a page; the API and other clients get JSON.
		api := r.URL.Path == s.cfg.APIPrefix || strings.HasPrefix(r.URL.Path, s.cfg.APIPrefix+"/")
		if !api && strings.Contains(r.Header.Get("Accept"), "text/html") {
			s.renderMessage(w, r, http.StatusNotFound, message{Heading: "Page not found",
				Text: "There is no page at this address.", Link: "/", LinkText: "Go to the start page"})
			return
		}
		writeError(w, http.StatusNotFound, "not_found", "no such route")
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed on this route")
	})
	return r
}

// ssoLoginURL is the host's SSO login route, reported in capabilities.
func (s *Server) ssoLoginURL() string { return s.cfg.APIPrefix + "/auth/sso/login" }

// recoverer turns a handler panic into a 500 with no internals leaked.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("handler panic", "path", r.URL.Path, "panic", v, "request_id", middleware.GetReqID(r.Context()))
				writeError(w, http.StatusInternalServerError, "internal", "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// securityHeaders sets headers every response should carry.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' https: data:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
		if isHTTPS(r) {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// accessLog logs one line per request without query strings or headers,
// which may carry codes and tokens.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		level := slog.LevelDebug
		if s.cfg.AccessLog {
			level = slog.LevelInfo
		}
		s.log.Log(r.Context(), level, "http request", "method", r.Method, "path", r.URL.Path, "status", ww.Status(),
			"duration_ms", time.Since(start).Milliseconds(), "request_id", middleware.GetReqID(r.Context()))
	})
}
