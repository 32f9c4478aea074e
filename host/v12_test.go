package host

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/auth"
)

// TestImplementsDrivesAdapters: a 1.2 provider exporting optional
// functions it does not list in implements gets no adapter for them, and
// the host never calls them; the 1.1 allcaps provider (no implements)
// keeps the old rule, exported = offered.
func TestImplementsDrivesAdapters(t *testing.T) {
	t.Parallel()
	f, errs := newFixture(t, nil, "v12", "allcaps")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p := f.plugin(t, "v12")
	if _, ok := p.Session().(auth.SessionLister); ok {
		t.Error("v12: session_list is exported but not implemented: no SessionLister")
	}
	if _, ok := p.Audit().(auth.AuditExporter); ok {
		t.Error("v12: audit exports not implemented: no AuditExporter")
	}
	if auth.SupportsPasswordReset(p.Credentials()) {
		t.Error("v12: password reset not implemented")
	}
	calls := p.Stats().Calls
	if err := p.Credentials().RequestPasswordReset(ctx, "a@example.test", "http://x"); !errors.Is(err, auth.ErrNotSupported) {
		t.Errorf("RequestPasswordReset = %v, want not_supported", err)
	}
	if p.Stats().Calls != calls {
		t.Error("an unimplemented export was called")
	}
	if p.Credentials().SignUpEnabled(ctx) {
		t.Error("SignUpEnabled: the implemented export answers false")
	}
	q, ok := p.Audit().(interface {
		Query(context.Context, auth.AuditFilter, auth.AuditPage) (*auth.AuditResult, error)
	})
	if !ok {
		t.Fatal("the audit adapter has no Query")
	}
	if r, err := q.Query(ctx, auth.AuditFilter{}, auth.AuditPage{}); err != nil || r.Total != 7 {
		t.Errorf("Query (implemented) = %+v, %v", r, err)
	}

	legacy := f.plugin(t, "allcaps")
	if _, ok := legacy.Session().(auth.SessionLister); !ok {
		t.Error("allcaps (abi 1.1): exported session_list is offered")
	}
	if _, ok := legacy.Audit().(auth.AuditExporter); !ok {
		t.Error("allcaps (abi 1.1): exported audit exports are offered")
	}
	if auth.SupportsPasswordReset(legacy.Credentials()) {
		t.Error("allcaps (abi 1.1): password reset is not exported")
	}
}

// TestSessionTransport: the host reads the session id where describe says
// (the cookie name from the plugin's config) and never calls
// session_id_from_request.
func TestSessionTransport(t *testing.T) {
	t.Parallel()
	f, errs := newFixture(t, func(c *Config) {
		c.Plugins["v12"] = PluginConfig{Config: json.RawMessage(`{"cookie":"my_sid"}`)}
	}, "v12")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p := f.plugin(t, "v12")
	sp := p.Session()
	calls := p.Stats().Calls
	cases := []struct {
		name    string
		headers map[string]string
		want    string
	}{
		{"none", nil, ""},
		{"cookie", map[string]string{"Cookie": "other=x; my_sid=s-u1"}, "s-u1"},
		{"cookie url-decoded", map[string]string{"Cookie": "my_sid=s-u1%2Ex"}, "s-u1.x"},
		{"default cookie name not used", map[string]string{"Cookie": "v12_sid=s-u1"}, ""},
		{"empty cookie falls through", map[string]string{"Cookie": "my_sid=", "Authorization": "Bearer s-b"}, "s-b"},
		{"cookie before bearer", map[string]string{"Cookie": "my_sid=s-c", "Authorization": "Bearer s-b"}, "s-c"},
		{"bearer any case", map[string]string{"Authorization": "bEaReR   s-b  "}, "s-b"},
		{"basic is not bearer", map[string]string{"Authorization": "Basic s-b"}, ""},
		{"empty bearer falls through", map[string]string{"Authorization": "Bearer ", "X-V12-Session": "s-h"}, "s-h"},
		{"header", map[string]string{"X-V12-Session": " s-h "}, "s-h"},
		{"oversized", map[string]string{"X-V12-Session": strings.Repeat("a", maxSessionIDBytes+1)}, ""},
		{"look-alike cookie name", map[string]string{"Cookie": "my_ѕid=s-u1"}, ""},
		{"null", map[string]string{"X-V12-Session": "null"}, "null"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/api/auth/me", nil)
		for k, v := range c.headers {
			r.Header.Set(k, v)
		}
		if got, err := sp.SessionIDFromRequest(ctx, r); err != nil || got != c.want {
			t.Errorf("%s: id = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
	if p.Stats().Calls != calls {
		t.Errorf("session_id_from_request was called %d times", p.Stats().Calls-calls)
	}
	if id, _ := sp.SessionIDFromRequest(ctx, nil); id != "" {
		t.Errorf("nil request: %q", id)
	}
}

func TestSessionTransportChecked(t *testing.T) {
	t.Parallel()
	_, errs := newFixture(t, func(c *Config) {
		c.Plugins["v12"] = PluginConfig{Config: json.RawMessage(`{"cookie":"bad name;"}`)}
	}, "v12")
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), `session_transport: cookie name "bad name;" is not a valid cookie name`) {
		t.Fatalf("load errors = %v", errs)
	}
	for _, bad := range []string{"", "a b", "a;b", "a\x00b", "ѕid", "a=b"} {
		if validToken(bad) {
			t.Errorf("validToken(%q)", bad)
		}
	}
}

// TestConfigure: authhost_configure runs at load with the operator's
// config; a refusal is a load error naming plugins.<name>.config.<field>.
func TestConfigure(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, config, err string
	}{
		{"valid", `{"min":3}`, ""},
		{"not configured", "", ""},
		{"refused", `{"min":-1}`, "plugins.v12.config.min: must not be negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f, errs := newFixture(t, func(cfg *Config) {
				if c.config != "" {
					cfg.Plugins["v12"] = PluginConfig{Config: json.RawMessage(c.config)}
				}
			}, "v12")
			if c.err == "" {
				if len(errs) > 0 {
					t.Fatal(errs)
				}
				d := f.plugin(t, "v12").Describe()
				if len(d.Demo) != 1 || d.Demo[0].Email != "demo@example.test" {
					t.Errorf("demo = %+v", d.Demo)
				}
				return
			}
			var ce *ConfigError
			if len(errs) != 1 || !errors.As(errs[0], &ce) || !strings.Contains(errs[0].Error(), c.err) || ce.Field != "min" {
				t.Fatalf("load errors = %v, want %q", errs, c.err)
			}
			if f.m.Plugin("v12") != nil {
				t.Error("a plugin that refused its config is loaded")
			}
		})
	}
}

