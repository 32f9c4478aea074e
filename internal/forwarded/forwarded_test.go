package forwarded

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

func TestParseProxies(t *testing.T) {
	t.Parallel()
	good := []struct {
		in, want string
	}{
		{"10.0.0.0/8", "10.0.0.0/8"},
		{"192.0.2.10", "192.0.2.10/32"},
		{"::1", "::1/128"},
		{"2001:db8::/32", "2001:db8::/32"},
		{"::ffff:10.1.0.0/112", "10.1.0.0/16"},
		{"::ffff:192.0.2.7", "192.0.2.7/32"},
	}
	for _, tc := range good {
		ps, err := ParseProxies([]string{tc.in})
		if err != nil || len(ps) != 1 || ps[0].String() != tc.want {
			t.Errorf("ParseProxies(%q) = %v, %v; want %s", tc.in, ps, err, tc.want)
		}
	}
	bad := []string{
		"", "null", "localhost", "10.0.0.1/8", "0.0.0.0/0", "::/0", "::ffff:0.0.0.0/96",
		"127.1", "0x7f.0.0.1", "0177.0.0.1", "127.000.000.001", "2130706433", "10.0.0.0/33",
		"fe80::1%eth0", " 10.0.0.1", "10.0.0.1\x00", "１０.0.0.1", "10.0.0.0/８", "[::1]",
	}
	for _, in := range bad {
		if ps, err := ParseProxies([]string{"10.0.0.0/8", in}); err == nil {
			t.Errorf("ParseProxies(%q) = %v, want an error", in, ps)
		} else if !strings.Contains(err.Error(), strconv.Quote(in)) && in != "" {
			t.Errorf("ParseProxies(%q): error %q does not name the entry", in, err)
		}
	}
}

