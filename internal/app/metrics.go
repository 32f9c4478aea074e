package app

import (
	"crypto/subtle"
	"net/http"
	"net/http/pprof"
	"strings"

	"github.com/authhost/authhost/internal/config"
	"github.com/authhost/authhost/internal/metrics"
)

// withMetrics counts every request of h and, when a metrics token is
// configured, serves /metrics on the main listener to that bearer token.
func withMetrics(m *metrics.Metrics, cfg config.Metrics, h http.Handler) http.Handler {
	counted := m.Middleware(h)
	if cfg.Token == "" {
		return counted
	}
	want := []byte("Bearer " + cfg.Token)
	scrape := m.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			counted.ServeHTTP(w, r)
			return
		}
		got := []byte(strings.TrimSpace(r.Header.Get("Authorization")))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "metrics need the configured bearer token", http.StatusUnauthorized)
			return
		}
		scrape.ServeHTTP(w, r)
	})
}

// metricsOnly is the handler of the separate metrics listener: /metrics,
// and the runtime's profiles under /debug/pprof/ when withPprof is set.
// The command line (/debug/pprof/cmdline) is left out: a memory or CPU
// investigation does not need it, and it could carry a secret some day.
func metricsOnly(m *metrics.Metrics, withPprof bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	if withPprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return mux
}
