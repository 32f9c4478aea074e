package server

import (
	"net"
	"net/url"
	"strings"
)

// redirectGuard decides where the browser may be sent after login or
// logout: same-origin paths, the public URL's origin, configured origins,
// and, when the server itself runs on a loopback host, other loopback
// origins (a front-end dev server on another port). Everything else falls
// back to a safe default.
type redirectGuard struct {
	public  *url.URL
	origins map[string]bool
}

func newRedirectGuard(public *url.URL, allowed []string) redirectGuard {
	g := redirectGuard{public: public, origins: map[string]bool{origin(public): true}}
	for _, o := range allowed {
		if u, err := url.Parse(o); err == nil && u.Scheme != "" && u.Host != "" {
			g.origins[origin(u)] = true
		}
	}
	return g
}

func origin(u *url.URL) string { return strings.ToLower(u.Scheme + "://" + u.Host) }

// Safe returns target when it is an allowed redirect, else fallback.
func (g redirectGuard) Safe(target, fallback string) string {
	if g.Allowed(target) {
		return strings.TrimSpace(target)
	}
	return fallback
}

// Allowed reports whether target is an allowed redirect.
func (g redirectGuard) Allowed(target string) bool {
	target = strings.TrimSpace(target)
	if target == "" || len(target) > 2048 {
		return false
	}
	for _, r := range target {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return false // control characters and backslashes confuse browsers' URL parsers
		}
	}
	if strings.HasPrefix(target, "/") {
		// A path on this origin, but not "//host" (scheme-relative).
		if strings.HasPrefix(target, "//") {
			return false
		}
		u, err := url.Parse(target)
		return err == nil && u.Scheme == "" && u.Host == ""
	}
	u, err := url.Parse(target)
	if err != nil || u.User != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return false
	}
	if g.origins[origin(u)] {
		return true
	}
	return isLoopback(g.public.Hostname()) && isLoopback(u.Hostname())
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
