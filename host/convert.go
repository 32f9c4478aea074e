package host

import (
	"net/http"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/auth"
)

// RequestFromHTTP converts an incoming request into the abi.Request a
// provider sees: method, absolute URL, canonical headers (Host included)
// and the client address. A nil r gives the zero Request.
func RequestFromHTTP(r *http.Request) abi.Request {
	if r == nil {
		return abi.Request{}
	}
	u := *r.URL
	if !u.IsAbs() {
		u.Scheme = "http"
		if r.TLS != nil {
			u.Scheme = "https"
		}
		u.Host = r.Host
	}
	h := make(map[string][]string, len(r.Header)+1)
	for k, vs := range r.Header {
		ck := http.CanonicalHeaderKey(k)
		h[ck] = append(h[ck], vs...)
	}
	if r.Host != "" && h["Host"] == nil {
		h["Host"] = []string{r.Host}
	}
	return abi.Request{Method: r.Method, URL: u.String(), Headers: h, RemoteAddr: r.RemoteAddr}
}

// The conversions below join the ABI's wire types (snake_case JSON) to the
// domain's (the server's camelCase API): the only types kept twice, because
// their JSON differs. Every other shared type is an alias (auth.Resource =
// abi.Resource, …). TestConvertRoundTrip fills every field, so a field
// added to one side and not the other fails it.

func userToABI(u auth.User) abi.User {
	return abi.User{ID: u.ID, Email: u.Email, Name: u.Name, AvatarURL: u.AvatarURL, Roles: u.Roles, Metadata: u.Metadata}
}

func userFromABI(u abi.User) auth.User {
	return auth.User{ID: u.ID, Email: u.Email, Name: u.Name, AvatarURL: u.AvatarURL, Roles: u.Roles, Metadata: u.Metadata}
}

func userPtrFromABI(u *abi.User) *auth.User {
	if u == nil {
		return nil
	}
	v := userFromABI(*u)
	return &v
}

func sessionToABI(s auth.Session) abi.Session {
	return abi.Session{ID: s.ID, UserID: s.UserID, ExpiresAt: s.ExpiresAt, CreatedAt: s.CreatedAt, Metadata: s.Metadata, CacheSeconds: s.CacheSeconds}
}

func sessionFromABI(s abi.Session) auth.Session {
	return auth.Session{ID: s.ID, UserID: s.UserID, ExpiresAt: s.ExpiresAt, CreatedAt: s.CreatedAt, Metadata: s.Metadata, CacheSeconds: s.CacheSeconds}
}

func sessionPtrFromABI(s *abi.Session) *auth.Session {
	if s == nil {
		return nil
	}
	v := sessionFromABI(*s)
	return &v
}

func tokensFromABI(t abi.Tokens) auth.Tokens {
	return auth.Tokens{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, IDToken: t.IDToken, ExpiresAt: t.ExpiresAt}
}

func grantFromABI(g abi.ACLGrant) auth.ACLGrant {
	return auth.ACLGrant{Subject: g.Subject, Resource: g.Resource, Actions: g.Actions, GrantedAt: g.GrantedAt, GrantedBy: g.GrantedBy}
}

func auditToABI(e auth.AuditEvent) abi.AuditEvent {
	return abi.AuditEvent{
		ID: e.ID, Timestamp: e.Timestamp, Action: e.Action, Resource: e.Resource, Outcome: e.Outcome, Metadata: e.Metadata, DurationMS: e.DurationMS,
		Actor: abi.AuditActor{Type: e.Actor.Type, ID: e.Actor.ID, Email: e.Actor.Email, IP: e.Actor.IP, UserAgent: e.Actor.UserAgent},
	}
}

func auditFromABI(e abi.AuditEvent) auth.AuditEvent {
	return auth.AuditEvent{
		ID: e.ID, Timestamp: e.Timestamp, Action: e.Action, Resource: e.Resource, Outcome: e.Outcome, Metadata: e.Metadata, DurationMS: e.DurationMS,
		Actor: auth.AuditActor{Type: e.Actor.Type, ID: e.Actor.ID, Email: e.Actor.Email, IP: e.Actor.IP, UserAgent: e.Actor.UserAgent},
	}
}

func auditExportFromABI(x abi.AuditExport) auth.AuditExport {
	return auth.AuditExport{ID: x.ID, State: x.State, URL: x.URL, CreatedAt: x.CreatedAt, UpdatedAt: x.UpdatedAt}
}

func credentialsFromABI(r abi.CredentialsResult) *auth.CredentialsResult {
	return &auth.CredentialsResult{User: userFromABI(r.User), Session: sessionPtrFromABI(r.Session), Token: r.Token, SetCookie: r.SetCookie}
}
