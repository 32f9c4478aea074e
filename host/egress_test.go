package host

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/auth"
)

// publicAddr is a public address the test network maps to its loopback
// server, standing in for an upstream on the internet.
var publicAddr = netip.MustParseAddr("93.184.215.14")

// egressNet is a test network: a loopback HTTP server reachable as
// public.example.test (resolving to publicAddr, which the dial hook maps to
// the server) and as internal.example.test / v6.example.test (resolving to
// loopback, as an attacker's DNS would answer).
type egressNet struct {
	srv  *httptest.Server
	port string
	hits atomic.Int64
}

func newEgressNet(t *testing.T) *egressNet {
	t.Helper()
	n := &egressNet{}
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		n.hits.Add(1)
		w.Write([]byte("public"))
	})
	mux.HandleFunc("/to-internal", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://internal.example.test:"+n.port+"/secret", http.StatusFound)
	})
	mux.HandleFunc("/to-literal", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://2130706433:"+n.port+"/secret", http.StatusFound)
	})
	mux.HandleFunc("/secret", func(w http.ResponseWriter, r *http.Request) {
		n.hits.Add(1)
		w.Write([]byte("internal"))
	})
	n.srv = httptest.NewServer(mux)
	t.Cleanup(n.srv.Close)
	_, n.port, _ = net.SplitHostPort(n.srv.Listener.Addr().String())
	return n
}

func (n *egressNet) lookup(_ context.Context, host string) ([]netip.Addr, error) {
	switch host {
	case "public.example.test":
		return []netip.Addr{publicAddr}, nil
	case "internal.example.test":
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	case "v6.example.test":
		return []netip.Addr{netip.MustParseAddr("::ffff:127.0.0.1")}, nil
	case "meta.example.test":
		return []netip.Addr{netip.MustParseAddr("169.254.169.254")}, nil
	}
	return net.DefaultResolver.LookupNetIP(context.Background(), "ip", host) // localhost
}

func (n *egressNet) dial(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, _ := net.SplitHostPort(address)
	if host == publicAddr.String() {
		address = net.JoinHostPort("127.0.0.1", port)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, address)
}

