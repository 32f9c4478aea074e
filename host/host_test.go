package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/auth"
)

var ctx = context.Background()

func hostcall(p *Plugin, fn string, req any, out any) error {
	return p.Call(ctx, "hostcall", map[string]any{"fn": fn, "req": req}, out)
}

func callNoop(p *Plugin) error {
	_, err := p.CallRaw(ctx, "noop", nil)
	return err
}

func TestLoadValidPlugin(t *testing.T) {
	t.Parallel()
	f, errs := newFixture(t, nil, "echo")
	if len(errs) > 0 {
		t.Fatalf("load errors: %v", errs)
	}
	ps := f.m.Plugins()
	if len(ps) != 1 {
		t.Fatalf("got %d plugins, want 1", len(ps))
	}
	p := ps[0]
	d := p.Describe()
	if p.Name() != "echo" || d.ABI != "1.0" || d.Version != "0.1.0" || !slices.Equal(d.Capabilities, []abi.Capability{abi.CapRBAC}) {
		t.Errorf("describe = %+v", d)
	}
	if filepath.Base(p.File()) != "echo.wasm" {
		t.Errorf("File() = %q", p.File())
	}
	for _, e := range []string{abi.ExportDescribe, "noop", "echo", abi.ExportRBACRoles, abi.ExportRBACPermissions, "hostcall"} {
		if !slices.Contains(p.Exports(), e) {
			t.Errorf("Exports() lacks %q: %v", e, p.Exports())
		}
	}
	if p.RBAC() == nil {
		t.Error("RBAC() = nil for a provider declaring rbac")
	}
	if p.SSO() != nil || p.User() != nil || p.Session() != nil || p.Credentials() != nil || p.ACL() != nil || p.Audit() != nil || p.Webhook() != nil {
		t.Error("undeclared capability has an adapter")
	}
	st := p.Stats()
	if !st.Healthy || st.InstancesCreated != 1 || st.Instances != 1 || st.PoolSize < 1 {
		t.Errorf("stats after load = %+v, want healthy with one warm instance", st)
	}
	if f.m.Plugin("nope") != nil {
		t.Error("Plugin(nope) != nil")
	}
}

// TestHostilePlugins loads every test plugin into one manager: the bad ones
// are refused with clear errors, the hostile ones fail their calls, and the
// good one keeps serving after each.
func TestHostilePlugins(t *testing.T) {
	t.Parallel()
	f, errs := newFixture(t, func(c *Config) {
		c.Plugins["loop"] = PluginConfig{Limits: Limits{CallTimeout: 300 * time.Millisecond}}
		c.Plugins["membomb"] = PluginConfig{Limits: Limits{MaxMemoryMiB: 48, CallTimeout: time.Minute}}
	}, "echo", "loop", "membomb", "panic", "garbage", "noexport", "wrongabi", "newerminor")

	dir := f.m.cfg.PluginsDir
	wantErrs := []string{
		filepath.Join(dir, "newerminor.wasm") + ": abi 1.9 is newer than this host's abi " + abi.Version + ": upgrade authhost or rebuild the provider against a PDK for abi " + abi.Version,
		filepath.Join(dir, "noexport.wasm") + `: capability "sso" declared but export "sso_callback" is missing`,
		filepath.Join(dir, "wrongabi.wasm") + ": abi 2.0 is not supported by this host (abi " + abi.Version + "): rebuild the provider against a PDK for abi 1.x",
	}
	var got []string
	for _, err := range errs {
		got = append(got, err.Error())
	}
	if !slices.Equal(got, wantErrs) {
		t.Errorf("load errors:\n got %q\nwant %q", got, wantErrs)
	}
	var names []string
	for _, p := range f.m.Plugins() {
		names = append(names, p.Name())
	}
	if want := []string{"echo", "garbage", "loop", "membomb", "panic"}; !slices.Equal(names, want) {
		t.Fatalf("loaded %v, want %v", names, want)
	}

	echo := f.plugin(t, "echo")
	user := auth.User{ID: "u1"}
	cases := []struct {
		plugin   string
		call     func(p *Plugin) error
		wantIs   error
		wantCode auth.Code
		discard  bool
	}{
		{"loop", func(p *Plugin) error { _, err := p.RBAC().Roles(ctx, user); return err }, ErrTimeout, auth.CodeUnavailable, true},
		{"membomb", func(p *Plugin) error { _, err := p.RBAC().Roles(ctx, user); return err }, ErrInstanceFailed, auth.CodeInternal, true},
		{"panic", func(p *Plugin) error { _, err := p.RBAC().Roles(ctx, user); return err }, ErrInstanceFailed, auth.CodeInternal, true},
		// A second panic must hit a fresh instance, not a corrupted one.
		{"panic", func(p *Plugin) error { _, err := p.RBAC().Roles(ctx, user); return err }, ErrInstanceFailed, auth.CodeInternal, true},
		{"garbage", func(p *Plugin) error { _, err := p.RBAC().Roles(ctx, user); return err }, ErrMalformedOutput, auth.CodeInternal, false},
		{"garbage", func(p *Plugin) error { _, err := p.RBAC().Permissions(ctx, user); return err }, ErrMalformedOutput, auth.CodeInternal, false},
	}
	for i, tc := range cases {
		p := f.plugin(t, tc.plugin)
		before := p.Stats()
		err := tc.call(p)
		if !errors.Is(err, tc.wantIs) {
			t.Errorf("case %d %s: err = %v, want %v", i, tc.plugin, err, tc.wantIs)
		}
		if c := auth.CodeOf(err); c != tc.wantCode {
			t.Errorf("case %d %s: code = %q, want %q", i, tc.plugin, c, tc.wantCode)
		}
		if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("plugin %q", tc.plugin)) {
			t.Errorf("case %d: error does not name the plugin: %v", i, err)
		}
		after := p.Stats()
		if got := after.Discards - before.Discards; (got == 1) != tc.discard {
			t.Errorf("case %d %s: discards +%d, want discard=%v", i, tc.plugin, got, tc.discard)
		}
		if err := callNoop(echo); err != nil {
			t.Errorf("after case %d: echo noop: %v", i, err)
		}
	}
	if _, err := f.plugin(t, "membomb").RBAC().Permissions(ctx, user); err != nil {
		t.Errorf("membomb permissions after the bomb: %v", err)
	}
	if d := echo.Stats().Discards; d != 0 {
		t.Errorf("echo discards = %d, want 0", d)
	}
}

