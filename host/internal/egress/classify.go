// Package egress guards the outbound connections of plugins (http_do)
// against server-side request forgery: it classifies IP addresses, parses
// IP literals in every encoding a resolver accepts, and dials only
// addresses it has checked, resolving each name once (no second lookup for
// a DNS rebinding to slip through).
package egress

import (
	"net/netip"
	"strconv"
	"strings"
)

// Class names the kind of network an address belongs to. Every class but
// Public is refused unless private networks are allowed.
type Class string

// The address classes. The strings appear in refusals and logs.
const (
	Public        Class = "public"
	Loopback      Class = "loopback"      // 127.0.0.0/8, ::1
	Private       Class = "private"       // RFC 1918, local-use NAT64 64:ff9b:1::/48
	LinkLocal     Class = "link-local"    // 169.254.0.0/16 (cloud metadata), fe80::/10
	SharedCGNAT   Class = "cgnat"         // 100.64.0.0/10 (RFC 6598)
	UniqueLocal   Class = "unique-local"  // fc00::/7 (RFC 4193)
	SiteLocal     Class = "site-local"    // fec0::/10 (deprecated, still routed on some networks)
	Unspecified   Class = "unspecified"   // 0.0.0.0, ::
	ThisNetwork   Class = "this-network"  // 0.0.0.0/8 (RFC 1122)
	Multicast     Class = "multicast"     // 224.0.0.0/4, ff00::/8
	Broadcast     Class = "broadcast"     // 255.255.255.255
	Documentation Class = "documentation" // TEST-NET-1/2/3, 2001:db8::/32, 3fff::/20
	Benchmarking  Class = "benchmarking"  // 198.18.0.0/15, 2001:2::/48
	Reserved      Class = "reserved"      // IETF and future-use ranges, IPv6 outside 2000::/3, Teredo
	Invalid       Class = "invalid"       // the zero netip.Addr
)

type rangeClass struct {
	prefix netip.Prefix
	class  Class
}

// v4Ranges and v6Ranges are checked in order; the first match wins.
var v4Ranges = mustRanges([]struct{ p, c string }{
	{"0.0.0.0/32", string(Unspecified)},
	{"0.0.0.0/8", string(ThisNetwork)},
	{"10.0.0.0/8", string(Private)},
	{"100.64.0.0/10", string(SharedCGNAT)},
	{"127.0.0.0/8", string(Loopback)},
	{"169.254.0.0/16", string(LinkLocal)},
	{"172.16.0.0/12", string(Private)},
	{"192.0.0.0/24", string(Reserved)}, // IETF protocol assignments (DS-Lite, NAT64 discovery …)
	{"192.0.2.0/24", string(Documentation)},
	{"192.88.99.0/24", string(Reserved)}, // deprecated 6to4 relay anycast
	{"192.168.0.0/16", string(Private)},
	{"198.18.0.0/15", string(Benchmarking)},
	{"198.51.100.0/24", string(Documentation)},
	{"203.0.113.0/24", string(Documentation)},
	{"224.0.0.0/4", string(Multicast)},
	{"255.255.255.255/32", string(Broadcast)},
	{"240.0.0.0/4", string(Reserved)},
})

var v6Ranges = mustRanges([]struct{ p, c string }{
	{"::/128", string(Unspecified)},
	{"::1/128", string(Loopback)},
	{"64:ff9b:1::/48", string(Private)}, // local-use NAT64 (RFC 8215)
	{"100::/64", string(Reserved)},      // discard-only
	{"2001::/32", string(Reserved)},     // Teredo: the client address is obfuscated
	{"2001:2::/48", string(Benchmarking)},
	{"2001:db8::/32", string(Documentation)},
	{"2001::/23", string(Reserved)}, // IETF protocol assignments (ORCHID …)
	{"3fff::/20", string(Documentation)},
	{"fc00::/7", string(UniqueLocal)},
	{"fe80::/10", string(LinkLocal)},
	{"fec0::/10", string(SiteLocal)},
	{"ff00::/8", string(Multicast)},
})

var globalUnicast6 = netip.MustParsePrefix("2000::/3")

