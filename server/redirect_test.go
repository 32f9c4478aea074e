package server

import (
	"net/url"
	"testing"
)

func TestRedirectGuard(t *testing.T) {
	t.Parallel()
	local, _ := url.Parse("http://localhost:4000")
	prod, _ := url.Parse("https://auth.example.com")
	cases := []struct {
		name   string
		public *url.URL
		target string
		want   bool
	}{
		// reference §10.5 oracles
		{"external rejected", local, "https://evil.com/phish", false},
		{"localhost other port allowed in local setup", local, "http://localhost:4111/agents", true},
		// paths
		{"relative path", prod, "/agents?tab=1", true},
		{"root", prod, "/", true},
		{"scheme-relative", prod, "//evil.com/x", false},
		{"backslash trick", prod, "/\\evil.com", false},
		{"encoded tab", prod, "/\tevil", false},
		{"javascript", prod, "javascript:alert(1)", false},
		{"data", prod, "data:text/html,x", false},
		{"no slash", prod, "evil.com", false},
		{"empty", prod, "", false},
		// absolute
		{"same origin", prod, "https://auth.example.com/account", true},
		{"same host other scheme", prod, "http://auth.example.com/account", false},
		{"configured origin", prod, "https://app.example.com/dashboard", true},
		{"suffix attack", prod, "https://app.example.com.evil.com/", false},
		{"userinfo", prod, "https://auth.example.com@evil.com/", false},
		{"userinfo on allowed", prod, "https://x@auth.example.com/", false},
		{"localhost not allowed for prod public URL", prod, "http://localhost:3000/", false},
		{"loopback ip in local setup", local, "http://127.0.0.1:5173/", true},
	}
	for _, c := range cases {
		g := newRedirectGuard(c.public, []string{"https://app.example.com"})
		if got := g.Allowed(c.target); got != c.want {
			t.Errorf("%s: Allowed(%q) = %v, want %v", c.name, c.target, got, c.want)
		}
	}
	g := newRedirectGuard(local, nil)
	if got := g.Safe("https://evil.com/phish", "/"); got != "/" {
		t.Errorf("Safe fallback = %q", got)
	}
}