func TestDuplicateName(t *testing.T) {
	t.Parallel()
	f, errs := newFixture(t, func(c *Config) {
		copyWasm(t, wasmPath(t, "echo"), filepath.Join(c.PluginsDir, "zz-copy.wasm"))
	}, "echo")
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), `zz-copy.wasm: provider name "echo" is already used by `) {
		t.Fatalf("errs = %v", errs)
	}
	if len(f.m.Plugins()) != 1 {
		t.Fatalf("plugins = %d", len(f.m.Plugins()))
	}
}

func TestPoolReuseAndDiscard(t *testing.T) {
	t.Parallel()
	f, errs := newFixture(t, func(c *Config) { c.Defaults.PoolSize = 2 }, "echo")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p := f.plugin(t, "echo")
	for range 10 {
		if err := callNoop(p); err != nil {
			t.Fatal(err)
		}
	}
	if st := p.Stats(); st.InstancesCreated != 1 || st.Discards != 0 || st.Calls != 10 {
		t.Fatalf("after sequential calls: %+v, want 1 instance reused", st)
	}
	// A business error keeps the instance.
	err := p.Call(ctx, "fail", nil, nil)
	if !errors.Is(err, auth.ErrInvalidCredentials) || err.Error() != "invalid_credentials: wrong password" {
		t.Fatalf("fail: %v", err)
	}
	// ... and is an answer, not a fault: the errors counter stays 0.
	if st := p.Stats(); st.InstancesCreated != 1 || st.Discards != 0 || st.Errors != 0 {
		t.Fatalf("after business error: %+v", st)
	}
	// A panic discards it; its replacement is created in the background,
	// before any further call, and the next call reuses it.
	if err := p.Call(ctx, "crash", nil, nil); !errors.Is(err, ErrInstanceFailed) {
		t.Fatalf("crash: %v", err)
	}
	if st := p.Stats(); st.Discards != 1 || st.Errors != 1 {
		t.Fatalf("after crash: %+v (a crash is one error)", st)
	}
	waitStats(t, p, func(st Stats) bool { return st.InstancesCreated == 2 && st.Instances == 1 })
	if err := callNoop(p); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.InstancesCreated != 2 || st.Instances != 1 || !st.Healthy {
		t.Fatalf("after recovery: %+v", st)
	}
	if err := p.Call(ctx, abi.ExportSSOLoginURL, nil, nil); !errors.Is(err, auth.ErrNotSupported) {
		t.Fatalf("absent export: %v, want not supported", err)
	}
}