// IPv6 ranges that carry an IPv4 address; the IPv4 address decides.
var (
	mapped6     = netip.MustParsePrefix("::ffff:0:0/96")   // IPv4-mapped
	translated6 = netip.MustParsePrefix("::ffff:0:0:0/96") // SIIT IPv4-translated (RFC 2765)
	compat6     = netip.MustParsePrefix("::/96")           // IPv4-compatible (deprecated)
	nat64       = netip.MustParsePrefix("64:ff9b::/96")    // well-known NAT64 prefix (RFC 6052)
	sixToFour   = netip.MustParsePrefix("2002::/16")       // 6to4: IPv4 in bits 16-47
)

func mustRanges(in []struct{ p, c string }) []rangeClass {
	out := make([]rangeClass, len(in))
	for i, r := range in {
		out[i] = rangeClass{netip.MustParsePrefix(r.p), Class(r.c)}
	}
	return out
}

// Classify returns the class of a. IPv6 forms that embed an IPv4 address
// (mapped, translated, compatible, NAT64, 6to4) take the class of the IPv4
// address they carry; an IPv6 zone is ignored.
func Classify(a netip.Addr) Class {
	if !a.IsValid() {
		return Invalid
	}
	a = a.WithZone("")
	if a.Is4In6() {
		a = a.Unmap()
	}
	if a.Is4() {
		for _, r := range v4Ranges {
			if r.prefix.Contains(a) {
				return r.class
			}
		}
		return Public
	}
	if v4, ok := embeddedV4(a); ok {
		return Classify(v4)
	}
	for _, r := range v6Ranges {
		if r.prefix.Contains(a) {
			return r.class
		}
	}
	if !globalUnicast6.Contains(a) {
		return Reserved
	}
	return Public
}

// embeddedV4 returns the IPv4 address an IPv6 transition form carries.
func embeddedV4(a netip.Addr) (netip.Addr, bool) {
	b := a.As16()
	switch {
	case translated6.Contains(a), nat64.Contains(a):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case compat6.Contains(a) && a != netip.IPv6Unspecified() && a != netip.IPv6Loopback():
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToFour.Contains(a):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

// ParseHost parses host as an IP literal in any form a resolver or URL
// parser may accept: dotted quad, IPv6 (bracketed or not, with a zone),
// and the inet_aton forms that getaddrinfo accepts, such as "2130706433",
// "0x7f.1", "0177.0.0.1" and "127.1". A trailing dot is ignored. It
// reports false for a host name.
func ParseHost(host string) (netip.Addr, bool) {
	h := strings.TrimSuffix(host, ".")
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	if a, err := netip.ParseAddr(h); err == nil {
		return a, true
	}
	return parseInetAton(h)
}

// parseInetAton parses the BSD inet_aton forms: one to four parts, each
// decimal, octal (leading 0) or hex (0x); the last part fills the
// remaining bytes.
func parseInetAton(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) == 0 || len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		v, ok := parseAtonPart(p)
		if !ok {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	last := len(vals) - 1
	for _, v := range vals[:last] {
		if v > 0xff {
			return netip.Addr{}, false
		}
	}
	if vals[last] >= 1<<(8*(4-last)) {
		return netip.Addr{}, false
	}
	n := vals[last]
	for i, v := range vals[:last] {
		n |= v << (8 * (3 - i))
	}
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

func parseAtonPart(p string) (uint64, bool) {
	if p == "" {
		return 0, false
	}
	base, digits := 10, p
	switch {
	case len(p) > 1 && (p[:2] == "0x" || p[:2] == "0X"):
		base, digits = 16, p[2:]
		if digits == "" { // "0x" alone is 0 for inet_aton
			return 0, true
		}
	case len(p) > 1 && p[0] == '0':
		base, digits = 8, p[1:]
	}
	for _, c := range digits {
		if !isDigit(c, base) {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(digits, base, 32)
	if err != nil {
		return 0, false
	}
	return v, true
}

func isDigit(c rune, base int) bool {
	switch {
	case c >= '0' && c <= '7':
		return true
	case c == '8' || c == '9':
		return base >= 10
	case c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
		return base == 16
	}
	return false
}
