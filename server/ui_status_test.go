package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/authhost/authhost/auth"
)

// TestLoginSaysWhatIsBroken is issue 15 items 3 and 4: in development
// /login lists the readiness problems (escaped); in production without a
// license every page, /login and the admin pages included, says that RBAC,
// ACL and audit are off.
func TestLoginSaysWhatIsBroken(t *testing.T) {
	t.Parallel()
	problems := []string{`capabilities.rbac: provider "bultin" is not loaded (did you mean "builtin"?)`, "<script>alert(1)</script>"}
	broken := func() (bool, []string) { return false, problems }
	cases := []struct {
		name        string
		lic         auth.LicenseState
		ready       Readiness
		wantProblem bool
		wantLicense bool
	}{
		{"development, broken", auth.LicenseState{Mode: auth.ModeDevelopment}, broken, true, false},
		{"development, ready", auth.LicenseState{Mode: auth.ModeDevelopment}, nil, false, false},
		{"production, license none", auth.LicenseState{Mode: auth.ModeProduction, Reason: auth.ReasonDeclined}, nil, false, true},
		{"production, licensed, unready", auth.LicenseState{Mode: auth.ModeProduction, Licensed: true, License: &auth.License{}}, broken, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(cfg *Config) { cfg.License, cfg.Ready = c.lic, c.ready })
			cl := h.client(t)
			r := cl.do("GET", "/login", "", nil)
			body := string(r.body)
			if r.status != http.StatusOK {
				t.Fatalf("/login = %d", r.status)
			}
			if got := strings.Contains(body, `id="setup-problems"`); got != c.wantProblem {
				t.Errorf("problems banner shown = %v, want %v", got, c.wantProblem)
			}
			if c.wantProblem && (!strings.Contains(body, "did you mean &#34;builtin&#34;?") || strings.Contains(body, "<script>alert")) {
				t.Errorf("problems not listed, or not escaped:\n%s", body)
			}
			if got := strings.Contains(body, `id="license-off"`); got != c.wantLicense {
				t.Errorf("license banner on /login = %v, want %v", got, c.wantLicense)
			}
			if c.wantLicense {
				if !strings.Contains(body, "role-based access control, resource ACLs and the audit log are off") {
					t.Errorf("license banner does not say what is off:\n%s", body)
				}
				// The admin page is denied (RBAC is off) and says why.
				if r := cl.signIn(demoEmail, demoPassword); r.status != http.StatusOK {
					t.Fatalf("sign-in = %d", r.status)
				}
				r := cl.do("GET", "/admin/plugins", "", map[string]string{"Accept": "text/html"})
				if r.status != http.StatusForbidden || !strings.Contains(string(r.body), `id="license-off"`) {
					t.Errorf("/admin/plugins = %d without the license banner:\n%s", r.status, r.body)
				}
			}
		})
	}
}

// TestDegradedPluginsListed is issue 15 item 3: the admin API and page
// list the plugin files that failed to load but that nothing selects.
func TestDegradedPluginsListed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) {
		c.Degraded = func() []DegradedPlugin {
			return []DegradedPlugin{{File: "stray.wasm", Error: "plugin stray.wasm: describe: call timed out <b>"}}
		}
	})
	c := h.client(t)
	if r := c.signIn(demoEmail, demoPassword); r.status != http.StatusOK {
		t.Fatalf("sign-in = %d", r.status)
	}
	r := c.do("GET", "/api/admin/plugins", "", nil)
	dg, _ := r.json(t)["degraded"].([]any)
	if r.status != http.StatusOK || len(dg) != 1 || dg[0].(map[string]any)["file"] != "stray.wasm" ||
		!strings.Contains(dg[0].(map[string]any)["error"].(string), "timed out") {
		t.Fatalf("/api/admin/plugins = %d %s, want the degraded file with its error", r.status, r.body)
	}
	r = c.do("GET", "/admin/plugins", "", nil)
	body := string(r.body)
	if r.status != http.StatusOK || !strings.Contains(body, `data-file="stray.wasm"`) || !strings.Contains(body, "call timed out &lt;b&gt;") {
		t.Fatalf("/admin/plugins = %d without the degraded file (escaped):\n%s", r.status, body)
	}

	// Without degraded files the list is empty, not null.
	plain := newHarness(t, nil)
	pc := plain.client(t)
	pc.signIn(demoEmail, demoPassword)
	if r := pc.do("GET", "/api/admin/plugins", "", nil); !strings.Contains(string(r.body), `"degraded":[]`) {
		t.Errorf("no degraded files: %s", r.body)
	}
}
