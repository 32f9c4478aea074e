package config

import (
	"os"
	"path/filepath"
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
    allow_private_networks: true
    limits: { memory_mib: 32, timeout_ms: 2000, pool_size: 4, max_kv_bytes: 1048576, max_kv_keys: 500 }
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
	if p.Limits.PoolSize != 4 || len(p.AllowedHosts) != 2 || !p.AllowPrivateNetworks || p.Limits.MaxKVBytes != 1<<20 || p.Limits.MaxKVKeys != 500 {
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
		{"negative kv quota", "plugins: { x: { limits: { max_kv_keys: -1 } } }", "plugins.x.limits"},
		{"private networks not a bool", `plugins: { x: { allow_private_networks: "yes please" } }`, "into bool"},
		{"negative session cache", "plugins: { x: { session_cache_seconds: -1 } }", "plugins.x.session_cache_seconds"},
		{"session cache too long", "plugins: { x: { session_cache_seconds: 3601 } }", "out of range 0..3600"},
		{"negative role cache", "plugins: { x: { role_cache_seconds: -1 } }", "plugins.x.role_cache_seconds"},
		{"role cache too long", "plugins: { x: { role_cache_seconds: 3601 } }", "plugins.x.role_cache_seconds: 3601 is out of range 0..3600"},
		{"role cache as duration", "plugins: { x: { role_cache_seconds: 30s } }", "into int"},
		{"role cache null string", `plugins: { x: { role_cache_seconds: "null" } }`, "into int"},
		{"role cache fullwidth digits", "plugins: { x: { role_cache_seconds: ３０ } }", "into int"},
		{"negative pool_warm", "plugins: { x: { limits: { pool_warm: -1 } } }", "plugins.x.limits"},
		{"negative idle_timeout_ms", "plugins: { x: { limits: { idle_timeout_ms: -1 } } }", "plugins.x.limits"},
		{"idle_timeout_ms as duration", "plugins: { x: { limits: { idle_timeout_ms: 30s } } }", "into int"},
		{"memory_limit_mib below -1", "memory_limit_mib: -2", "memory_limit_mib"},
		{"memory_limit_mib with unit", "memory_limit_mib: 256MiB", "into int"},
		{"memory_limit_mib null string", `memory_limit_mib: "null"`, "into int"},
		{"memory_limit_mib fullwidth digits", "memory_limit_mib: ２５６", "into int"},
		{"host with scheme", `plugins: { x: { allowed_hosts: ["https://a.com"] } }`, "allowed_hosts"},
		{"bad origin", `security: { allowed_redirect_origins: ["app.example.com"] }`, "allowed_redirect_origins"},
		{"proxy hostname", `security: { trusted_proxies: ["proxy.internal"] }`, `security.trusted_proxies: "proxy.internal"`},
		{"proxy short literal", `security: { trusted_proxies: ["10.0.0.0/8", "127.1"] }`, `security.trusted_proxies: "127.1"`},
		{"proxy trusts all", `security: { trusted_proxies: ["0.0.0.0/0"] }`, "trusts every address"},
		{"ttl order", "session: { ttl: 48h, absolute_ttl: 1h }", "absolute_ttl"},
		{"malformed yaml", "listen: [", "parse yaml"},
		{"capability list of maps", "capabilities: { sso: { a: b } }", "want a name or a list"},
		{"bad license key", "license: { public_keys: [nope] }", "license.public_keys[0]"},
		{"license key of wrong size", "license: { public_keys: [AAAA] }", "license.public_keys[0]"},
		{"unknown license field", "license: { tokn: x }", "field tokn not found"},
		{"unknown store driver", "store: { driver: mysql }", "store.driver"},
		{"store driver look-alike", "store: { driver: \"p\u043estgres\" }", "store.driver"},
		{"store driver case", "store: { driver: Postgres }", "store.driver"},
		{"postgres without dsn", "store: { driver: postgres }", "store.dsn"},
		{"postgres dsn from unset env", `store: { driver: postgres, dsn: "${AUTHHOST_STORE_DSN}" }`, "AUTHHOST_STORE_DSN"},
		{"badger with dsn", "store: { dsn: postgres://h/db }", "store.dsn"},
		{"negative collapse window", "audit: { collapse_window: -1m }", "audit.collapse_window"},
		{"collapse window without unit", "audit: { collapse_window: 60 }", "into time.Duration"},
		{"bootstrap owner not an email", `bootstrap_owners: ["ann"]`, "bootstrap_owners[0]"},
		{"bootstrap owner with control char", "bootstrap_owners: [\"ann\\u0000@example.com\"]", "bootstrap_owners[0]"},
		{"bootstrap owner mixing scripts", "bootstrap_owners: [\"ok@example.com\", \"аdmin@example.com\"]", "bootstrap_owners[1]"},
		{"bootstrap owner zero-width", "bootstrap_owners: [\"ad​min@example.com\"]", "bootstrap_owners[0]"},
		{"bootstrap owner the string null", `bootstrap_owners: ["null"]`, "bootstrap_owners[0]"},
		{"bootstrap owner ipv6 literal", `bootstrap_owners: ["root@[::1]"]`, "bootstrap_owners[0]"},
		{"pprof without metrics.listen", "metrics: { pprof: true }", "metrics.pprof: needs metrics.listen"},
		{"pprof with token only", `metrics: { pprof: true, token: "0123456789abcdef" }`, "metrics.pprof: needs metrics.listen"},
		{"pprof as string", `metrics: { listen: "127.0.0.1:9464", pprof: "null" }`, "into bool"},
		{"bootstrap owner without owner role", "bootstrap_owners: [a@example.com]\nrbac: { roles: [{ id: boss, permissions: [\"*\"] }] }", "no role with id owner"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.yaml), env(nil))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want containing %q", c.name, err, c.want)
		}
	}
}

