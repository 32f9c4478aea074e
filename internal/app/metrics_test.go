package app_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/authhost/authhost/internal/testenv/authhostenv"
)

const metricsConfig = `
capabilities: {user: static-users, credentials: static-users, rbac: builtin, session: builtin, audit: [builtin]}
metrics: {token: "${METRICS_TOKEN}"}
plugins:
  static-users:
    config:
      users:
        - {email: admin@example.com, name: Admin, roles: [owner], password_hash: "$argon2id$v=19$m=12288,t=3,p=1$qIyBpMEp+rfFhi4ro6lb/g$jq+SmBkE0qKveOCCakFlxE05ORD5ZI3rwmV0PWUFzs0"}
`

// TestMetricsEndToEnd drives a real server and reads its /metrics: HTTP
// requests by route pattern (never by raw path), plugin calls by outcome,
// auth events, plugin pool gauges, and the bearer token guard.
func TestMetricsEndToEnd(t *testing.T) {
	t.Parallel()
	const token = "0123456789abcdef-metrics"
	env := authhostenv.Start(t, authhostenv.Options{Plugins: []string{"examples/static-users"}, Config: metricsConfig,
		Env: map[string]string{"METRICS_TOKEN": token}})
	c := env.Client()
	if r := c.Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": "admin@example.com", "password": "wrong"}); r.Status != http.StatusUnauthorized {
		t.Fatalf("wrong password = %d", r.Status)
	}
	if r := c.Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": "admin@example.com", "password": "authhost-demo"}); r.Status != http.StatusOK {
		t.Fatalf("sign-in = %d %s", r.Status, r.Body)
	}
	for range 3 {
		if r := c.Do(t, "GET", "/api/auth/me", nil); r.Status != http.StatusOK {
			t.Fatalf("/me = %d", r.Status)
		}
	}
	c.Do(t, "GET", "/api/audit/no-such-event-"+strings.Repeat("x", 40), nil)

	anon := env.Client()
	if r := anon.Do(t, "GET", "/metrics", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("/metrics without the token = %d", r.Status)
	}
	anon.Header.Set("Authorization", "Bearer "+token+"x")
	if r := anon.Do(t, "GET", "/metrics", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("/metrics with a wrong token = %d", r.Status)
	}
	anon.Header.Set("Authorization", "Bearer "+token)
	r := anon.Do(t, "GET", "/metrics", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("/metrics = %d", r.Status)
	}
	text := string(r.Body)
	for _, want := range []string{
		`authhost_http_requests_total{method="GET",route="/api/auth/me",status="200"} 3`,
		`authhost_http_requests_total{method="POST",route="/api/auth/credentials/sign-in",status="401"} 1`,
		`authhost_http_requests_total{method="GET",route="/api/audit/{id}",status="`,
		`authhost_plugin_calls_total{export="credentials_sign_in",outcome="error",plugin="static-users"} 1`,
		`authhost_plugin_calls_total{export="credentials_sign_in",outcome="ok",plugin="static-users"} 1`,
		`authhost_plugin_call_duration_seconds_count{export="credentials_sign_in",plugin="static-users"} 2`,
		`authhost_plugin_healthy{plugin="static-users"} 1`,
		`authhost_plugin_instances_created_total{plugin="static-users"}`,
		`authhost_plugin_pool_warm{plugin="static-users"} 1`,
		`authhost_plugin_instances_reaped_total{plugin="static-users"} 0`,
		`authhost_plugin_instances_surplus_total{plugin="static-users"} `,
		`authhost_plugin_idle_memory_bytes{plugin="static-users"} `,
		`go_goroutines`,
		`authhost_session_cache_entries 0`, // static-users keeps no plugin sessions
		`authhost_session_cache_hits_total 0`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if !regexp.MustCompile(`authhost_auth_events_total\{action="auth\.[a-z_.-]*sign[-_]in[a-z_.-]*",outcome="success"\} 1`).MatchString(text) {
		t.Errorf("/metrics lacks a successful sign-in event:\n%s", grep(text, "authhost_auth_events_total"))
	}
	if strings.Contains(text, "no-such-event") {
		t.Error("a raw path reached a label")
	}
}

func grep(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