// waitStats waits (up to 10 s) until ok holds for p's stats.
func waitStats(t *testing.T, p *Plugin, ok func(Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok(p.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("stats never reached the expected state: %+v", p.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPoolWarm(t *testing.T) {
	t.Parallel()
	f, errs := newFixture(t, func(c *Config) {
		c.Defaults.PoolSize = 3
		c.Defaults.PoolWarm = 2
	}, "echo")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p := f.plugin(t, "echo")
	// Pre-warmed at load, with no call made.
	waitStats(t, p, func(st Stats) bool { return st.Instances == 2 && st.InstancesCreated == 2 })
	if st := p.Stats(); st.Calls != 0 {
		t.Fatalf("calls were made to warm the pool: %+v", st)
	}
	// Two concurrent calls find two ready instances: nothing is created.
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.CallRaw(ctx, "noop", nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if st := p.Stats(); st.InstancesCreated > 3 || st.Instances > 3 {
		t.Fatalf("after two calls: %+v", st)
	}
}

// TestPoolWarmConcurrentDiscards crashes instances from many goroutines
// while others call, and checks the pool's counters: never more than
// PoolSize instances alive, and back to PoolWarm once the dust settles.
func TestPoolWarmConcurrentDiscards(t *testing.T) {
	t.Parallel()
	f, errs := newFixture(t, func(c *Config) {
		c.Defaults.PoolSize = 3
		c.Defaults.PoolWarm = 2
		c.Health.FailureThreshold = 1 << 20 // keep calling through the crashes
	}, "echo")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p := f.plugin(t, "echo")
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 15 {
				export := "noop"
				if (g+i)%4 == 0 {
					export = "crash"
				}
				_, err := p.CallRaw(ctx, export, nil)
				if (export == "crash") != (err != nil) {
					t.Errorf("%s: %v", export, err)
				}
				if live, _ := p.pool.sizes(); live > 3+1 { // +1: the filler's reservation
					t.Errorf("%d instances alive, PoolSize 3", live)
				}
			}
		}()
	}
	wg.Wait()
	waitStats(t, p, func(st Stats) bool { return st.Instances >= 2 && st.Instances <= 3 && st.InUse == 0 })
}

func TestEchoAndConfig(t *testing.T) {
	t.Parallel()
	f, errs := newFixture(t, func(c *Config) {
		c.Plugins["echo"] = PluginConfig{
			Config: json.RawMessage(`{"roles":["admin","viewer"],"permissions":["users:read"]}`),
			Limits: Limits{MaxOutputBytes: 4096},
		}
	}, "echo", "echob")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p := f.plugin(t, "echo")
	in := benchPayload()
	var out payload
	if err := p.Call(ctx, "echo", in, &out); err != nil {
		t.Fatal(err)
	}
	if !out.CreatedAt.Equal(in.CreatedAt) || out.Email != in.Email || !slices.Equal(out.Roles, in.Roles) || out.Labels["team"] != "core" {
		t.Errorf("echo = %+v, want %+v", out, in)
	}
	roles, err := p.RBAC().Roles(ctx, auth.User{ID: "u1"})
	if err != nil || !slices.Equal(roles, []string{"admin", "viewer"}) {
		t.Errorf("Roles = %v, %v; want config roles", roles, err)
	}
	if roles, _ := f.plugin(t, "echob").RBAC().Roles(ctx, auth.User{ID: "u1"}); len(roles) != 0 {
		t.Errorf("echob sees echo's config: %v", roles)
	}
	for _, tc := range []struct {
		id   string
		want auth.Code
	}{{"u1", ""}, {"", auth.CodeInvalidRequest}, {"unknown", auth.CodeNotFound}, {"weird", auth.CodeInternal}} {
		perms, err := p.RBAC().Permissions(ctx, auth.User{ID: tc.id})
		if c := auth.CodeOf(err); c != tc.want {
			t.Errorf("Permissions(%q): code %q (%v), want %q", tc.id, c, err, tc.want)
		}
		if tc.want == "" && !slices.Equal(perms, []string{"users:read"}) {
			t.Errorf("Permissions = %v", perms)
		}
	}
	// Output above MaxOutputBytes is refused.
	if err := p.Call(ctx, "big", 10000, nil); !errors.Is(err, ErrOutputTooLarge) {
		t.Errorf("big output: %v", err)
	}
	var s string
	if err := p.Call(ctx, "big", 100, &s); err != nil || len(s) != 100 {
		t.Errorf("small output: %d, %v", len(s), err)
	}
}

// TestGuestEchoStages checks the stage exports BenchmarkGuestEcho measures:
// each reports that its stage ran on the payload ("1"), refuses a payload
// it cannot decode ("0"), and echo_bytes returns its input unchanged.
func TestGuestEchoStages(t *testing.T) {
	t.Parallel()
	f, errs := newFixture(t, nil, "echo")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p := f.plugin(t, "echo")
	raw, _ := json.Marshal(benchPayload())
	for _, tc := range []struct {
		export string
		in     string
		want   string
	}{
		{"echo_input", string(raw), "1"},
		{"echo_decode", string(raw), "1"},
		{"echo_decode", `{"id":1}`, "0"},
		{"echo_decode", `null`, "0"},
		{"echo_marshal", string(raw), "1"},
		{"echo_marshal", `{"created_at":"yesterday"}`, "0"},
		{"echo_bytes", string(raw), string(raw)},
		{"echo_bytes", "\x00\u202e", "\x00\u202e"},
	} {
		out, err := p.CallRaw(ctx, tc.export, []byte(tc.in))
		if err != nil || string(out) != tc.want {
			t.Errorf("%s(%.20q) = %q, %v; want %q", tc.export, tc.in, out, err, tc.want)
		}
	}
}

func TestRealRandomAndClock(t *testing.T) {
	t.Parallel()
	f, errs := newFixture(t, nil, "echo")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p := f.plugin(t, "echo")
	type ent struct {
		Random string `json:"random"`
		Unix   int64  `json:"unix"`
	}
	var a, b ent
	if err := p.Call(ctx, "entropy", nil, &a); err != nil {
		t.Fatal(err)
	}
	_ = p.Call(ctx, "crash", nil, nil) // next call runs on a fresh instance
	if err := p.Call(ctx, "entropy", nil, &b); err != nil {
		t.Fatal(err)
	}
	if a.Random == b.Random {
		t.Errorf("two fresh instances produced the same random bytes %s: deterministic rand", a.Random)
	}
	if d := time.Since(time.Unix(a.Unix, 0)); d < -time.Hour || d > time.Hour {
		t.Errorf("guest clock is %v, far from now", time.Unix(a.Unix, 0))
	}
}

func TestKV(t *testing.T) {
	t.Parallel()
	f, errs := newFixture(t, func(c *Config) {
		c.Plugins["echo"] = PluginConfig{Limits: Limits{MaxKVKeyBytes: 16, MaxKVValueBytes: 64}}
	}, "echo", "echob")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	a, b := f.plugin(t, "echo"), f.plugin(t, "echob")
	get := func(p *Plugin, key string) abi.KVGetResult {
		t.Helper()
		var r abi.KVGetResult
		if err := hostcall(p, abi.HostKVGet, abi.KVGetRequest{Key: key}, &r); err != nil {
			t.Fatalf("kv_get %s: %v", key, err)
		}
		return r
	}
	if err := hostcall(a, abi.HostKVSet, abi.KVSetRequest{Key: "k", Value: []byte("v1")}, nil); err != nil {
		t.Fatal(err)
	}
	if r := get(a, "k"); !r.Found || string(r.Value) != "v1" {
		t.Errorf("get k = %+v", r)
	}
	if r := get(b, "k"); r.Found {
		t.Errorf("echob read echo's key: %+v", r)
	}
	if r := get(b, "../echo/kv/k"); r.Found {
		t.Errorf("echob escaped its prefix: %+v", r)
	}
	if keys := f.store.keys(); !slices.Equal(keys, []string{"plugin/echo/kv/k", "plugin/echo/kvmeta/k", "plugin/echo/kvusage"}) {
		t.Errorf("store keys = %v", keys)
	}
	// TTL: the store expires the key.
	if err := hostcall(a, abi.HostKVSet, abi.KVSetRequest{Key: "t", Value: []byte("x"), TTLSeconds: 60}, nil); err != nil {
		t.Fatal(err)
	}
	if r := get(a, "t"); !r.Found {
		t.Error("ttl key missing before expiry")
	}
	f.store.clock.Advance(61 * time.Second)
	if r := get(a, "t"); r.Found {
		t.Error("ttl key still there after expiry")
	}
	if err := hostcall(a, abi.HostKVDelete, abi.KVDeleteRequest{Key: "k"}, nil); err != nil {
		t.Fatal(err)
	}
	if r := get(a, "k"); r.Found {
		t.Error("deleted key still there")
	}
	for _, tc := range []struct {
		name string
		fn   string
		req  any
	}{
		{"empty key", abi.HostKVGet, abi.KVGetRequest{}},
		{"long key", abi.HostKVSet, abi.KVSetRequest{Key: strings.Repeat("k", 17), Value: []byte("v")}},
		{"big value", abi.HostKVSet, abi.KVSetRequest{Key: "k", Value: make([]byte, 65)}},
		{"negative ttl", abi.HostKVSet, abi.KVSetRequest{Key: "k", Value: []byte("v"), TTLSeconds: -1}},
		{"bad json", abi.HostKVGet, "not an object"},
	} {
		if err := hostcall(a, tc.fn, tc.req, nil); auth.CodeOf(err) != auth.CodeInvalidRequest {
			t.Errorf("%s: %v, want invalid_request", tc.name, err)
		}
	}
	if st := a.Stats(); st.Discards != 0 {
		t.Errorf("kv errors discarded instances: %+v", st)
	}
}

func TestHTTPDo(t *testing.T) {
	t.Parallel()
	var srvURL string
	mux := http.NewServeMux()
	mux.HandleFunc("/multi", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["X-Multi"] = []string{"a", "b"}
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		fmt.Fprintf(w, "%s %s %s", r.Method, strings.Join(r.Header.Values("X-Req"), "|"), r.Header.Get("Authorization"))
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { w.Write(make([]byte, 5000)) })
	mux.HandleFunc("/redirect-ok", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, srvURL+"/multi", http.StatusFound) })
	mux.HandleFunc("/redirect-bad", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, strings.Replace(srvURL, "127.0.0.1", "localhost", 1)+"/multi", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	srvURL = srv.URL
	// A port with nothing listening: transport error.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + l.Addr().String() + "/"
	l.Close()

	f, errs := newFixture(t, func(c *Config) {
		c.Plugins["echo"] = PluginConfig{AllowedHosts: []string{"127.0.0.1", "*.example.test"}, AllowPrivateNetworks: true, Limits: Limits{MaxHTTPBodyBytes: 1024}}
	}, "echo")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p := f.plugin(t, "echo")

	var res abi.HTTPResponse
	err = hostcall(p, abi.HostHTTPDo, abi.HTTPRequest{Method: "POST", URL: srv.URL + "/multi",
		Headers: map[string][]string{"X-Req": {"one", "two"}, "Authorization": {"Bearer t"}}}, &res)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 200 || string(res.Body) != "POST one|two Bearer t" {
		t.Errorf("response = %d %q", res.Status, res.Body)
	}
	if got := res.Headers["X-Multi"]; !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("X-Multi = %q, want both values", got)
	}
	if got := res.Headers["Set-Cookie"]; !slices.Equal(got, []string{"a=1", "b=2"}) {
		t.Errorf("Set-Cookie = %q", got)
	}
	res = abi.HTTPResponse{}
	if err := hostcall(p, abi.HostHTTPDo, abi.HTTPRequest{URL: srv.URL + "/redirect-ok"}, &res); err != nil || res.Status != 200 {
		t.Errorf("redirect within allow-list: %d, %v", res.Status, err)
	}

	cases := []struct {
		name, url string
		code      auth.Code
		msg       string
	}{
		{"disallowed host", strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/multi", auth.CodeForbidden, `"localhost" is not in the allow-list of plugin "echo"`},
		{"redirect to disallowed host", srv.URL + "/redirect-bad", auth.CodeForbidden, `redirect to http://localhost`},
		{"oversized body", srv.URL + "/big", auth.CodeUnavailable, "response body exceeds 1024 bytes"},
		{"transport error", deadURL, auth.CodeUnavailable, "connection refused"},
		{"not http", "file:///etc/passwd", auth.CodeForbidden, "scheme"},
		{"apex of glob", "http://example.test/", auth.CodeForbidden, "not in the allow-list"},
	}
	for _, tc := range cases {
		err := hostcall(p, abi.HostHTTPDo, abi.HTTPRequest{URL: tc.url}, nil)
		if auth.CodeOf(err) != tc.code || err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: err = %v, want code %s containing %q", tc.name, err, tc.code, tc.msg)
		}
	}
	if st := p.Stats(); st.Discards != 0 || !st.Healthy || st.InstancesCreated != 1 {
		t.Errorf("http errors hurt the instance: %+v", st)
	}
}

// TestHTTPDoHungUpstream: an upstream that never answers becomes an
// "unavailable" error shortly before the call deadline, even when the HTTP
// timeout is longer, so the plugin returns an error instead of the deadline
// killing its instance.
func TestHTTPDoHungUpstream(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	f, errs := newFixture(t, func(c *Config) {
		c.Plugins["echo"] = PluginConfig{AllowedHosts: []string{"127.0.0.1"}, AllowPrivateNetworks: true,
			Limits: Limits{CallTimeout: 1500 * time.Millisecond, HTTPTimeout: time.Minute}}
	}, "echo")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p := f.plugin(t, "echo")
	err := hostcall(p, abi.HostHTTPDo, abi.HTTPRequest{URL: srv.URL + "/hang"}, nil)
	if auth.CodeOf(err) != auth.CodeUnavailable || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("hung upstream: err = %v, want unavailable naming the deadline", err)
	}
	if st := p.Stats(); st.Discards != 0 || !st.Healthy {
		t.Errorf("a hung upstream cost an instance: %+v", st)
	}
}

