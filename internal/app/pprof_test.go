package app

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authhost/authhost/internal/config"
	"github.com/authhost/authhost/internal/metrics"
)

// TestPprofOnlyOnMetricsListener checks that the runtime's profiles are
// served on the separate metrics listener when metrics.pprof is set, and
// never otherwise: not without the setting, not on the main listener even
// with the metrics token.
func TestPprofOnlyOnMetricsListener(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.NotFound(w, nil) })
	tests := []struct {
		name     string
		h        http.Handler
		path     string
		auth     string
		want     int
		contains string
	}{
		{"metrics listener with pprof: heap", metricsOnly(m, true), "/debug/pprof/heap?debug=1", "", http.StatusOK, "heap profile"},
		{"metrics listener with pprof: index", metricsOnly(m, true), "/debug/pprof/", "", http.StatusOK, "goroutine"},
		{"metrics listener with pprof: goroutines", metricsOnly(m, true), "/debug/pprof/goroutine?debug=1", "", http.StatusOK, "goroutine profile"},
		{"metrics listener with pprof: metrics", metricsOnly(m, true), "/metrics", "", http.StatusOK, "go_goroutines"},
		{"metrics listener with pprof: no command line", metricsOnly(m, true), "/debug/pprof/cmdline", "", http.StatusNotFound, ""},
		{"metrics listener without pprof", metricsOnly(m, false), "/debug/pprof/heap?debug=1", "", http.StatusNotFound, ""},
		{"main listener with token", withMetrics(m, config.Metrics{Token: "0123456789abcdef", Pprof: true}, next),
			"/debug/pprof/heap?debug=1", "Bearer 0123456789abcdef", http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			rec := httptest.NewRecorder()
			tt.h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("GET %s = %d, want %d", tt.path, rec.Code, tt.want)
			}
			if !strings.Contains(rec.Body.String(), tt.contains) {
				t.Fatalf("GET %s lacks %q", tt.path, tt.contains)
			}
		})
	}
}
