// Package metrics exposes authhost's Prometheus metrics: HTTP requests by
// route and status, plugin calls by plugin, export and outcome, plugin
// pools and health, and auth events (sign-ins, sign-ups, lockouts …) by
// action and outcome. It owns its registry, so tests and several servers
// in one process never share counters.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/host"
)

// Metrics is one server's metrics. Its methods are safe for concurrent use.
type Metrics struct {
	reg         *prometheus.Registry
	httpReqs    *prometheus.CounterVec
	httpLatency *prometheus.HistogramVec
	calls       *prometheus.CounterVec
	callLatency *prometheus.HistogramVec
	authEvents  *prometheus.CounterVec
	auditErrors prometheus.Counter
}

// latencyBuckets spans a cached /me (tens of µs) to a slow provider (10 s).
var latencyBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// New creates the metrics with Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		httpReqs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authhost_http_requests_total", Help: "HTTP requests by method, route pattern and status.",
		}, []string{"method", "route", "status"}),
		httpLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "authhost_http_request_duration_seconds", Help: "HTTP request latency by method and route pattern.", Buckets: latencyBuckets,
		}, []string{"method", "route"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authhost_plugin_calls_total", Help: "Plugin calls by plugin, export and outcome (ok, error, timeout, unavailable, failure).",
		}, []string{"plugin", "export", "outcome"}),
		callLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "authhost_plugin_call_duration_seconds", Help: "Plugin call latency by plugin and export.", Buckets: latencyBuckets,
		}, []string{"plugin", "export"}),
		authEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authhost_auth_events_total", Help: "Audit events written, by action (auth.sign_in, auth.sign_up, auth.locked_out …) and outcome.",
		}, []string{"action", "outcome"}),
		auditErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authhost_audit_write_errors_total", Help: "Audit events that no audit logger accepted (dropped).",
		}),
	}
	m.reg.MustRegister(m.httpReqs, m.httpLatency, m.calls, m.callLatency, m.authEvents, m.auditErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Middleware counts and times every request by its chi route pattern (not
// its path, so ids and garbage URLs cannot blow up the label set). It must
// wrap the chi router: it hands the router a route context to fill.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rctx := chi.NewRouteContext()
		r = r.WithContext(context.WithValue(r.Context(), chi.RouteCtxKey, rctx))
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := rctx.RoutePattern()
		if route == "" {
			route = "unmatched"
		}
		method := r.Method
		switch method {
		case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		default:
			method = "other"
		}
		m.httpReqs.WithLabelValues(method, route, strconv.Itoa(sw.status)).Inc()
		m.httpLatency.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
	})
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// Flush passes through to the wrapped writer (audit export streams).
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the wrapped writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ObserveCall records one plugin call; it is host.Config.OnCall.
func (m *Metrics) ObserveCall(r host.CallRecord) {
	m.calls.WithLabelValues(r.Plugin, r.Export, r.Outcome).Inc()
	m.callLatency.WithLabelValues(r.Plugin, r.Export).Observe(r.Duration.Seconds())
}

// CountAudit wraps the composed audit logger so that every event it is
// given is counted by action and outcome, and every event it fails to
// write is counted as dropped. A nil logger stays nil (audit off).
func (m *Metrics) CountAudit(l auth.AuditLogger) auth.AuditLogger {
	if l == nil {
		return nil
	}
	return countingAudit{next: l, m: m}
}

type countingAudit struct {
	next auth.AuditLogger
	m    *Metrics
}

// Log implements auth.AuditLogger.
func (c countingAudit) Log(ctx context.Context, e auth.AuditEvent) error {
	c.m.authEvents.WithLabelValues(e.Action, e.Outcome).Inc()
	err := c.next.Log(ctx, e)
	if err != nil {
		c.m.auditErrors.Inc()
	}
	return err
}

// WatchPlugins registers a collector that reads every loaded plugin's
// pool, health and instance counters at scrape time.
func (m *Metrics) WatchPlugins(plugins func() []*host.Plugin) {
	m.reg.MustRegister(pluginCollector{plugins: plugins})
}

