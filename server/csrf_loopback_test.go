package server

import (
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/internal/testenv/logbuf"
)

// TestLoopbackAliasesSameOrigin is issue 15 item 1: in development the
// loopback aliases of the listen port are same-origin, and nothing else
// is (another port, another scheme, look-alikes); in production none is.
func TestLoopbackAliasesSameOrigin(t *testing.T) {
	t.Parallel()
	public := mustURL("http://localhost:9000")
	cases := []struct {
		name   string
		mode   auth.Mode
		listen string
		origin string
		ok     bool
	}{
		{"localhost", auth.ModeDevelopment, ":9000", "http://localhost:9000", true},
		{"127.0.0.1", auth.ModeDevelopment, ":9000", "http://127.0.0.1:9000", true},
		{"[::1]", auth.ModeDevelopment, ":9000", "http://[::1]:9000", true},
		{"upper case", auth.ModeDevelopment, ":9000", "HTTP://LOCALHOST:9000", true},
		{"listen on 127.0.0.1", auth.ModeDevelopment, "127.0.0.1:9000", "http://[::1]:9000", true},
		{"other port", auth.ModeDevelopment, ":9000", "http://127.0.0.1:9001", false},
		{"other scheme", auth.ModeDevelopment, ":9000", "https://127.0.0.1:9000", false},
		{"other loopback address", auth.ModeDevelopment, ":9000", "http://127.0.0.2:9000", false},
		{"ipv4-mapped ipv6", auth.ModeDevelopment, ":9000", "http://[::ffff:127.0.0.1]:9000", false},
		{"trailing dot", auth.ModeDevelopment, ":9000", "http://localhost.:9000", false},
		{"unicode look-alike", auth.ModeDevelopment, ":9000", "http://1２7.0.0.1:9000", false},
		{"decimal ip literal", auth.ModeDevelopment, ":9000", "http://2130706433:9000", false},
		{"control char", auth.ModeDevelopment, ":9000", "http://127.0.0.1:9000\x00", false},
		{"null", auth.ModeDevelopment, ":9000", "null", false},
		{"no listen port", auth.ModeDevelopment, ":0", "http://127.0.0.1:9000", false},
		{"production", auth.ModeProduction, ":9000", "http://127.0.0.1:9000", false},
		{"production, public origin", auth.ModeProduction, ":9000", "http://localhost:9000", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s, err := New(Config{Auth: &auth.Composed{}, License: auth.LicenseState{Mode: c.mode}, PublicURL: public, ListenAddr: c.listen, SealKey: make([]byte, 32)})
			if err != nil {
				t.Fatal(err)
			}
			r, _ := http.NewRequest("POST", "http://localhost:9000/login", nil)
			r.Header.Set("Origin", c.origin)
			if got := s.trustedOrigins.refusal(r); (got == "") != c.ok {
				t.Errorf("Origin %q: refusal %q, want allowed=%v", c.origin, got, c.ok)
			}
		})
	}
}

// TestRefusedFormPostSaysWhatToSet: a refused cross-site form post gets a
// page naming the settings and a warning naming the origin seen and the
// origins trusted; the JSON API keeps its JSON error.
func TestRefusedFormPostSaysWhatToSet(t *testing.T) {
	t.Parallel()
	var logs logbuf.Buffer
	h := newHarness(t, func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
		c.ListenAddr = c.PublicURL.Host
	})
	_, port, _ := net.SplitHostPort(h.srv.Listener.Addr().String())
	form := url.Values{"email": {demoEmail}, "password": {demoPassword}}.Encode()
	c := h.client(t)

	// The loopback alias signs in.
	alias := "http://localhost:" + port
	if r := c.do("POST", "/login", form, map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": alias}); r.status != http.StatusSeeOther {
		t.Fatalf("form sign-in from %s = %d %s, want 303", alias, r.status, r.body)
	}

	evil := "http://evil.example:" + port
	r := c.do("POST", "/login", form, map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "Origin": evil})
	if r.status != http.StatusForbidden || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("cross-site form post = %d %q, want a 403 page", r.status, r.header.Get("Content-Type"))
	}
	for _, want := range []string{"public_url", "security.allowed_redirect_origins", evil, h.srv.URL} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("refusal page lacks %q:\n%s", want, r.body)
		}
	}
	log := logs.String()
	for _, want := range []string{`"level":"WARN"`, `"origin":"` + evil + `"`, `"trusted_origins":[`, `"http://[::1]:` + port + `"`} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}

	// A script-injected tag in the origin is escaped on the page.
	r = c.do("POST", "/login", form, map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Referer": "http://x/<script>", "Origin": "", "Sec-Fetch-Site": ""})
	if r.status != http.StatusForbidden || strings.Contains(string(r.body), "<script>") {
		t.Errorf("referer refusal = %d, body unescaped: %v", r.status, strings.Contains(string(r.body), "<script>"))
	}

	// The API answers JSON, forms included.
	r = c.do("POST", "/api/auth/credentials/sign-in", form, map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": evil})
	if r.status != http.StatusForbidden || r.json(t)["error"] != "csrf" {
		t.Errorf("cross-site API post = %d %s, want JSON csrf error", r.status, r.body)
	}
}
