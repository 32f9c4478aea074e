// Package session holds authhost's built-in session providers: an
// in-memory one, a store-backed one (badger by default, survives restarts)
// and stateless encrypted cookie sessions. All three render the same
// cookie and read the session id from that cookie or from an
// "Authorization: Bearer" header.
//
// Sessions slide: RefreshSession moves the expiry to now+TTL, but never past
// CreatedAt+MaxAge, the absolute lifetime.
package session

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"math"
	"net/http"
	"strings"
	"time"
)

// Defaults of the session options.
const (
	DefaultCookieName = "authhost_session"
	DefaultTTL        = 7 * 24 * time.Hour
	DefaultMaxAge     = 30 * 24 * time.Hour
)

// maxCookieBytes is the largest Set-Cookie value browsers reliably keep.
const maxCookieBytes = 4096

// CookieConfig shapes the session cookie.
type CookieConfig struct {
	// Name is the cookie name; "" means DefaultCookieName.
	Name string
	// Path is the cookie path; "" means "/".
	Path string
	// Domain is the cookie domain; "" leaves it out (host-only cookie).
	Domain string
	// Secure adds the Secure attribute; the host sets it when its public
	// URL is https.
	Secure bool
}

func (c CookieConfig) withDefaults() CookieConfig {
	if c.Name == "" {
		c.Name = DefaultCookieName
	}
	if c.Path == "" {
		c.Path = "/"
	}
	return c
}

// lifetime is the sliding TTL and the absolute maximum age of a session.
type lifetime struct {
	TTL    time.Duration
	MaxAge time.Duration
}

func (l lifetime) withDefaults() lifetime {
	if l.TTL <= 0 {
		l.TTL = DefaultTTL
	}
	if l.MaxAge <= 0 {
		l.MaxAge = max(DefaultMaxAge, l.TTL)
	}
	if l.MaxAge < l.TTL {
		l.TTL = l.MaxAge
	}
	return l
}

// expiry is the expiry of a session created at created and refreshed now.
func (l lifetime) expiry(created, now time.Time) time.Time {
	exp := now.Add(l.TTL)
	if abs := created.Add(l.MaxAge); abs.Before(exp) {
		exp = abs
	}
	return exp
}

// cookies renders and reads the session cookie; every provider embeds it.
type cookies struct {
	cfg CookieConfig
	now func() time.Time
}

// SessionIDFromRequest implements auth.SessionProvider: the session cookie,
// else an "Authorization: Bearer <token>" header, else "".
func (c cookies) SessionIDFromRequest(_ context.Context, r *http.Request) (string, error) {
	if ck, err := r.Cookie(c.cfg.Name); err == nil && ck.Value != "" {
		return ck.Value, nil
	}
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:]), nil
	}
	return "", nil
}

// cookie renders a Set-Cookie value for value, expiring at exp.
func (c cookies) cookie(value string, exp time.Time) string {
	maxAge := int(math.Floor(exp.Sub(c.now()).Seconds()))
	if maxAge <= 0 {
		return c.clear()
	}
	ck := &http.Cookie{
		Name:     c.cfg.Name,
		Value:    value,
		Path:     c.cfg.Path,
		Domain:   c.cfg.Domain,
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   c.cfg.Secure,
		SameSite: http.SameSiteLaxMode,
	}
	return ck.String()
}

func (c cookies) clear() string {
	ck := &http.Cookie{
		Name:     c.cfg.Name,
		Value:    "",
		Path:     c.cfg.Path,
		Domain:   c.cfg.Domain,
		MaxAge:   -1, // renders Max-Age=0
		HttpOnly: true,
		Secure:   c.cfg.Secure,
		SameSite: http.SameSiteLaxMode,
	}
	return ck.String()
}

// ClearCookies implements auth.SessionProvider: the session cookie with an
// empty value and Max-Age=0.
func (c cookies) ClearCookies(context.Context) ([]string, error) {
	return []string{c.clear()}, nil
}

// newID returns 32 random bytes, base64url without padding (43 characters).
func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

func cloneMeta(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
