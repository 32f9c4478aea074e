package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParse(t *testing.T) {
	t.Parallel()
	cfg, err := Parse([]byte(`
listen: ":9090"
public_url: "https://auth.example.com"
capabilities:
  sso: workos
  audit: [builtin, workos]
session:
  store: cookie
  secret: "${SESSION_SECRET}"
  ttl: 1h
  absolute_ttl: 24h
plugins:
  workos:
    allowed_hosts: ["api.workos.com", "*.workos.com"]
    limits: { memory_mib: 32, timeout_ms: 2000, pool_size: 4 }
    config:
      api_key: "${WORKOS_API_KEY}"
      client_id: "${WORKOS_CLIENT_ID:-client_default}"
      nested: { list: [1, 2] }
`), env(map[string]string{"SESSION_SECRET": strings.Repeat("s", 32), "WORKOS_API_KEY": "sk_test_123: not yaml {"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != ":9090" || cfg.Session.TTL != time.Hour || cfg.Session.Store != "cookie" {
		t.Fatalf("cfg = %+v", cfg)
	}
	if got := cfg.Caps["audit"]; len(got) != 2 || got[1] != "workos" {
		t.Fatalf("audit = %v", got)
	}
	if got := cfg.Caps["sso"]; len(got) != 1 || got[0] != "workos" {
		t.Fatalf("sso = %v", got)
	}
	p := cfg.Plugins["workos"]
	if p.Config["api_key"] != "sk_test_123: not yaml {" {
		t.Fatalf("env value must be taken literally, got %q", p.Config["api_key"])
	}
	if p.Config["client_id"] != "client_default" {
		t.Fatalf("default not applied: %v", p.Config["client_id"])
	}
	js, err := p.ConfigJSON()
	if err != nil || !strings.Contains(string(js), `"nested":{"list":[1,2]}`) {
		t.Fatalf("config json = %s, %v", js, err)
	}
	if p.Limits.PoolSize != 4 || len(p.AllowedHosts) != 2 {
		t.Fatalf("plugin = %+v", p)
	}
	if cfg.Mode != "development" || cfg.DataDir != "./data" || cfg.Engine != "wazero" {
		t.Fatal("defaults not kept")
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, yaml, want string }{
		{"unknown key", "listne: x", "field listne not found"},
		{"missing env", `license: "${NOPE}"`, "environment variable NOPE is not set"},
		{"bad url", `public_url: "localhost"`, "public_url"},
		{"short cookie secret", "session: { store: cookie, secret: short }", "at least 32 bytes"},
		{"bad mode", "mode: staging", "mode:"},
		{"unknown engine", "engine: wasmtime", "engine:"},
		{"engine case", "engine: Wazero", "engine:"},
		{"engine look-alike", "engine: \"wаzero\"", "engine:"},
		{"engine empty", `engine: ""`, "engine:"},
		{"engine control char", `engine: "wazero\n"`, "engine:"},
		{"negative limit", "plugins: { x: { limits: { pool_size: -1 } } }", "plugins.x.limits"},
		{"negative pool_warm", "plugins: { x: { limits: { pool_warm: -1 } } }", "plugins.x.limits"},
		{"host with scheme", `plugins: { x: { allowed_hosts: ["https://a.com"] } }`, "allowed_hosts"},
		{"bad origin", `security: { allowed_redirect_origins: ["app.example.com"] }`, "allowed_redirect_origins"},
		{"ttl order", "session: { ttl: 48h, absolute_ttl: 1h }", "absolute_ttl"},
		{"malformed yaml", "listen: [", "parse yaml"},
		{"capability list of maps", "capabilities: { sso: { a: b } }", "want a name or a list"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.yaml), env(nil))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want containing %q", c.name, err, c.want)
		}
	}
}

func TestEmptyFileGivesDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := Parse([]byte(""), env(nil))
	if err != nil || cfg.Listen != ":8080" {
		t.Fatalf("cfg=%+v err=%v", cfg, err)
	}
}
