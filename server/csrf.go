package server

import (
	"maps"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// csrfGuard refuses state-changing requests (every method but GET, HEAD
// and OPTIONS, on every route: sign-in and sign-up included, JSON and
// forms alike) that a page of another site may have sent; originPolicy
// says which. A refusal is a 403, an auth.denied event with the reason and
// a warning naming the origin seen and the origins trusted (a misconfigured
// public_url looks exactly like an attack from the server's side). A form
// post outside the API gets a page saying what to configure; everything
// else gets the JSON error.
func (s *Server) csrfGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		reason := s.trustedOrigins.refusal(r)
		if reason == "" {
			next.ServeHTTP(w, r)
			return
		}
		s.emitDenied(r, "csrf", reason)
		seen := truncate(r.Header.Get("Origin"), 256)
		if seen == "" {
			seen = truncate(r.Header.Get("Referer"), 256)
		}
		s.log.Warn("cross-site request refused", "reason", reason, "origin", seen, "path", r.URL.Path,
			"trusted_origins", s.trustedOrigins.list(),
			"hint", "set public_url to the address browsers use, or add the origin to security.allowed_redirect_origins")
		if s.isFormPost(r) {
			s.renderMessage(w, r, http.StatusForbidden, csrfMessage(seen, s.cfg.PublicURL.String()))
			return
		}
		writeError(w, http.StatusForbidden, "csrf", "cross-site request refused: send it from the same origin")
	})
}

// isFormPost reports whether r is an HTML form submission to a page (not
// to the API).
func (s *Server) isFormPost(r *http.Request) bool {
	if r.URL.Path == s.cfg.APIPrefix || strings.HasPrefix(r.URL.Path, s.cfg.APIPrefix+"/") {
		return false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && (mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data")
}

// csrfMessage is the page of a refused form post: what was seen, and what
// the operator sets when the sender was in fact one of their own pages.
func csrfMessage(seen, public string) message {
	from := "a page this server does not trust"
	if seen != "" {
		from = seen + ", which this server does not trust"
	}
	return message{Heading: "Request refused",
		Text: "This form was sent from " + from + ", so it was refused as a possible cross-site request. " +
			"This server's public address is " + public + ": open it there and try again. " +
			"If you operate this server and browsers reach it at another address, set public_url to that address, " +
			"or add its origin to security.allowed_redirect_origins.",
		Link: public + "/login", LinkText: "Go to the sign-in page"}
}

// loopbackOrigins are the origins of the loopback aliases (localhost,
// 127.0.0.1, [::1]) of listenAddr's port with scheme, or none when the
// address has no usable port.
func loopbackOrigins(scheme, listenAddr string) []string {
	_, port, err := net.SplitHostPort(listenAddr)
	if err != nil || port == "" || port == "0" {
		return nil
	}
	var out []string
	for _, h := range []string{"localhost", "127.0.0.1", "::1"} {
		out = append(out, scheme+"://"+net.JoinHostPort(h, port))
	}
	return out
}

// originPolicy decides, from what browsers send, whether a state-changing
// request comes from one of our own pages (the public URL's origin or a
// configured one). In order:
//
//  1. Origin names an origin: it must be trusted, compared exactly after
//     lowering the case and dropping a default port. Look-alikes (a
//     trailing dot, Unicode instead of punycode, a different port,
//     userinfo, a path) are other origins.
//  2. Origin is "null" (sandboxed iframes, data: URLs, some redirects):
//     refused unless Sec-Fetch-Site is same-origin. A null origin is what a
//     sandboxed cross-site frame sends to sign a victim into the
//     attacker's account.
//  3. No Origin: Sec-Fetch-Site same-origin or none (typed by the user)
//     passes, any other value is refused.
//  4. No Origin and no Sec-Fetch-Site (an old browser, or not a browser):
//     a Referer, when sent, must be from a trusted origin.
//  5. None of these: not a browser we can judge. Refused when the request
//     carries any cookie, since cookies are what a browser attaches on its
//     own; allowed otherwise (curl, server-to-server webhooks).
//
// A bearer token exempts nothing: a cookie riding along with it is still
// ambient authority (the session provider may even prefer the cookie),
// and clients that authenticate with tokens have no reason to send
// cookies. Repeated Origin or Sec-Fetch-Site headers are refused: a
// browser sends one.
type originPolicy struct {
	trusted map[string]bool
}

// newOriginPolicy trusts the origin of public and of each allowed URL.
func newOriginPolicy(public *url.URL, allowed []string) originPolicy {
	p := originPolicy{trusted: map[string]bool{}}
	if o, ok := urlOrigin(public); ok {
		p.trusted[o] = true
	}
	for _, a := range allowed {
		if u, err := url.Parse(a); err == nil {
			if o, ok := urlOrigin(u); ok {
				p.trusted[o] = true
			}
		}
	}
	return p
}

// list is the trusted origins, sorted.
func (p originPolicy) list() []string { return slices.Sorted(maps.Keys(p.trusted)) }

// refusal returns why r must be refused, or "" when it may proceed.
func (p originPolicy) refusal(r *http.Request) string {
	origins, sites := r.Header.Values("Origin"), r.Header.Values("Sec-Fetch-Site")
	if len(origins) > 1 || len(sites) > 1 {
		return "repeated Origin or Sec-Fetch-Site header"
	}
	site := ""
	if len(sites) == 1 {
		site = sites[0]
	}
	if len(origins) == 1 {
		if origins[0] == "null" {
			if site == "same-origin" {
				return ""
			}
			return "null origin"
		}
		if o, ok := headerOrigin(origins[0]); ok && p.trusted[o] {
			return ""
		}
		return "untrusted origin"
	}
	switch site {
	case "same-origin", "none":
		return ""
	case "":
	default:
		return "cross-site request (Sec-Fetch-Site: " + truncate(site, 32) + ")"
	}
	if refs := r.Header.Values("Referer"); len(refs) > 0 {
		if u, err := url.Parse(refs[0]); len(refs) == 1 && err == nil && asciiPrintable(refs[0]) {
			if o, ok := urlOrigin(u); ok && p.trusted[o] {
				return ""
			}
		}
		return "untrusted referer"
	}
	if len(r.Header.Values("Cookie")) > 0 {
		return "cookies without Origin or Sec-Fetch-Site"
	}
	return ""
}

// headerOrigin canonicalizes an Origin header value, which is exactly
// scheme://host[:port] in printable ASCII (browsers send IDNs as
// punycode).
func headerOrigin(s string) (string, bool) {
	if !asciiPrintable(s) {
		return "", false
	}
	u, err := url.Parse(s)
	if err != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return "", false
	}
	return urlOrigin(u)
}

// urlOrigin is u's origin: lower-case http or https scheme and host, and
// the port unless it is the scheme's default. URLs with userinfo, an
// empty host or port, or a percent-encoded host have none.
func urlOrigin(u *url.URL) (string, bool) {
	scheme := strings.ToLower(u.Scheme)
	if (scheme != "http" && scheme != "https") || u.Opaque != "" || u.User != nil {
		return "", false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if host == "" || strings.Contains(host, "%") || strings.HasSuffix(u.Host, ":") {
		return "", false
	}
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if port != "" {
		return scheme + "://" + net.JoinHostPort(host, port), true
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return scheme + "://" + host, true
}

// asciiPrintable reports whether s is non-empty printable ASCII without
// spaces.
func asciiPrintable(s string) bool {
	if s == "" || len(s) > 2048 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}