// TestSessionCache: a session the plugin vouches for (cache_seconds) is
// validated from the host's cache without a plugin call, until a destroy;
// the operator's session_cache_seconds 0 turns the cache off.
func TestSessionCache(t *testing.T) {
	t.Parallel()
	zero := 0
	cases := []struct {
		name   string
		secs   *int
		cached bool
	}{
		{"default cap", nil, true},
		{"turned off", &zero, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f, errs := newFixture(t, func(cfg *Config) {
				cfg.Plugins["v12"] = PluginConfig{Config: json.RawMessage(`{"cache":60}`), SessionCacheSeconds: c.secs}
			}, "v12")
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			p := f.plugin(t, "v12")
			sp := p.Session()
			if _, ok := sp.(auth.SessionInvalidator); ok != c.cached {
				t.Fatalf("session adapter is a cache: %v, want %v", ok, c.cached)
			}
			s, err := sp.ValidateSession(ctx, "s-u1")
			if err != nil || s == nil || s.CacheSeconds != 60 || s.UserID != "u1" {
				t.Fatalf("ValidateSession = %+v, %v", s, err)
			}
			calls := p.Stats().Calls
			for range 5 {
				if s, err := sp.ValidateSession(ctx, "s-u1"); err != nil || s == nil || s.Metadata["email"] != "u1@example.test" {
					t.Fatalf("ValidateSession = %+v, %v", s, err)
				}
			}
			want := calls
			if !c.cached {
				want += 5
			}
			if got := p.Stats().Calls; got != want {
				t.Fatalf("plugin calls = %d, want %d", got, want)
			}
			if err := sp.DestroySession(ctx, "s-u1"); err != nil {
				t.Fatal(err)
			}
			calls = p.Stats().Calls
			_, _ = sp.ValidateSession(ctx, "s-u1")
			if p.Stats().Calls != calls+1 {
				t.Error("a destroyed session was answered from the cache")
			}
		})
	}
}

// TestVerifyV12: what describe declares in abi 1.2 is checked at load.
func TestVerifyV12(t *testing.T) {
	t.Parallel()
	exports := map[string]bool{abi.ExportDescribe: true, abi.ExportUserCurrent: true, abi.ExportUserGet: true, abi.ExportUserProfileURL: true}
	cases := []struct {
		name string
		d    abi.Describe
		want string
	}{
		{"fine", abi.Describe{ABI: "1.2", Name: "a", Capabilities: []abi.Capability{abi.CapUser}, Implements: []string{abi.ExportUserProfileURL}}, ""},
		{"implements an unexported function", abi.Describe{ABI: "1.2", Name: "a", Capabilities: []abi.Capability{abi.CapUser}, Implements: []string{abi.ExportConfigure}}, `"authhost_configure" is listed but not exported`},
		{"implements a required export", abi.Describe{ABI: "1.2", Name: "a", Capabilities: []abi.Capability{abi.CapUser}, Implements: []string{abi.ExportUserGet}}, "not an optional export"},
		{"transport without a place", abi.Describe{ABI: "1.2", Name: "a", Capabilities: []abi.Capability{abi.CapUser}, SessionTransport: &abi.SessionTransport{}}, "declares no cookie, bearer or header"},
		{"transport header", abi.Describe{ABI: "1.2", Name: "a", Capabilities: []abi.Capability{abi.CapUser}, SessionTransport: &abi.SessionTransport{Header: "X Bad"}}, `header "X Bad" is not a valid header name`},
		{"upper-case name", abi.Describe{ABI: "1.2", Name: "Static", Capabilities: []abi.Capability{abi.CapUser}}, `provider name "Static" is invalid`},
		// A 1.1 provider's implements (it has none by definition) is not checked.
		{"1.1 ignores implements", abi.Describe{ABI: "1.1", Name: "a", Capabilities: []abi.Capability{abi.CapUser}, Implements: []string{"x"}}, ""},
	}
	for _, c := range cases {
		got := strings.Join(verify(c.d, exports), "\n")
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: problems %q, want %q", c.name, got, c.want)
		}
	}
}
