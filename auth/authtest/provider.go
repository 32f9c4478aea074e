package authtest

import (
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/authhost/authhost/auth"
)

// TestUser checks a user provider: an unknown or empty id is no user (not
// an error), a request without credentials has no current user, and, when
// known is set (a user the provider returned, e.g. from a sign-in),
// user_get returns that user.
func TestUser(t T, p auth.UserProvider, known *auth.User) {
	t.Helper()
	ctx := t.Context()
	t.Run("GetUnknown", func(t T) {
		for _, id := range []string{"conformance-unknown-" + randHex(6), "null", "../" + randHex(4), "id\x00"} {
			u, err := p.GetUser(ctx, id)
			if err != nil && auth.CodeOf(err) != auth.CodeInvalidRequest || u != nil {
				t.Errorf("SPEC.md §5.1 user_get: {id:%q} (unknown) answered user=%+v err=%v, want user null", id, u, err)
			}
		}
	})
	t.Run("CurrentAnonymous", func(t T) {
		u, err := p.CurrentUser(ctx, httptest.NewRequest("GET", "/api/auth/me", nil))
		if err != nil || u != nil {
			t.Errorf("SPEC.md §5.1 user_current: a request without cookie or token answered user=%+v err=%v, want user null", u, err)
		}
	})
	if known == nil {
		return
	}
	t.Run("GetKnown", func(t T) {
		u, err := p.GetUser(ctx, known.ID)
		if err != nil || u == nil {
			t.Fatalf("SPEC.md §5.1 user_get: {id:%q} of a signed-in user answered user=%+v err=%v", known.ID, u, err)
		}
		if u.ID != known.ID || !strings.EqualFold(u.Email, known.Email) {
			t.Errorf("SPEC.md §5.1 user_get: {id:%q} answered %+v, want id %q email %q", known.ID, u, known.ID, known.Email)
		}
	})
}

// TestSSO checks an SSO provider without an identity provider's login: the
// login URL is absolute and carries state and the PKCE challenge unchanged,
// and a callback with a made-up code is refused with invalid_credentials,
// invalid_request or unavailable (never a success or internal).
func TestSSO(t T, p auth.SSOProvider) {
	t.Helper()
	ctx := t.Context()
	t.Run("LoginURL", func(t T) {
		req := auth.SSOLoginRequest{
			RedirectURI: "http://127.0.0.1:8080/api/auth/sso/callback", State: "st-" + randHex(8), Nonce: "n-" + randHex(8),
			CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", CodeChallengeMethod: "S256",
		}
		raw, err := p.LoginURL(ctx, req)
		if err != nil {
			t.Fatalf("SPEC.md §5.3 sso_login_url: %+v answered %v", req, err)
		}
		u, err := url.Parse(raw)
		if err != nil || !u.IsAbs() || (u.Scheme != "https" && u.Scheme != "http") {
			t.Fatalf("SPEC.md §5.3 sso_login_url: answered %q, want an absolute http(s) URL", raw)
		}
		q := u.Query()
		if q.Get("state") != req.State || q.Get("code_challenge") != req.CodeChallenge {
			t.Errorf("SPEC.md §5.3 sso_login_url: %q does not carry state %q and code_challenge %q unchanged", raw, req.State, req.CodeChallenge)
		}
	})
	t.Run("CallbackBadCode", func(t T) {
		req := auth.SSOCallbackRequest{
			Code: "made-up-" + randHex(8), State: "st-" + randHex(8), CodeVerifier: randHex(32),
			RedirectURI: "http://127.0.0.1:8080/api/auth/sso/callback",
		}
		res, err := p.Callback(ctx, req)
		switch auth.CodeOf(err) {
		case auth.CodeInvalidCredentials, auth.CodeInvalidRequest, auth.CodeUnavailable:
		default:
			t.Errorf("SPEC.md §5.3 sso_callback: a made-up code answered result=%+v err=%v, want invalid_credentials", res, errOrOK(err))
		}
	})
}

