package egress

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	cases := []struct {
		addr string
		want Class
	}{
		{"0.0.0.0", Unspecified},
		{"0.1.2.3", ThisNetwork},
		{"10.1.2.3", Private},
		{"100.64.0.1", SharedCGNAT},
		{"100.100.100.200", SharedCGNAT}, // Alibaba Cloud metadata
		{"100.128.0.1", Public},
		{"127.0.0.1", Loopback},
		{"127.255.255.254", Loopback},
		{"169.254.169.254", LinkLocal}, // AWS/GCP/Azure metadata
		{"172.15.255.255", Public},
		{"172.16.0.1", Private},
		{"172.31.255.255", Private},
		{"172.32.0.0", Public},
		{"192.0.0.170", Reserved},
		{"192.0.2.1", Documentation},
		{"192.88.99.1", Reserved},
		{"192.168.1.1", Private},
		{"198.18.0.1", Benchmarking},
		{"198.51.100.1", Documentation},
		{"203.0.113.9", Documentation},
		{"224.0.0.1", Multicast},
		{"239.255.255.250", Multicast},
		{"240.0.0.1", Reserved},
		{"255.255.255.255", Broadcast},
		{"8.8.8.8", Public},
		{"93.184.215.14", Public},
		{"::", Unspecified},
		{"::1", Loopback},
		{"::ffff:127.0.0.1", Loopback},                     // IPv4-mapped
		{"::ffff:7f00:1", Loopback},                        // the same in hex
		{"::ffff:169.254.169.254", LinkLocal},              // mapped metadata
		{"::ffff:8.8.8.8", Public},                         // mapped public
		{"::ffff:0:10.0.0.1", Private},                     // SIIT IPv4-translated
		{"::127.0.0.1", Loopback},                          // IPv4-compatible
		{"::10.0.0.1", Private},                            // IPv4-compatible
		{"64:ff9b::127.0.0.1", Loopback},                   // NAT64 of loopback
		{"64:ff9b::a9fe:a9fe", LinkLocal},                  // NAT64 of metadata
		{"64:ff9b::8.8.8.8", Public},                       // NAT64 of a public address
		{"64:ff9b:1::1", Private},                          // local-use NAT64
		{"2002:7f00:1::1", Loopback},                       // 6to4 of loopback
		{"2002:c0a8:101::1", Private},                      // 6to4 of 192.168.1.1
		{"2002:808:808::1", Public},                        // 6to4 of 8.8.8.8
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", Reserved}, // Teredo
		{"2001:db8::1", Documentation},
		{"3fff::1", Documentation},
		{"2001:2::1", Benchmarking},
		{"100::1", Reserved},
		{"fc00::1", UniqueLocal},
		{"fd00:ec2::254", UniqueLocal}, // AWS IPv6 metadata
		{"fe80::1", LinkLocal},
		{"fe80::1%eth0", LinkLocal},
		{"febf::1", LinkLocal},
		{"fec0::1", SiteLocal},
		{"ff02::1", Multicast},
		{"ff0e::1", Multicast},
		{"4000::1", Reserved}, // outside 2000::/3
		{"2606:4700:4700::1111", Public},
		{"2a00:1450:4001:81c::200e", Public},
	}
	for _, tc := range cases {
		a := netip.MustParseAddr(tc.addr)
		if got := Classify(a); got != tc.want {
			t.Errorf("Classify(%s) = %s, want %s", tc.addr, got, tc.want)
		}
	}
	if got := Classify(netip.Addr{}); got != Invalid {
		t.Errorf("Classify(zero) = %s, want invalid", got)
	}
}

func TestParseHost(t *testing.T) {
	t.Parallel()
	cases := []struct {
		host string
		want string // "" means not an IP literal
	}{
		{"127.0.0.1", "127.0.0.1"},
		{"127.0.0.1.", "127.0.0.1"},
		{"2130706433", "127.0.0.1"},
		{"0x7f000001", "127.0.0.1"},
		{"0x7f.1", "127.0.0.1"},
		{"0X7F.0.0.1", "127.0.0.1"},
		{"0177.0.0.1", "127.0.0.1"},
		{"0177.1", "127.0.0.1"},
		{"127.1", "127.0.0.1"},
		{"127.0.1", "127.0.0.1"},
		{"127.000.000.001", "127.0.0.1"},
		{"017700000001", "127.0.0.1"},
		{"0", "0.0.0.0"},
		{"0x", "0.0.0.0"},
		{"169.254.43518", "169.254.169.254"},
		{"0xa9fea9fe", "169.254.169.254"},
		{"10.0x10.1", "10.16.0.1"},
		{"::1", "::1"},
		{"[::1]", "::1"},
		{"[::ffff:127.0.0.1]", "::ffff:127.0.0.1"},
		{"fe80::1%eth0", "fe80::1%eth0"},
		// Not IP literals: host names, or numbers no resolver accepts.
		{"localhost", ""},
		{"example.com", ""},
		{"1.example.com", ""},
		{"127.0.0.1.nip.io", ""},
		{"4294967296", ""}, // 2^32
		{"256.0.0.1", ""},
		{"1.2.3.4.5", ""},
		{"08.0.0.1", ""}, // 8 is not an octal digit
		{"0xg.1", ""},
		{"127..1", ""},
		{"", ""},
		{"１２７.０.０.１", ""}, // full-width digits: the HTTP client maps them to ASCII first (IDNA), see TestDialerEncodings
		{"127.0.0.1\x00", ""},
		{" 127.0.0.1", ""},
		{"+127.0.0.1", ""},
		{"null", ""},
	}
	for _, tc := range cases {
		a, ok := ParseHost(tc.host)
		switch {
		case tc.want == "" && ok:
			t.Errorf("ParseHost(%q) = %s, want not a literal", tc.host, a)
		case tc.want != "" && (!ok || a.String() != tc.want):
			t.Errorf("ParseHost(%q) = %s, %v; want %s", tc.host, a, ok, tc.want)
		}
	}
}