func TestTrustsUnmaps(t *testing.T) {
	t.Parallel()
	ps, err := ParseProxies([]string{"10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]bool{"10.1.2.3": true, "::ffff:10.1.2.3": true, "11.0.0.1": false, "::ffff:11.0.0.1": false, "::a01:203": false} {
		if got := ps.Trusts(netip.MustParseAddr(in)); got != want {
			t.Errorf("Trusts(%s) = %v, want %v", in, got, want)
		}
	}
}

func TestClient(t *testing.T) {
	t.Parallel()
	ps, err := ParseProxies([]string{"10.0.0.0/8", "192.0.2.10", "2001:db8:1::/48"})
	if err != nil {
		t.Fatal(err)
	}
	const (
		proxy    = "10.0.0.5:40000"
		stranger = "198.51.100.9:5555"
	)
	cases := []struct {
		name string
		peer string
		hdr  [][2]string // header lines in order
		want string
	}{
		// Peers that are not proxies are believed, whatever they send.
		{"no headers", stranger, nil, stranger},
		{"untrusted peer spoofs xff", stranger, [][2]string{{"X-Forwarded-For", "203.0.113.1"}}, stranger},
		{"untrusted peer spoofs forwarded", stranger, [][2]string{{"Forwarded", "for=203.0.113.1"}}, stranger},
		{"untrusted peer spoofs a trusted address", stranger, [][2]string{{"X-Forwarded-For", "10.0.0.7"}}, stranger},
		{"untrusted mapped peer", "[::ffff:198.51.100.9]:5555", [][2]string{{"X-Forwarded-For", "203.0.113.1"}}, stranger},
		{"ipv6 untrusted peer", "[2001:db8:2::1]:443", [][2]string{{"X-Forwarded-For", "203.0.113.1"}}, "[2001:db8:2::1]:443"},

		// A trusted proxy: the right-most hop that is not a proxy.
		{"proxy without headers", proxy, nil, proxy},
		{"proxy xff", proxy, [][2]string{{"X-Forwarded-For", "203.0.113.1"}}, "203.0.113.1:0"},
		{"mapped proxy peer", "[::ffff:10.0.0.5]:40000", [][2]string{{"X-Forwarded-For", "203.0.113.1"}}, "203.0.113.1:0"},
		{"client-sent prefix ignored", proxy, [][2]string{{"X-Forwarded-For", "1.1.1.1, 203.0.113.1"}}, "203.0.113.1:0"},
		{"garbage left of the client ignored", proxy, [][2]string{{"X-Forwarded-For", "<script>, 0x7f.1,, 203.0.113.1"}}, "203.0.113.1:0"},
		{"chain of proxies", proxy, [][2]string{{"X-Forwarded-For", "1.1.1.1, 203.0.113.1, 10.9.9.9, 192.0.2.10"}}, "203.0.113.1:0"},
		{"every hop trusted", proxy, [][2]string{{"X-Forwarded-For", "10.1.1.1, 10.2.2.2"}}, "10.1.1.1:0"},
		{"client spoofs a trusted hop", proxy, [][2]string{{"X-Forwarded-For", "10.1.1.1, 203.0.113.1"}}, "203.0.113.1:0"},
		{"multiple xff lines", proxy, [][2]string{{"X-Forwarded-For", "1.1.1.1"}, {"X-Forwarded-For", "203.0.113.1"}}, "203.0.113.1:0"},
		{"multiple lines, proxy appended to the first", proxy, [][2]string{{"X-Forwarded-For", "1.1.1.1, 10.3.3.3"}, {"X-Forwarded-For", "10.4.4.4"}}, "1.1.1.1:0"},
		{"xff with port", proxy, [][2]string{{"X-Forwarded-For", "203.0.113.1:8443"}}, "203.0.113.1:8443"},
		{"xff ipv6", proxy, [][2]string{{"X-Forwarded-For", "2001:db8:9::1"}}, "[2001:db8:9::1]:0"},
		{"xff bracketed ipv6 with port", proxy, [][2]string{{"X-Forwarded-For", "[2001:db8:9::1]:8443"}}, "[2001:db8:9::1]:8443"},
		{"xff ipv4-mapped ipv6", proxy, [][2]string{{"X-Forwarded-For", "::ffff:203.0.113.1"}}, "203.0.113.1:0"},
		{"xff mapped proxy hop skipped", proxy, [][2]string{{"X-Forwarded-For", "203.0.113.1, ::ffff:10.1.1.1"}}, "203.0.113.1:0"},
		{"ipv6 proxy", "[2001:db8:1::5]:1234", [][2]string{{"X-Forwarded-For", "203.0.113.1"}}, "203.0.113.1:0"},

		// Malformed hops that must be read fall back to the peer.
		{"empty xff", proxy, [][2]string{{"X-Forwarded-For", ""}}, proxy},
		{"trailing comma", proxy, [][2]string{{"X-Forwarded-For", "203.0.113.1,"}}, proxy},
		{"hostname", proxy, [][2]string{{"X-Forwarded-For", "evil.example"}}, proxy},
		{"short ipv4", proxy, [][2]string{{"X-Forwarded-For", "127.1"}}, proxy},
		{"hex ipv4", proxy, [][2]string{{"X-Forwarded-For", "0x7f.1"}}, proxy},
		{"octal ipv4", proxy, [][2]string{{"X-Forwarded-For", "0177.0.0.1"}}, proxy},
		{"leading zeros", proxy, [][2]string{{"X-Forwarded-For", "203.000.113.001"}}, proxy},
		{"decimal ipv4", proxy, [][2]string{{"X-Forwarded-For", "3405803777"}}, proxy},
		{"fullwidth digits", proxy, [][2]string{{"X-Forwarded-For", "２０３.0.113.1"}}, proxy},
		{"zone", proxy, [][2]string{{"X-Forwarded-For", "fe80::1%eth0"}}, proxy},
		{"control char", proxy, [][2]string{{"X-Forwarded-For", "203.0.113.1\x00"}}, proxy},
		{"null", proxy, [][2]string{{"X-Forwarded-For", "null"}}, proxy},
		{"unknown", proxy, [][2]string{{"X-Forwarded-For", "unknown"}}, proxy},
		{"bad port", proxy, [][2]string{{"X-Forwarded-For", "203.0.113.1:99999"}}, proxy},
		{"port with leading zero", proxy, [][2]string{{"X-Forwarded-For", "203.0.113.1:080"}}, proxy},
		{"bracketed ipv4", proxy, [][2]string{{"X-Forwarded-For", "[203.0.113.1]"}}, proxy},
		{"garbage after a trusted hop", proxy, [][2]string{{"X-Forwarded-For", "garbage, 10.1.1.1"}}, proxy},

		// Forwarded (RFC 7239).
		{"forwarded", proxy, [][2]string{{"Forwarded", "for=203.0.113.1"}}, "203.0.113.1:0"},
		{"forwarded case and params", proxy, [][2]string{{"Forwarded", "proto=https;FOR=203.0.113.1;by=10.0.0.5"}}, "203.0.113.1:0"},
		{"forwarded quoted ipv6 with port", proxy, [][2]string{{"Forwarded", `for="[2001:db8:cafe::17]:4711"`}}, "[2001:db8:cafe::17]:4711"},
		{"forwarded quoted ipv4 with port", proxy, [][2]string{{"Forwarded", `for="203.0.113.1:47011"`}}, "203.0.113.1:47011"},
		{"forwarded obfuscated port", proxy, [][2]string{{"Forwarded", `for="203.0.113.1:_p1"`}}, "203.0.113.1:0"},
		{"forwarded chain", proxy, [][2]string{{"Forwarded", `for=1.1.1.1, for=203.0.113.1;proto=https, for="[2001:db8:1::9]"`}}, "203.0.113.1:0"},
		{"forwarded quoted comma in client part", proxy, [][2]string{{"Forwarded", `for="1.1.1.1, 2.2.2.2", for=203.0.113.1`}}, "203.0.113.1:0"},
		{"forwarded unbalanced quote in client part", proxy, [][2]string{{"Forwarded", `for="1.1.1.1, for=203.0.113.1`}}, "203.0.113.1:0"},
		{"forwarded multiple lines", proxy, [][2]string{{"Forwarded", "for=1.1.1.1"}, {"Forwarded", "for=203.0.113.1"}}, "203.0.113.1:0"},
		{"forwarded unknown", proxy, [][2]string{{"Forwarded", "for=unknown"}}, proxy},
		{"forwarded obfuscated node", proxy, [][2]string{{"Forwarded", "for=_hidden"}}, proxy},
		{"forwarded without for", proxy, [][2]string{{"Forwarded", "proto=https"}}, proxy},
		{"forwarded two for in one element", proxy, [][2]string{{"Forwarded", "for=203.0.113.1;for=203.0.113.2"}}, proxy},
		{"forwarded unbalanced quote", proxy, [][2]string{{"Forwarded", `for="203.0.113.1`}}, proxy},
		{"forwarded quote inside", proxy, [][2]string{{"Forwarded", `for="203.0.113"1"`}}, proxy},
		{"forwarded escaped digits", proxy, [][2]string{{"Forwarded", `for="\x32\x30\x33.0.113.1"`}}, proxy},
		{"forwarded empty", proxy, [][2]string{{"Forwarded", ""}}, proxy},
		{"forwarded bad pair", proxy, [][2]string{{"Forwarded", "for"}}, proxy},

		// Both headers: they must agree, or a proxy that writes only one
		// would pass a forged other through.
		{"both agree", proxy, [][2]string{{"Forwarded", "for=203.0.113.1"}, {"X-Forwarded-For", "203.0.113.1"}}, "203.0.113.1:0"},
		{"both agree after client prefixes", proxy, [][2]string{{"Forwarded", "for=9.9.9.9, for=203.0.113.1"}, {"X-Forwarded-For", "8.8.8.8, 203.0.113.1"}}, "203.0.113.1:0"},
		{"forged forwarded beside xff", proxy, [][2]string{{"Forwarded", "for=6.6.6.6"}, {"X-Forwarded-For", "203.0.113.1"}}, proxy},
		{"forged xff beside forwarded", proxy, [][2]string{{"Forwarded", "for=203.0.113.1"}, {"X-Forwarded-For", "6.6.6.6"}}, proxy},
		{"garbage forwarded beside xff", proxy, [][2]string{{"Forwarded", "garbage"}, {"X-Forwarded-For", "203.0.113.1"}}, proxy},
	}
	for _, tc := range cases {
		h := http.Header{}
		for _, kv := range tc.hdr {
			h.Add(kv[0], kv[1])
		}
		got := ps.Client(netip.MustParseAddrPort(tc.peer), h)
		if want := netip.MustParseAddrPort(tc.want); got != want {
			t.Errorf("%s: Client = %s, want %s", tc.name, got, want)
		}
	}
}

func TestNoProxiesIgnoresHeaders(t *testing.T) {
	t.Parallel()
	h := http.Header{"X-Forwarded-For": {"203.0.113.1"}, "Forwarded": {"for=203.0.113.1"}}
	peer := netip.MustParseAddrPort("127.0.0.1:5000")
	if got := Proxies(nil).Client(peer, h); got != peer {
		t.Errorf("no proxies: Client = %s, want the peer", got)
	}
}

func FuzzClient(f *testing.F) {
	f.Add("203.0.113.1", `for="[2001:db8::1]:80"`)
	f.Add(`1.1.1.1, 10.0.0.1`, `for=_x;proto=https, for="`)
	ps, err := ParseProxies([]string{"10.0.0.0/8"})
	if err != nil {
		f.Fatal(err)
	}
	peer := netip.MustParseAddrPort("10.0.0.5:1")
	f.Fuzz(func(t *testing.T, xff, fwd string) {
		h := http.Header{"X-Forwarded-For": {xff}, "Forwarded": {fwd}}
		got := ps.Client(peer, h)
		if !got.IsValid() || got.Addr().Is4In6() || got.Addr().Zone() != "" {
			t.Fatalf("Client(%q, %q) = %v", xff, fwd, got)
		}
		// The answer is the peer or a hop that was written in a header.
		if got != peer && !strings.Contains(xff+fwd, got.Addr().String()) && !strings.Contains(xff+fwd, got.Addr().StringExpanded()) {
			if !got.Addr().Is4() || !strings.Contains(xff+fwd, "::ffff:") {
				t.Fatalf("Client(%q, %q) = %v, an address no header named", xff, fwd, got)
			}
		}
	})
}

func TestHTTPS(t *testing.T) {
	t.Parallel()
	ps, err := ParseProxies([]string{"10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	proxy, stranger := netip.MustParseAddrPort("10.0.0.5:1"), netip.MustParseAddrPort("198.51.100.9:1")
	cases := []struct {
		name string
		peer netip.AddrPort
		hdr  http.Header
		want bool
	}{
		{"xfp https", proxy, http.Header{"X-Forwarded-Proto": {"https"}}, true},
		{"xfp upper case", proxy, http.Header{"X-Forwarded-Proto": {"HTTPS"}}, true},
		{"forwarded proto", proxy, http.Header{"Forwarded": {`for=203.0.113.1;proto=https`}}, true},
		{"both https", proxy, http.Header{"Forwarded": {`for=203.0.113.1;proto=https`}, "X-Forwarded-Proto": {"https"}}, true},
		{"untrusted peer", stranger, http.Header{"X-Forwarded-Proto": {"https"}}, false},
		{"nothing said", proxy, http.Header{}, false},
		{"xfp http", proxy, http.Header{"X-Forwarded-Proto": {"http"}}, false},
		{"a plain hop in the chain", proxy, http.Header{"X-Forwarded-Proto": {"https, http"}}, false},
		{"headers disagree", proxy, http.Header{"Forwarded": {`for=203.0.113.1;proto=http`}, "X-Forwarded-Proto": {"https"}}, false},
		{"garbage", proxy, http.Header{"X-Forwarded-Proto": {"https\x00"}}, false},
		{"empty", proxy, http.Header{"X-Forwarded-Proto": {""}}, false},
	}
	for _, tc := range cases {
		if got := ps.HTTPS(tc.peer, tc.hdr); got != tc.want {
			t.Errorf("%s: HTTPS = %v, want %v", tc.name, got, tc.want)
		}
	}
}
