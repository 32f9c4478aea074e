package server

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

// TestClientAddr: the address every limit, audit event and provider sees
// is the forwarded client only when the peer is a trusted proxy, and the
// caller's request is left untouched.
func TestClientAddr(t *testing.T) {
	t.Parallel()
	s := &Server{proxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	cases := []struct {
		name, peer string
		hdr        map[string]string
		want       string // RemoteAddr downstream
		https      bool
	}{
		{"direct client", "198.51.100.9:5555", nil, "198.51.100.9:5555", false},
		{"direct client spoofing", "198.51.100.9:5555", map[string]string{"X-Forwarded-For": "203.0.113.1", "X-Forwarded-Proto": "https"}, "198.51.100.9:5555", false},
		{"mapped direct client", "[::ffff:198.51.100.9]:5555", nil, "198.51.100.9:5555", false},
		{"via proxy", "10.0.0.5:40000", map[string]string{"X-Forwarded-For": "203.0.113.1", "X-Forwarded-Proto": "https"}, "203.0.113.1:0", true},
		{"via proxy, forwarded", "10.0.0.5:40000", map[string]string{"Forwarded": `for="[2001:db8::7]:4711";proto=https`}, "[2001:db8::7]:4711", true},
		{"via proxy over http", "10.0.0.5:40000", map[string]string{"X-Forwarded-For": "203.0.113.1", "X-Forwarded-Proto": "http"}, "203.0.113.1:0", false},
		{"via proxy, garbage", "10.0.0.5:40000", map[string]string{"X-Forwarded-For": "127.1"}, "10.0.0.5:40000", false},
		{"unparsable peer", "pipe", map[string]string{"X-Forwarded-For": "203.0.113.1"}, "pipe", false},
	}
	for _, tc := range cases {
		var got string
		var gotHTTPS bool
		h := s.clientAddr(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got, gotHTTPS = r.RemoteAddr, isHTTPS(r) }))
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		for k, v := range tc.hdr {
			r.Header.Set(k, v)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		if got != tc.want || gotHTTPS != tc.https {
			t.Errorf("%s: RemoteAddr %q https %v, want %q %v", tc.name, got, gotHTTPS, tc.want, tc.https)
		}
		if r.RemoteAddr != tc.peer {
			t.Errorf("%s: the caller's request was changed to %q", tc.name, r.RemoteAddr)
		}
	}
}

// TestHSTSBehindProxy: HSTS is sent when a trusted proxy says the client
// came over HTTPS, and not for the same claim from anyone else.
func TestHSTSBehindProxy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		proxies []netip.Prefix
		want    bool
	}{
		{"trusted proxy", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}, true},
		{"no proxies", nil, false},
	} {
		h := newHarness(t, func(c *Config) { c.TrustedProxies = tc.proxies })
		r := h.client(t).do("GET", "/healthz", "", map[string]string{"X-Forwarded-Proto": "https"})
		if got := r.header.Get("Strict-Transport-Security") != ""; got != tc.want {
			t.Errorf("%s: HSTS sent = %v, want %v", tc.name, got, tc.want)
		}
	}
}