func TestHostMatcher(t *testing.T) {
	t.Parallel()
	m := newHostMatcher([]string{"api.workos.com", "*.example.com", "Mixed.Case"})
	for host, want := range map[string]bool{
		"api.workos.com": true, "API.WorkOS.com": true, "evil-api.workos.com": false, "workos.com": false,
		"a.example.com": true, "a.b.example.com": true, "example.com": false, "aexample.com": false,
		"mixed.case": true, "": false, "api.workos.com.": true,
	} {
		if got := m.allows(host); got != want {
			t.Errorf("allows(%q) = %v, want %v", host, got, want)
		}
	}
	if newHostMatcher(nil).allows("localhost") {
		t.Error("empty allow-list allows a host")
	}
}

func TestLogAndGuestOutput(t *testing.T) {
	t.Parallel()
	f, errs := newFixture(t, func(c *Config) { c.Defaults.MaxLogMessageBytes = 32 }, "echo")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p := f.plugin(t, "echo")
	if err := hostcall(p, abi.HostLog, abi.LogRequest{Level: "warn", Message: "hello from the guest", Attrs: map[string]any{"user": "u1"}}, nil); err != nil {
		t.Fatal(err)
	}
	recs := f.logs.find("hello from the guest")
	if len(recs) != 1 || recs[0].Attrs["plugin"] != "echo" || recs[0].Attrs["guest.user"] != "u1" || recs[0].Level.String() != "WARN" {
		t.Errorf("log records = %+v", recs)
	}
	if err := hostcall(p, abi.HostLog, abi.LogRequest{Level: "info", Message: "long " + strings.Repeat("x", 100)}, nil); err != nil {
		t.Fatal(err)
	}
	if recs := f.logs.find("long xxx"); len(recs) != 1 || len(recs[0].Msg) > 32+len("…(truncated)") {
		t.Errorf("long message not truncated: %+v", recs)
	}
	if err := hostcall(p, abi.HostLog, abi.LogRequest{Level: "shout", Message: "x"}, nil); auth.CodeOf(err) != auth.CodeInvalidRequest {
		t.Errorf("bad level: %v", err)
	}
	if err := p.Call(ctx, "stdout", nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, stream := range []string{"stdout", "stderr"} {
		recs := f.logs.find("hello from echo " + stream)
		if len(recs) != 1 || recs[0].Attrs["stream"] != stream || recs[0].Attrs["plugin"] != "echo" {
			t.Errorf("guest %s records = %+v", stream, recs)
		}
	}
}

func TestConcurrentCalls(t *testing.T) {
	t.Parallel()
	f, errs := newFixture(t, func(c *Config) { c.Defaults.PoolSize = 2 }, "echo")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p := f.plugin(t, "echo")
	in := benchPayload()
	var wg sync.WaitGroup
	errc := make(chan error, 16*25)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				want := in
				want.Logins = g*1000 + i
				var got payload
				if err := p.Call(ctx, "echo", want, &got); err != nil {
					errc <- err
					return
				}
				if got.Logins != want.Logins {
					errc <- fmt.Errorf("got logins %d, want %d", got.Logins, want.Logins)
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	st := p.Stats()
	if st.InstancesCreated > 2 || st.InUse != 0 || st.Discards != 0 || st.Calls != 16*25 {
		t.Errorf("stats = %+v, want at most 2 instances", st)
	}
	if st.P50 <= 0 || st.P99 < st.P50 {
		t.Errorf("latency p50=%v p99=%v", st.P50, st.P99)
	}
}

func TestPoolWaitBoundedByContext(t *testing.T) {
	t.Parallel()
	f, errs := newFixture(t, func(c *Config) {
		c.Defaults.PoolSize = 1
		c.Plugins["loop"] = PluginConfig{Limits: Limits{CallTimeout: 2 * time.Second}}
	}, "loop")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p := f.plugin(t, "loop")
	started := make(chan struct{})
	done := make(chan error)
	go func() {
		close(started)
		_, err := p.RBAC().Roles(ctx, auth.User{ID: "u"})
		done <- err
	}()
	<-started
	for p.Stats().InUse == 0 {
		time.Sleep(time.Millisecond)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err := p.RBAC().Roles(cctx, auth.User{ID: "u"})
	if !errors.Is(err, context.Canceled) || auth.CodeOf(err) != auth.CodeUnavailable {
		t.Errorf("waiting call: %v, want canceled/unavailable", err)
	}
	if err := <-done; !errors.Is(err, ErrTimeout) {
		t.Errorf("loop call: %v", err)
	}
}

func TestUnhealthyAndRecovery(t *testing.T) {
	t.Parallel()
	f, errs := newFixture(t, func(c *Config) {
		c.Health = Health{FailureThreshold: 3, Window: time.Hour, Backoff: time.Minute, MaxBackoff: 10 * time.Minute}
	}, "echo")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p := f.plugin(t, "echo")
	for i := range 3 {
		if err := p.Call(ctx, "crash", nil, nil); !errors.Is(err, ErrInstanceFailed) {
			t.Fatalf("crash %d: %v", i, err)
		}
	}
	st := p.Stats()
	if st.Healthy || st.UnhealthyUntil.IsZero() {
		t.Fatalf("after 3 crashes: %+v, want unhealthy", st)
	}
	// The pool replaces the discarded warm instance in the background;
	// that one is not the unhealthy plugin's doing.
	for st.InstancesCreated-st.Discards-st.Reaped-st.Surplus < int64(st.PoolWarm) {
		time.Sleep(time.Millisecond)
		st = p.Stats()
	}
	created := st.InstancesCreated
	err := callNoop(p)
	if !errors.Is(err, ErrUnhealthy) || auth.CodeOf(err) != auth.CodeUnavailable {
		t.Fatalf("call while unhealthy: %v", err)
	}
	if _, err := p.RBAC().Roles(ctx, auth.User{ID: "u"}); !errors.Is(err, auth.ErrUnavailable) {
		t.Fatalf("adapter while unhealthy: %v", err)
	}
	if p.Stats().InstancesCreated != created {
		t.Error("an unhealthy plugin created instances")
	}
	// Probation after the backoff: one more failure trips it again, longer.
	f.clock.Advance(61 * time.Second)
	if err := p.Call(ctx, "crash", nil, nil); !errors.Is(err, ErrInstanceFailed) {
		t.Fatalf("probation crash: %v", err)
	}
	st = p.Stats()
	if st.Healthy || st.UnhealthyUntil.Sub(f.clock.Now()) != 2*time.Minute {
		t.Fatalf("after probation failure: %+v, want unhealthy for 2m", st)
	}
	// A success after the backoff makes it healthy again.
	f.clock.Advance(2*time.Minute + time.Second)
	if err := callNoop(p); err != nil {
		t.Fatalf("recovery call: %v", err)
	}
	if st := p.Stats(); !st.Healthy || st.Failures != 0 {
		t.Fatalf("after recovery: %+v", st)
	}
	// And the failure count starts over.
	for range 2 {
		_ = p.Call(ctx, "crash", nil, nil)
	}
	if !p.Stats().Healthy {
		t.Error("2 failures after recovery marked it unhealthy")
	}
}

func TestCloseManager(t *testing.T) {
	t.Parallel()
	f, errs := newFixture(t, nil, "echo")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p := f.plugin(t, "echo")
	if err := f.m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := callNoop(p); !errors.Is(err, ErrClosed) {
		t.Errorf("call after close: %v", err)
	}
	if len(f.m.Plugins()) != 0 {
		t.Error("plugins after close")
	}
}

func TestReload(t *testing.T) {
	t.Parallel()
	f, errs := newFixture(t, nil, "echo")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	old := f.plugin(t, "echo")
	copyWasm(t, wasmPath(t, "echob"), filepath.Join(f.m.cfg.PluginsDir, "echob.wasm"))
	ps, errs := f.m.Load(ctx)
	if len(errs) > 0 || len(ps) != 2 {
		t.Fatalf("reload: %d plugins, %v", len(ps), errs)
	}
	if f.plugin(t, "echo") != old {
		t.Error("reload replaced the unchanged plugin")
	}
	if err := callNoop(old); err != nil {
		t.Errorf("unchanged plugin after reload: %v", err)
	}
	if err := callNoop(f.plugin(t, "echob")); err != nil {
		t.Error(err)
	}
}

func TestInspect(t *testing.T) {
	t.Parallel()
	cases := []struct {
		plugin   string
		name     string
		problems []string
		detected []abi.Capability
	}{
		{"echo", "echo", nil, []abi.Capability{abi.CapRBAC}},
		{"noexport", "noexport", []string{`capability "sso" declared but export "sso_callback" is missing`}, nil},
		{"wrongabi", "wrongabi", []string{"abi 2.0 is not supported by this host (abi " + abi.Version + "): rebuild the provider against a PDK for abi 1.x"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.plugin, func(t *testing.T) {
			t.Parallel()
			rep, err := Inspect(ctx, wasmPath(t, tc.plugin), testCacheDir)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Name != tc.name || rep.Version != "0.1.0" || !slices.Contains(rep.Exports, abi.ExportDescribe) {
				t.Errorf("report = %+v", rep)
			}
			if !slices.Equal(rep.Problems, tc.problems) && !(len(rep.Problems) == 0 && tc.problems == nil) {
				t.Errorf("problems = %q, want %q", rep.Problems, tc.problems)
			}
			if rep.OK() != (tc.problems == nil) {
				t.Errorf("OK() = %v", rep.OK())
			}
			if tc.detected != nil && !slices.Equal(rep.Detected, tc.detected) {
				t.Errorf("detected = %v, want %v", rep.Detected, tc.detected)
			}
			raw, err := json.Marshal(rep)
			if err != nil || !strings.Contains(string(raw), `"problems":[`) {
				t.Errorf("json: %s, %v", raw, err)
			}
		})
	}
	if _, err := Inspect(ctx, filepath.Join(t.TempDir(), "missing.wasm"), ""); err == nil {
		t.Error("Inspect of a missing file succeeded")
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no dir", Config{}, "PluginsDir is required"},
		{"bad name", Config{PluginsDir: "x", Plugins: map[string]PluginConfig{"a/kv": {}}}, `plugin "a/kv": provider name "a/kv" is invalid`},
		{"bad json", Config{PluginsDir: "x", Plugins: map[string]PluginConfig{"a": {Config: json.RawMessage("{")}}}, "Config is not valid JSON"},
		{"bad host", Config{PluginsDir: "x", Plugins: map[string]PluginConfig{"a": {AllowedHosts: []string{"http://x"}}}}, `allowed host "http://x"`},
		{"negative", Config{PluginsDir: "x", Defaults: Limits{PoolSize: -1}}, "PoolSize must not be negative"},
		{"memory", Config{PluginsDir: "x", Plugins: map[string]PluginConfig{"a": {Limits: Limits{MaxMemoryMiB: 5000}}}}, "exceeds the 4096 MiB"},
		{"engine", Config{PluginsDir: "x", Engine: "wasmtime"}, "Engine"},
		{"engine case", Config{PluginsDir: "x", Engine: "Extism"}, "Engine"},
		{"engine look-alike", Config{PluginsDir: "x", Engine: "ext\u0456sm"}, "Engine"},
		{"engine control char", Config{PluginsDir: "x", Engine: "wazero\x00"}, "Engine"},
	}
	for _, tc := range cases {
		_, err := New(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	m, err := New(Config{PluginsDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.cfg.Engine != EngineWazero {
		t.Errorf("default engine = %q, want %q", m.cfg.Engine, EngineWazero)
	}
	if m.cfg.Defaults.MaxMemoryMiB != abi.DefaultMaxMemoryMiB || m.cfg.Defaults.CallTimeout != abi.DefaultCallTimeoutMS*time.Millisecond || m.cfg.Defaults.PoolSize < 1 {
		t.Errorf("defaults = %+v", m.cfg.Defaults)
	}
	if ps, errs := m.Load(ctx); len(ps) != 0 || len(errs) != 0 {
		t.Errorf("empty dir: %v %v", ps, errs)
	}
	m2, _ := New(Config{PluginsDir: filepath.Join(t.TempDir(), "missing")})
	if _, errs := m2.Load(ctx); len(errs) != 1 {
		t.Errorf("missing dir: %v", errs)
	}
}

func TestRequestFromHTTP(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest("GET", "/auth/me?x=1", nil)
	r.Header["x-lower"] = []string{"v"}
	r.Header.Add("Cookie", "a=1")
	r.RemoteAddr = "10.0.0.1:1234"
	got := RequestFromHTTP(r)
	if got.Method != "GET" || got.URL != "http://example.com/auth/me?x=1" || got.RemoteAddr != "10.0.0.1:1234" {
		t.Errorf("request = %+v", got)
	}
	if got.Headers["X-Lower"][0] != "v" || got.Headers["Cookie"][0] != "a=1" || got.Headers["Host"][0] != "example.com" {
		t.Errorf("headers = %v", got.Headers)
	}
	if z := RequestFromHTTP(nil); z.Method != "" {
		t.Errorf("nil request = %+v", z)
	}
}
