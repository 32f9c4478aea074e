// Package forwarded finds the client of a request that reached the server
// through reverse proxies. Only a proxy the operator lists is believed:
// when the TCP peer is one, the client is the right-most hop of
// X-Forwarded-For or Forwarded (RFC 7239) that is not itself a listed
// proxy. Anything else (an unlisted peer, a malformed hop, two headers
// that disagree) gives the TCP peer, which nobody can forge.
package forwarded

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// Proxies is the set of trusted proxy networks. The zero value trusts
// nobody, so forwarding headers are ignored.
type Proxies []netip.Prefix

// ParseProxies reads CIDRs ("10.0.0.0/8", "2001:db8::/32") and single
// addresses ("192.0.2.10", "::1"). Only canonical literals are accepted
// (no "127.1", "0x7f.0.0.1", leading zeros or zones), host bits must be
// zero, and a network that trusts every address is refused: it would let
// anyone choose their own address. IPv4-mapped IPv6 forms are stored as
// IPv4.
func ParseProxies(entries []string) (Proxies, error) {
	var (
		out  Proxies
		errs []error
	)
	for _, e := range entries {
		p, err := parseProxy(e)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, p)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func parseProxy(e string) (netip.Prefix, error) {
	var p netip.Prefix
	if strings.Contains(e, "/") {
		var err error
		if p, err = netip.ParsePrefix(e); err != nil {
			return p, fmt.Errorf("%q is not a CIDR like 10.0.0.0/8: %w", e, err)
		}
		if p != p.Masked() {
			return p, fmt.Errorf("%q has host bits set: write %s", e, p.Masked())
		}
	} else {
		a, err := netip.ParseAddr(e)
		if err != nil {
			return p, fmt.Errorf("%q is not an IP address or CIDR: %w", e, err)
		}
		if a.Zone() != "" {
			return p, fmt.Errorf("%q: zoned addresses are not accepted", e)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	if p.Bits() == 0 {
		return p, fmt.Errorf("%q trusts every address, so any client could choose its own: list the proxies' own networks", e)
	}
	return p, nil
}

// Trusts reports whether a is a listed proxy.
func (ps Proxies) Trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Client returns the client of a request received from peer with header h:
// peer itself unless it is a trusted proxy; then the right-most hop of the
// forwarding header that is not a trusted proxy (or the left-most hop when
// every hop is trusted). X-Forwarded-For and Forwarded are both read; when
// a request carries both they must name the same client, since a proxy
// that writes only one passes a forged other through. A malformed hop met
// on the way, an empty header or a disagreement gives peer. The port is
// the hop's when it names one, else 0. Addresses come back unmapped
// (IPv4-mapped IPv6 as IPv4).
func (ps Proxies) Client(peer netip.AddrPort, h http.Header) netip.AddrPort {
	peer = netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port())
	if len(ps) == 0 || !ps.Trusts(peer.Addr()) {
		return peer
	}
	fwd, xff := h.Values("Forwarded"), h.Values("X-Forwarded-For")
	switch {
	case len(fwd) == 0 && len(xff) == 0:
		return peer
	case len(xff) == 0:
		if c, ok := ps.walk(forwardedHops(fwd)); ok {
			return c
		}
	case len(fwd) == 0:
		if c, ok := ps.walk(xffHops(xff)); ok {
			return c
		}
	default:
		a, aok := ps.walk(forwardedHops(fwd))
		b, bok := ps.walk(xffHops(xff))
		if aok && bok && a.Addr() == b.Addr() {
			return a
		}
	}
	return peer
}

// HTTPS reports whether a trusted proxy says the client reached it over
// HTTPS: peer is trusted, and every X-Forwarded-Proto value and every
// Forwarded proto= parameter present is "https" (at least one is). Any
// "http" along the way means some hop was plain, so the answer is no.
func (ps Proxies) HTTPS(peer netip.AddrPort, h http.Header) bool {
	if len(ps) == 0 || !ps.Trusts(peer.Addr()) {
		return false
	}
	var protos []string
	for _, line := range h.Values("X-Forwarded-Proto") {
		for p := range strings.SplitSeq(line, ",") {
			protos = append(protos, strings.Trim(p, " \t"))
		}
	}
	for _, line := range h.Values("Forwarded") {
		for line != "" {
			var elem string
			elem, line = lastElement(line)
			if v, ok := param(elem, "proto"); ok {
				protos = append(protos, v)
			}
		}
	}
	for _, p := range protos {
		if !strings.EqualFold(p, "https") {
			return false
		}
	}
	return len(protos) > 0
}

// hops yields the hops of a forwarding header right-most first, each
// parsed only when reached, so garbage left of the client (which the
// client wrote) is never looked at.
type hops func(yield func(netip.AddrPort, bool) bool)

// walk returns the right-most untrusted hop.
func (ps Proxies) walk(hs hops) (client netip.AddrPort, ok bool) {
	found := false
	for a, valid := range hs {
		if !valid {
			return netip.AddrPort{}, false
		}
		client, found = a, true
		if !ps.Trusts(a.Addr()) {
			return a, true
		}
	}
	return client, found
}

// xffHops reads X-Forwarded-For: comma-separated addresses, across every
// header line in order.
func xffHops(lines []string) hops {
	return func(yield func(netip.AddrPort, bool) bool) {
		for i := len(lines) - 1; i >= 0; i-- {
			parts := strings.Split(lines[i], ",")
			for j := len(parts) - 1; j >= 0; j-- {
				a, ok := parseNode(strings.Trim(parts[j], " \t"))
				if !yield(a, ok) {
					return
				}
			}
		}
	}
}

// forwardedHops reads the for= parameter of each Forwarded element.
func forwardedHops(lines []string) hops {
	return func(yield func(netip.AddrPort, bool) bool) {
		for i := len(lines) - 1; i >= 0; i-- {
			line := lines[i]
			for line != "" {
				var elem string
				elem, line = lastElement(line)
				v, ok := param(elem, "for")
				var a netip.AddrPort
				if ok {
					a, ok = parseNode(v)
				}
				if !yield(a, ok) {
					return
				}
			}
		}
	}
}

// lastElement splits the right-most comma-separated element off line,
// ignoring commas inside double quotes. It scans from the right so that an
// unbalanced quote left by the client cannot swallow the elements proxies
// appended after it.
func lastElement(line string) (elem, rest string) {
	quoted := false
	for i := len(line) - 1; i >= 0; i-- {
		switch line[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				return line[i+1:], line[:i]
			}
		}
	}
	return line, ""
}

// param returns the unquoted value of the single name= pair of a
// Forwarded element (pairs separated by ';', names case-insensitive).
// Repeated names, a pair without '=' and a bad quoted-string are malformed.
func param(elem, want string) (string, bool) {
	var (
		val   string
		found bool
	)
	for pair := range strings.SplitSeq(elem, ";") {
		name, v, ok := strings.Cut(strings.Trim(pair, " \t"), "=")
		if !ok || name == "" {
			return "", false
		}
		if !strings.EqualFold(name, want) {
			continue
		}
		if found {
			return "", false // twice in one element: which one?
		}
		if strings.HasPrefix(v, `"`) {
			u, ok := unquote(v)
			if !ok {
				return "", false
			}
			v = u
		}
		val, found = v, true
	}
	return val, found
}

// unquote reads an RFC 9110 quoted-string: a backslash quotes the next
// character, and a bare quote may only end it.
func unquote(s string) (string, bool) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return "", false
	}
	var b strings.Builder
	for i := 1; i < len(s)-1; i++ {
		switch c := s[i]; c {
		case '\\':
			if i++; i == len(s)-1 {
				return "", false
			}
			b.WriteByte(s[i])
		case '"':
			return "", false
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

// parseNode reads one hop: "192.0.2.1", "192.0.2.1:4711", "[2001:db8::1]",
// "[2001:db8::1]:4711" or a bare "2001:db8::1". Only canonical literals
// pass (netip refuses "127.1", "0x7f.1", octal and leading zeros); zones,
// "unknown" and obfuscated identifiers ("_hidden") do not, since they name
// no address a limit could count. An obfuscated port ("_a1") is dropped.
func parseNode(s string) (netip.AddrPort, bool) {
	if s == "" || len(s) > 64 {
		return netip.AddrPort{}, false
	}
	host, port := s, uint16(0)
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.AddrPort{}, false
		}
		host = s[1:end]
		rest := s[end+1:]
		switch {
		case rest == "":
		case strings.HasPrefix(rest, ":"):
			p, ok := parsePort(rest[1:])
			if !ok {
				return netip.AddrPort{}, false
			}
			port = p
		default:
			return netip.AddrPort{}, false
		}
		if a, err := netip.ParseAddr(host); err != nil || !a.Is6() {
			return netip.AddrPort{}, false
		}
	} else if strings.Count(s, ":") == 1 {
		h, p, _ := strings.Cut(s, ":")
		pp, ok := parsePort(p)
		if !ok {
			return netip.AddrPort{}, false
		}
		host, port = h, pp
		if a, err := netip.ParseAddr(host); err != nil || !a.Is4() {
			return netip.AddrPort{}, false
		}
	}
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(a.Unmap(), port), true
}

// parsePort reads a decimal port, or an RFC 7239 obfuscated port ("_x")
// as 0.
func parsePort(s string) (uint16, bool) {
	if strings.HasPrefix(s, "_") && len(s) > 1 {
		for _, c := range s[1:] {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
				return 0, false
			}
		}
		return 0, true
	}
	if s == "" || len(s) > 5 || s[0] == '0' && len(s) > 1 {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 16)
	return uint16(n), err == nil
}