// TestRBACProvider checks that roles and permissions of user u (one the
// provider knows, or a made-up one) are answered without error.
func TestRBACProvider(t T, p auth.RBACProvider, u auth.User) {
	t.Helper()
	ctx := t.Context()
	t.Run("RolesAndPermissions", func(t T) {
		if _, err := p.Roles(ctx, u); err != nil {
			t.Errorf("SPEC.md §5.5 rbac_roles: {user:{id:%q}} answered %v", u.ID, err)
		}
		if _, err := p.Permissions(ctx, u); err != nil {
			t.Errorf("SPEC.md §5.5 rbac_permissions: {user:{id:%q}} answered %v", u.ID, err)
		}
	})
}

// TestSessionBasics checks what a session provider must answer without a
// session of its own (sessions of SSO providers come only from a browser
// login): an unknown session id validates and refreshes to no session,
// destroying it succeeds, and a request without cookie carries no
// session id. The full behaviour is TestSessionProvider's.
func TestSessionBasics(t T, p auth.SessionProvider) {
	t.Helper()
	ctx := t.Context()
	t.Run("UnknownSession", func(t T) {
		for _, id := range []string{"conformance-unknown-" + randHex(8), "null", "", "id\x00"} {
			if s, err := p.ValidateSession(ctx, id); s != nil || err != nil && auth.CodeOf(err) != auth.CodeInvalidRequest {
				t.Errorf("SPEC.md §5.2 session_validate: {session_id:%q} (unknown) answered session=%+v err=%v, want session null", id, s, err)
			}
			if s, err := p.RefreshSession(ctx, id); s != nil || err != nil && auth.CodeOf(err) != auth.CodeInvalidRequest {
				t.Errorf("SPEC.md §5.2 session_refresh: {session_id:%q} (unknown) answered session=%+v err=%v, want session null", id, s, err)
			}
			if err := p.DestroySession(ctx, id); err != nil && auth.CodeOf(err) != auth.CodeInvalidRequest {
				t.Errorf("SPEC.md §5.2 session_destroy: {session_id:%q} (unknown) answered %v, want success", id, err)
			}
		}
	})
	t.Run("RoundTrip", func(t T) {
		user := "conformance-user-" + randHex(4)
		s, err := p.CreateSession(ctx, user, map[string]any{"ip": "203.0.113.7"})
		if auth.CodeOf(err) == auth.CodeNotSupported {
			t.Skipf("session_create answers not_supported: sessions come from sign-in, not checked here")
		}
		if err != nil || s == nil || s.ID == "" || s.UserID != user {
			t.Fatalf("SPEC.md §5.2 session_create: {user_id:%q} answered session=%+v err=%v, want a session of that user", user, s, err)
		}
		if v, err := p.ValidateSession(ctx, s.ID); err != nil || v == nil || v.UserID != user {
			t.Errorf("SPEC.md §5.2 session_validate: a session just created answered session=%+v err=%v", v, err)
		}
		if r, err := p.RefreshSession(ctx, s.ID); err != nil || r == nil || r.UserID != user {
			t.Errorf("SPEC.md §5.2 session_refresh: a session just created answered session=%+v err=%v", r, err)
		}
		if c, err := p.SessionCookies(ctx, s); err != nil || len(c) == 0 {
			t.Errorf("SPEC.md §5.2 session_headers: answered %q, %v; want Set-Cookie values", c, err)
		}
	})
	t.Run("NoCookie", func(t T) {
		id, err := p.SessionIDFromRequest(ctx, httptest.NewRequest("GET", "/api/auth/me", nil))
		if id != "" || err != nil && auth.CodeOf(err) != auth.CodeNotSupported {
			t.Errorf("SPEC.md §5.2 session_id_from_request: a request without cookie answered %q, %v; want \"\"", id, err)
		}
	})
}
