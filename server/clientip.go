package server

import (
	"context"
	"net"
	"net/http"
	"net/netip"
)

// clientAddr puts the client's address in r.RemoteAddr for everything
// downstream: the TCP peer, or, when the peer is one of the configured
// trusted proxies, the client its forwarding headers name (see
// internal/forwarded). Rate limits and audit events read it through
// clientIP, and providers see it as the request's remote_addr, so all of
// them agree on who the client is. It also notes whether a trusted proxy
// says the client connected over HTTPS (see isHTTPS). Headers from any
// other peer are ignored: anyone can send them.
func (s *Server) clientAddr(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil {
			next.ServeHTTP(w, r)
			return
		}
		if s.proxies.HTTPS(peer, r.Header) {
			r = r.WithContext(context.WithValue(r.Context(), httpsKey{}, true))
		}
		if c := s.proxies.Client(peer, r.Header).String(); c != r.RemoteAddr {
			r = r.WithContext(r.Context()) // a shallow copy: the caller's request stays as it was
			r.RemoteAddr = c
		}
		next.ServeHTTP(w, r)
	})
}

type httpsKey struct{}

// isHTTPS reports whether the client's connection is HTTPS: TLS to us, or
// to a trusted proxy that says so.
func isHTTPS(r *http.Request) bool {
	via, _ := r.Context().Value(httpsKey{}).(bool)
	return r.TLS != nil || via
}

// clientIP is the client's IP address as clientAddr resolved it: the one
// answer every rate limit and audit event uses.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// clientNetwork is the client a request is counted as, by the per-address
// rate limits and the audit flood policy: an IPv4 address (IPv4-mapped
// IPv6 included), or the /64 of an IPv6 address, the smallest block a
// single client is usually given, so that rotating through the addresses
// of one's own /64 does not buy fresh limits. Anything that does not parse
// counts as one shared client, auditOtherNet.
func clientNetwork(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return auditOtherNet
	}
	a = a.WithZone("").Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}
