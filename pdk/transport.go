package pdk

import "github.com/authhost/authhost/abi"

// CookieTransport is a Provider.SessionTransport for a provider whose
// session id travels in one cookie whose name comes from its configuration:
// cookieName is asked at describe time. When it fails (a configuration that
// does not load) or names no cookie, no transport is declared and the host
// falls back to session_id_from_request.
func CookieTransport(cookieName func() (string, error)) func() *abi.SessionTransport {
	return func() *abi.SessionTransport {
		name, err := cookieName()
		if err != nil || name == "" {
			return nil
		}
		return &abi.SessionTransport{Cookies: []string{name}}
	}
}
