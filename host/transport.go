package host

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/authhost/authhost/abi"
)

// checkTransport returns the problems of a declared session transport:
// valid cookie and header names, and at least one place to look.
func checkTransport(t *abi.SessionTransport) []string {
	var problems []string
	if len(t.Cookies) == 0 && !t.Bearer && t.Header == "" {
		problems = append(problems, "session_transport: declares no cookie, bearer or header")
	}
	for _, c := range t.Cookies {
		if !validToken(c) {
			problems = append(problems, fmt.Sprintf("session_transport: cookie name %q is not a valid cookie name", c))
		}
	}
	if t.Header != "" && !validToken(t.Header) {
		problems = append(problems, fmt.Sprintf("session_transport: header %q is not a valid header name", t.Header))
	}
	return problems
}

// validToken reports whether s is an RFC 7230 token (cookie and header
// names are tokens).
func validToken(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}

// maxSessionIDBytes bounds a session id read from a request (a cookie is
// at most 4 KiB in browsers); a longer value is no session.
const maxSessionIDBytes = 4096

// sessionIDFrom reads the session id from r as t declares: the first
// non-empty cookie of t.Cookies, then the bearer token, then t.Header; ""
// when r carries none or the value is longer than maxSessionIDBytes.
func sessionIDFrom(t *abi.SessionTransport, r *http.Request) string {
	if r == nil {
		return ""
	}
	if id := rawSessionID(t, r); len(id) <= maxSessionIDBytes {
		return id
	}
	return ""
}

func rawSessionID(t *abi.SessionTransport, r *http.Request) string {
	for _, name := range t.Cookies {
		c, err := r.Cookie(name)
		if err != nil || c.Value == "" {
			continue
		}
		v := c.Value
		if t.CookieURLDecode {
			if dec, err := url.QueryUnescape(v); err == nil {
				v = dec
			}
		}
		return v
	}
	if t.Bearer {
		if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			if tok := strings.TrimSpace(a[7:]); tok != "" {
				return tok
			}
		}
	}
	if t.Header != "" {
		return strings.TrimSpace(r.Header.Get(t.Header))
	}
	return ""
}