// loopbackServer accepts connections on 127.0.0.1 and counts them.
func loopbackServer(t *testing.T) (port string, accepted *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	accepted = &atomic.Int64{}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	_, port, _ = net.SplitHostPort(l.Addr().String())
	return port, accepted
}

func TestDialer(t *testing.T) {
	t.Parallel()
	port, accepted := loopbackServer(t)
	var lookups atomic.Int64
	zone := map[string][]netip.Addr{
		"internal.example.test": {netip.MustParseAddr("127.0.0.1")},
		"mixed.example.test":    {netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("10.0.0.1")},
		"mapped.example.test":   {netip.MustParseAddr("::ffff:127.0.0.1")},
	}
	lookup := func(_ context.Context, host string) ([]netip.Addr, error) {
		lookups.Add(1)
		if a, ok := zone[host]; ok {
			return a, nil
		}
		return nil, errors.New("no such host")
	}
	guarded := &Dialer{Lookup: lookup}
	open := &Dialer{Lookup: lookup, AllowPrivate: true}
	ctx := context.Background()

	refused := []struct {
		host  string
		class Class
	}{
		{"internal.example.test", Loopback},
		{"mixed.example.test", Private}, // one private address refuses the name
		{"mapped.example.test", Loopback},
		{"127.0.0.1", Loopback},
		{"2130706433", Loopback},
		{"0x7f.1", Loopback},
		{"127.1", Loopback},
		{"::ffff:127.0.0.1", Loopback},
		{"::1", Loopback},
		{"169.254.169.254", LinkLocal},
		{"0.0.0.0", Unspecified},
		{"64:ff9b::7f00:1", Loopback},
	}
	for _, tc := range refused {
		conn, err := guarded.DialContext(ctx, "tcp", net.JoinHostPort(tc.host, port))
		var be *BlockedError
		if !errors.As(err, &be) || be.Class != tc.class {
			if conn != nil {
				conn.Close()
			}
			t.Errorf("dial %s: err = %v, want refused as %s", tc.host, err, tc.class)
			continue
		}
		if !strings.Contains(err.Error(), string(tc.class)) {
			t.Errorf("dial %s: error %q does not name the class", tc.host, err)
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Fatalf("guarded dialer reached the loopback server %d times", n)
	}

	for _, host := range []string{"internal.example.test", "127.0.0.1", "2130706433", "127.1", "mapped.example.test"} {
		conn, err := open.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
		if err != nil {
			t.Errorf("allow-private dial %s: %v", host, err)
			continue
		}
		conn.Close()
	}

	// IP literals are never resolved; a name is resolved once per dial.
	lookups.Store(0)
	if _, err := guarded.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", port)); err == nil {
		t.Error("dial 127.0.0.1 succeeded")
	}
	if n := lookups.Load(); n != 0 {
		t.Errorf("an IP literal was looked up %d times", n)
	}
	if c, err := open.DialContext(ctx, "tcp", net.JoinHostPort("internal.example.test", port)); err == nil {
		c.Close()
	}
	if n := lookups.Load(); n != 1 {
		t.Errorf("a name was looked up %d times, want 1", n)
	}
	if _, err := guarded.DialContext(ctx, "tcp", "unknown.example.test:80"); err == nil || !strings.Contains(err.Error(), "no such host") {
		t.Errorf("unknown host: err = %v", err)
	}
	if _, err := guarded.DialContext(ctx, "tcp6", net.JoinHostPort("internal.example.test", port)); err == nil || !strings.Contains(err.Error(), "no tcp6 address") {
		t.Errorf("tcp6 to an IPv4-only name: err = %v", err)
	}
}

// TestDialerDialsCheckedAddress: the address dialled is the one checked,
// even when the resolver would answer differently the second time (DNS
// rebinding).
func TestDialerDialsCheckedAddress(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	rebinding := func(_ context.Context, host string) ([]netip.Addr, error) {
		if calls.Add(1) == 1 {
			return []netip.Addr{netip.MustParseAddr("93.184.215.14")}, nil
		}
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	var dialled []string
	d := &Dialer{Lookup: rebinding, Dial: func(_ context.Context, _, address string) (net.Conn, error) {
		dialled = append(dialled, address)
		return nil, errors.New("test: not connecting")
	}}
	_, _ = d.DialContext(context.Background(), "tcp", "rebind.example.test:443")
	if len(dialled) != 1 || dialled[0] != "93.184.215.14:443" || calls.Load() != 1 {
		t.Fatalf("dialled %v after %d lookups, want only the checked 93.184.215.14:443 after 1", dialled, calls.Load())
	}
	// The second dial resolves to loopback and is refused before any dial.
	_, err := d.DialContext(context.Background(), "tcp", "rebind.example.test:443")
	var be *BlockedError
	if !errors.As(err, &be) || be.Class != Loopback || len(dialled) != 1 {
		t.Fatalf("rebound dial: err = %v, dialled %v", err, dialled)
	}
}