var (
	descPoolSize  = prometheus.NewDesc("authhost_plugin_pool_size", "Most instances a plugin may hold.", []string{"plugin"}, nil)
	descInstances = prometheus.NewDesc("authhost_plugin_instances", "Instances alive now.", []string{"plugin"}, nil)
	descInUse     = prometheus.NewDesc("authhost_plugin_instances_in_use", "Instances running a call now.", []string{"plugin"}, nil)
	descCreated   = prometheus.NewDesc("authhost_plugin_instances_created_total", "Instances ever created.", []string{"plugin"}, nil)
	descDiscards  = prometheus.NewDesc("authhost_plugin_instance_crashes_total", "Instances discarded after a trap, timeout or failure.", []string{"plugin"}, nil)
	descHealthy   = prometheus.NewDesc("authhost_plugin_healthy", "1 when the plugin serves calls, 0 while it fails closed after repeated crashes.", []string{"plugin"}, nil)
	descPoolWarm  = prometheus.NewDesc("authhost_plugin_pool_warm", "Instances a plugin keeps alive; 0 for a plugin no capability selects.", []string{"plugin"}, nil)
	descReaped    = prometheus.NewDesc("authhost_plugin_instances_reaped_total", "Idle instances closed after the idle timeout.", []string{"plugin"}, nil)
	descSurplus   = prometheus.NewDesc("authhost_plugin_instances_surplus_total", "Healthy instances closed at once because the pool already held enough.", []string{"plugin"}, nil)
	descIdleMem   = prometheus.NewDesc("authhost_plugin_idle_memory_bytes", "Linear memory of a plugin's idle instances.", []string{"plugin"}, nil)
	descMem       = prometheus.NewDesc("authhost_plugin_memory_bytes", "Linear memory of all a plugin's instances (a busy one's as its last call left it).", []string{"plugin"}, nil)
	descCode      = prometheus.NewDesc("authhost_plugin_code_bytes", "Machine code of a plugin's compiled module; 0 while it is not compiled.", []string{"plugin"}, nil)
)

type pluginCollector struct{ plugins func() []*host.Plugin }

// Describe implements prometheus.Collector.
func (c pluginCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPoolSize, descInstances, descInUse, descCreated, descDiscards, descHealthy, descPoolWarm, descReaped, descSurplus, descIdleMem, descMem, descCode} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c pluginCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.plugins() {
		st, name := p.Stats(), p.Name()
		healthy := 0.0
		if st.Healthy {
			healthy = 1
		}
		ch <- prometheus.MustNewConstMetric(descPoolSize, prometheus.GaugeValue, float64(st.PoolSize), name)
		ch <- prometheus.MustNewConstMetric(descInstances, prometheus.GaugeValue, float64(st.Instances), name)
		ch <- prometheus.MustNewConstMetric(descInUse, prometheus.GaugeValue, float64(st.InUse), name)
		ch <- prometheus.MustNewConstMetric(descCreated, prometheus.CounterValue, float64(st.InstancesCreated), name)
		ch <- prometheus.MustNewConstMetric(descDiscards, prometheus.CounterValue, float64(st.Discards), name)
		ch <- prometheus.MustNewConstMetric(descHealthy, prometheus.GaugeValue, healthy, name)
		ch <- prometheus.MustNewConstMetric(descPoolWarm, prometheus.GaugeValue, float64(st.PoolWarm), name)
		ch <- prometheus.MustNewConstMetric(descReaped, prometheus.CounterValue, float64(st.Reaped), name)
		ch <- prometheus.MustNewConstMetric(descSurplus, prometheus.CounterValue, float64(st.Surplus), name)
		ch <- prometheus.MustNewConstMetric(descIdleMem, prometheus.GaugeValue, float64(st.IdleMemoryBytes), name)
		ch <- prometheus.MustNewConstMetric(descMem, prometheus.GaugeValue, float64(st.MemoryBytes), name)
		ch <- prometheus.MustNewConstMetric(descCode, prometheus.GaugeValue, float64(st.CodeBytes), name)
	}
}

var (
	descCacheHits    = prometheus.NewDesc("authhost_session_cache_hits_total", "Plugin sessions answered from the host's validated-session cache (resets when plugins reload).", nil, nil)
	descCacheMisses  = prometheus.NewDesc("authhost_session_cache_misses_total", "Plugin session validations that asked the provider (resets when plugins reload).", nil, nil)
	descCacheEntries = prometheus.NewDesc("authhost_session_cache_entries", "Validated sessions held in the host's cache now.", nil, nil)
)

// WatchSessionCaches registers a collector that reads the validated-session
// caches' counters at scrape time.
func (m *Metrics) WatchSessionCaches(stats func() (hits, misses int64, entries int)) {
	m.reg.MustRegister(cacheCollector{stats: stats})
}

type cacheCollector struct {
	stats func() (hits, misses int64, entries int)
}

// Describe implements prometheus.Collector.
func (c cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descCacheHits
	ch <- descCacheMisses
	ch <- descCacheEntries
}

// Collect implements prometheus.Collector.
func (c cacheCollector) Collect(ch chan<- prometheus.Metric) {
	hits, misses, entries := c.stats()
	ch <- prometheus.MustNewConstMetric(descCacheHits, prometheus.CounterValue, float64(hits))
	ch <- prometheus.MustNewConstMetric(descCacheMisses, prometheus.CounterValue, float64(misses))
	ch <- prometheus.MustNewConstMetric(descCacheEntries, prometheus.GaugeValue, float64(entries))
}