func TestTrustedProxies(t *testing.T) {
	t.Parallel()
	cfg, err := Parse([]byte(`security: { trusted_proxies: ["10.0.0.0/8", "192.0.2.10", "${PROXY_V6}"] }`), env(map[string]string{"PROXY_V6": "2001:db8::/32"}))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := cfg.Security.Proxies()
	if err != nil || len(ps) != 3 || ps[1].String() != "192.0.2.10/32" || ps[2].String() != "2001:db8::/32" {
		t.Fatalf("proxies = %v, %v", ps, err)
	}
	if ps, err := Defaults().Security.Proxies(); err != nil || len(ps) != 0 {
		t.Fatalf("default proxies = %v, %v; want none", ps, err)
	}
}

func TestStoreDriver(t *testing.T) {
	t.Parallel()
	for _, y := range []string{"", "store: {}", "store: { driver: null }"} {
		cfg, err := Parse([]byte(y), env(nil))
		if err != nil || cfg.Store.Driver != "badger" {
			t.Fatalf("%q: store = %+v, %v; want the badger default", y, cfg.Store, err)
		}
	}
	cfg, err := Parse([]byte(`store: { driver: postgres, dsn: "${AUTHHOST_STORE_DSN}" }`),
		env(map[string]string{"AUTHHOST_STORE_DSN": "postgres://a@127.0.0.1/db"}))
	if err != nil || cfg.Store.Driver != "postgres" || cfg.Store.DSN != "postgres://a@127.0.0.1/db" {
		t.Fatalf("postgres store = %+v, %v", cfg.Store, err)
	}
}

