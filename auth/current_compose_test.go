package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// cookieSessions reads its session id from the "sid" cookie; "good" is
// its one valid session, of user u1.
type cookieSessions struct{ validations atomic.Int64 }

func (*cookieSessions) CreateSession(context.Context, string, map[string]any) (*Session, error) {
	return nil, ErrNotSupported
}
func (s *cookieSessions) ValidateSession(_ context.Context, id string) (*Session, error) {
	s.validations.Add(1)
	if id != "good" {
		return nil, nil
	}
	return &Session{ID: id, UserID: "u1"}, nil
}
func (*cookieSessions) DestroySession(context.Context, string) error { return nil }
func (*cookieSessions) RefreshSession(context.Context, string) (*Session, error) {
	return nil, nil
}
func (*cookieSessions) SessionIDFromRequest(_ context.Context, r *http.Request) (string, error) {
	c, err := r.Cookie("sid")
	if err != nil {
		return "", nil
	}
	return c.Value, nil
}
func (*cookieSessions) SessionCookies(context.Context, *Session) ([]string, error) { return nil, nil }
func (*cookieSessions) ClearCookies(context.Context) ([]string, error)             { return nil, nil }

// bearerUsers knows a user by an "Authorization: Bearer u2" header, and
// counts how often it is asked.
type bearerUsers struct{ asked atomic.Int64 }

func (u *bearerUsers) CurrentUser(_ context.Context, r *http.Request) (*User, error) {
	u.asked.Add(1)
	if r.Header.Get("Authorization") == "Bearer u2" {
		return &User{ID: "u2"}, nil
	}
	return nil, nil
}
func (*bearerUsers) GetUser(context.Context, string) (*User, error)   { return nil, nil }
func (*bearerUsers) ProfileURL(context.Context, User) (string, error) { return "", nil }

// TestCurrentUserSessionOnly checks when the user provider's
// CurrentUser (a plugin's user_current) is asked: not for a provider that
// serves the session too and recognises requests only by it
// (SessionOnly: abi session_transport.exclusive), whatever the request
// carries besides; still for one that does not say so (it may know a
// request by something else, e.g. a bearer token) or whose sessions
// another provider serves.
func TestCurrentUserSessionOnly(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		sessionOnly bool
		otherSess   bool // the session capability is another provider's
		cookie      string
		bearer      bool
		wantUser    string
		wantAsked   int64
	}{
		{name: "session only, no cookie", sessionOnly: true, wantAsked: 0},
		{name: "session only, bearer is not its transport", sessionOnly: true, bearer: true, wantAsked: 0},
		{name: "session only, valid cookie", sessionOnly: true, cookie: "good", wantUser: "u1", wantAsked: 0},
		{name: "session only, forged cookie", sessionOnly: true, cookie: "forged", wantAsked: 0},
		{name: "session only, look-alike cookie", sessionOnly: true, cookie: "gооd", wantAsked: 0}, // Cyrillic о
		{name: "session only, null cookie", sessionOnly: true, cookie: "null", wantAsked: 0},
		{name: "not declared, no cookie", wantAsked: 1},
		{name: "not declared, bearer", bearer: true, wantUser: "u2", wantAsked: 1},
		{name: "not declared, forged cookie", cookie: "forged", wantAsked: 1},
		{name: "not declared, valid cookie", cookie: "good", wantUser: "u1", wantAsked: 0},
		{name: "session only, but sessions are another provider's", sessionOnly: true, otherSess: true, bearer: true, wantUser: "u2", wantAsked: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			users, sessions := &bearerUsers{}, &cookieSessions{}
			p := Provider{Name: "idp", User: users, Session: sessions, ManagesSessions: true, SessionOnly: tc.sessionOnly}
			plugins := []Provider{p}
			if tc.otherSess {
				p.Session = nil
				plugins = []Provider{p, {Name: "store", Session: sessions, SessionOnly: true}}
			}
			c, err := Compose(plugins, Provider{Name: BuiltinName}, Selection{CapUser: {"idp"}})
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("GET", "/api/auth/me", nil)
			if tc.cookie != "" {
				r.AddCookie(&http.Cookie{Name: "sid", Value: tc.cookie})
			}
			if tc.bearer {
				r.Header.Set("Authorization", "Bearer u2")
			}
			u, _, err := c.CurrentUser(context.Background(), r)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if u != nil {
				got = u.ID
			}
			if got != tc.wantUser || users.asked.Load() != tc.wantAsked {
				t.Fatalf("user %q after %d CurrentUser calls, want %q after %d", got, users.asked.Load(), tc.wantUser, tc.wantAsked)
			}
		})
	}
}