// TestHTTPDoEgressGuard: http_do refuses names and literals that reach
// non-public addresses, on the first request and on redirects, with a
// forbidden envelope naming the class and a warning naming the plugin; a
// public upstream still works, and allow_private_networks opts out.
func TestHTTPDoEgressGuard(t *testing.T) {
	t.Parallel()
	n := newEgressNet(t)
	allowed := []string{"*.example.test", "127.0.0.1", "2130706433", "0x7f.1", "127.1", "localhost", "１２７.０.０.１", "0177.0.0.1", "0"}
	f, errs := newFixtureWith(t, func(c *Config) {
		c.Plugins["echo"] = PluginConfig{AllowedHosts: allowed}
	}, func(m *Manager) { m.egress = newEgressTransports(n.lookup, n.dial) }, "echo")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p := f.plugin(t, "echo")

	var res abi.HTTPResponse
	if err := hostcall(p, abi.HostHTTPDo, abi.HTTPRequest{URL: "http://public.example.test:" + n.port + "/ok"}, &res); err != nil || string(res.Body) != "public" {
		t.Fatalf("public upstream: %q, %v", res.Body, err)
	}

	cases := []struct {
		name, url, class string
	}{
		{"name resolving to loopback", "http://internal.example.test:" + n.port + "/secret", "loopback"},
		{"name resolving to mapped loopback", "http://v6.example.test:" + n.port + "/secret", "loopback"},
		{"name resolving to metadata", "http://meta.example.test:" + n.port + "/latest/meta-data/", "link-local"},
		{"localhost", "http://localhost:" + n.port + "/secret", "loopback"},
		{"dotted literal", "http://127.0.0.1:" + n.port + "/secret", "loopback"},
		{"decimal literal", "http://2130706433:" + n.port + "/secret", "loopback"},
		{"hex literal", "http://0x7f.1:" + n.port + "/secret", "loopback"},
		{"short literal", "http://127.1:" + n.port + "/secret", "loopback"},
		{"octal literal", "http://0177.0.0.1:" + n.port + "/secret", "loopback"},
		{"zero literal", "http://0:" + n.port + "/secret", "unspecified"},
		{"full-width digits", "http://１２７.０.０.１:" + n.port + "/secret", "loopback"},
		{"redirect to a name resolving to loopback", "http://public.example.test:" + n.port + "/to-internal", "loopback"},
		{"redirect to a decimal literal", "http://public.example.test:" + n.port + "/to-literal", "loopback"},
	}
	for _, tc := range cases {
		err := hostcall(p, abi.HostHTTPDo, abi.HTTPRequest{URL: tc.url}, nil)
		if auth.CodeOf(err) != auth.CodeForbidden || !strings.Contains(err.Error(), "which is "+tc.class) && !strings.Contains(err.Error(), "is "+tc.class) {
			t.Errorf("%s: err = %v, want forbidden naming %q", tc.name, err, tc.class)
		}
	}
	// Literals the allow-list cannot even name, and malformed hosts, are
	// refused too.
	for _, u := range []string{"http://[::ffff:127.0.0.1]:" + n.port + "/", "http://[::1]:" + n.port + "/", "http://[64:ff9b::7f00:1]:" + n.port + "/",
		"http://[fe80::1%25lo]:" + n.port + "/", "http://127.0.0.1%00:" + n.port + "/", "http://127.0.0.1\x00:" + n.port + "/", "http://null:" + n.port + "/",
		"http://internal.example.test\u200b:" + n.port + "/secret", "http://user@127.0.0.1:" + n.port + "/secret"} {
		if err := hostcall(p, abi.HostHTTPDo, abi.HTTPRequest{URL: u}, nil); err == nil || auth.CodeOf(err) != auth.CodeForbidden && auth.CodeOf(err) != auth.CodeInvalidRequest {
			t.Errorf("%q: err = %v, want forbidden or invalid_request", u, err)
		}
	}
	if got := n.hits.Load(); got != 1 {
		t.Errorf("the loopback server answered %d requests, want only the public one", got)
	}
	recs := f.logs.find("http_do refused a non-public address")
	if len(recs) < len(cases) {
		t.Fatalf("%d refusal warnings, want %d", len(recs), len(cases))
	}
	if r := recs[0]; r.Level != slog.LevelWarn || r.Attrs["plugin"] != "echo" || r.Attrs["class"] != "loopback" {
		t.Errorf("refusal log = %+v, want a warning with plugin and class", r)
	}
	if st := p.Stats(); st.Discards != 0 || !st.Healthy {
		t.Errorf("refusals hurt the instance: %+v", st)
	}
}

// TestHTTPDoAllowPrivateNetworks: the opt-out reaches the same loopback
// names, and only for the plugin that has it.
func TestHTTPDoAllowPrivateNetworks(t *testing.T) {
	t.Parallel()
	n := newEgressNet(t)
	f, errs := newFixtureWith(t, func(c *Config) {
		c.Plugins["echo"] = PluginConfig{AllowedHosts: []string{"*.example.test", "2130706433"}, AllowPrivateNetworks: true}
	}, func(m *Manager) { m.egress = newEgressTransports(n.lookup, n.dial) }, "echo")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p := f.plugin(t, "echo")
	if recs := f.logs.find("plugin loaded"); len(recs) != 1 || recs[0].Attrs["allow_private_networks"] != "true" {
		t.Errorf("load log = %+v, want it to say the plugin may reach private networks", recs)
	}
	for _, u := range []string{
		"http://internal.example.test:" + n.port + "/secret",
		"http://2130706433:" + n.port + "/secret",
		"http://public.example.test:" + n.port + "/to-internal",
	} {
		var res abi.HTTPResponse
		if err := hostcall(p, abi.HostHTTPDo, abi.HTTPRequest{URL: u}, &res); err != nil || string(res.Body) != "internal" {
			t.Errorf("%s with allow_private_networks: %q, %v", u, res.Body, err)
		}
	}
}