// TestAuditCollapseWindow checks the audit flood window: a minute unless
// set, and 0s (off) kept rather than replaced by the default.
func TestAuditCollapseWindow(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		yaml string
		want time.Duration
	}{
		{"", time.Minute},
		{"audit: { console: off }", time.Minute},
		{"audit: { collapse_window: 5m }", 5 * time.Minute},
		{"audit: { collapse_window: 0s }", 0},
	} {
		cfg, err := Parse([]byte(c.yaml), env(nil))
		if err != nil || cfg.Audit.CollapseWindow != c.want {
			t.Errorf("%q: collapse window = %v, %v; want %v", c.yaml, cfg.Audit.CollapseWindow, err, c.want)
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

func TestLicenseForms(t *testing.T) {
	t.Parallel()
	key := "5BZOVs6rIQdeqQZrsKCun5dNCOv1pbJjWwsbWtjbc0A"
	cases := []struct {
		name, yaml string
		want       License
	}{
		{"absent", "", License{}},
		{"token scalar", "license: abc.def", License{Token: "abc.def"}},
		{"token from env", "license: ${LIC}", License{Token: "tok.sig"}},
		{"none", "license: none", License{None: true}},
		{"mapping", "license: { token: abc.def, public_keys: [" + key + "] }", License{Token: "abc.def", PublicKeys: []string{key}}},
		{"mapping with none", "license: { token: none, public_keys: [" + key + "] }", License{None: true, PublicKeys: []string{key}}},
	}
	for _, c := range cases {
		cfg, err := Parse([]byte(c.yaml), env(map[string]string{"LIC": "tok.sig"}))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		got := cfg.License
		if got.Token != c.want.Token || got.None != c.want.None || strings.Join(got.PublicKeys, ",") != strings.Join(c.want.PublicKeys, ",") {
			t.Errorf("%s: license = %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestDerivePublicURL(t *testing.T) {
	t.Parallel()
	cases := []struct{ set, listen, want string }{
		{"", ":9000", "http://localhost:9000"},
		{"", "0.0.0.0:9000", "http://localhost:9000"},
		{"", "[::]:9000", "http://localhost:9000"},
		{"", "127.0.0.1:8081", "http://127.0.0.1:8081"},
		{"", "[::1]:8081", "http://[::1]:8081"},
		{"", "auth.internal:80", "http://auth.internal:80"},
		{"https://auth.example.com", ":9000", "https://auth.example.com"}, // explicit wins
	}
	for _, c := range cases {
		cfg := Defaults()
		cfg.PublicURL = c.set
		if err := cfg.DerivePublicURL(c.listen); err != nil || cfg.PublicURL != c.want {
			t.Errorf("%q on %q: %q, %v; want %q", c.set, c.listen, cfg.PublicURL, err, c.want)
		}
	}
	cfg := Defaults()
	if err := cfg.DerivePublicURL("no-port"); err == nil {
		t.Error("a listen address without a port was accepted")
	}
}

func TestLoadResolvesPathsAgainstTheFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "conf", "authhost.yaml")
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		t.Fatal(err)
	}
	abs := filepath.Join(dir, "abs-cache")
	if err := os.WriteFile(file, []byte("plugins_dir: ../plugins\ndata_dir: data\ncache_dir: "+abs+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(file, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PluginsDir != filepath.Join(dir, "plugins") || cfg.DataDir != filepath.Join(dir, "conf", "data") || cfg.CacheDir != abs {
		t.Fatalf("plugins_dir=%q data_dir=%q cache_dir=%q", cfg.PluginsDir, cfg.DataDir, cfg.CacheDir)
	}
	// Keys the file does not set keep their defaults, relative to the
	// working directory.
	if err := os.WriteFile(file, []byte("mode: development\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if cfg, err = Load(file, env(nil)); err != nil || cfg.PluginsDir != "./plugins" || cfg.DataDir != "./data" {
		t.Fatalf("defaults moved: %+v, %v", cfg, err)
	}
}

func TestParseThrottle(t *testing.T) {
	t.Parallel()
	cfg, err := Parse([]byte(`
throttle:
  sign_in_per_account_ip: 5
  sign_in_per_account: 50
  sign_in_account_window: 2h
  sign_ups_per_ip: 3
  password_hashes: 2
  password_hash_wait: 100ms
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Throttle{SignInPerAccountIP: 5, SignInPerAccount: 50, SignInAccountWindow: 2 * time.Hour, SignUpsPerIP: 3,
		PasswordHashes: 2, PasswordHashWait: 100 * time.Millisecond}
	if cfg.Throttle != want {
		t.Fatalf("throttle = %+v, want %+v", cfg.Throttle, want)
	}
	for _, bad := range []string{"throttle: { password_hashes: -1 }", "throttle: { sign_up_window: -1s }", "throttle: { sign_in_per_ip: -5 }"} {
		if _, err := Parse([]byte(bad), env(nil)); err == nil || !strings.Contains(err.Error(), "throttle:") {
			t.Errorf("%s: err = %v, want a throttle error", bad, err)
		}
	}
}

func TestMemorySettings(t *testing.T) {
	tests := []struct {
		yaml     string
		limitMiB int
		idleMS   int
	}{
		{"plugins: { x: {} }", 0, 0},
		{"memory_limit_mib: 96\nplugins: { x: { limits: { idle_timeout_ms: 500 } } }", 96, 500},
		{"memory_limit_mib: -1\nplugins: { x: {} }", -1, 0},
	}
	for _, tt := range tests {
		cfg, err := Parse([]byte(tt.yaml), env(nil))
		if err != nil {
			t.Fatalf("%q: %v", tt.yaml, err)
		}
		if cfg.MemoryLimitMiB != tt.limitMiB || cfg.Plugins["x"].Limits.IdleTimeoutMS != tt.idleMS {
			t.Errorf("%q: memory_limit_mib %d, idle_timeout_ms %d", tt.yaml, cfg.MemoryLimitMiB, cfg.Plugins["x"].Limits.IdleTimeoutMS)
		}
	}
}
