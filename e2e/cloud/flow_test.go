package cloud

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authhost/authhost/internal/testenv/jwtpeek"
	"github.com/authhost/authhost/internal/testenv/oidc"
)

// TestCodeFlow signs users in through authhost with the code flow (PKCE,
// state, nonce) and checks what /me reports: claims mapped to the user,
// the roles claim mapped through role_mapping to permissions. With
// `user: none` the same works from the session capability alone.
func TestCodeFlow(t *testing.T) {
	t.Parallel()
	f := start(t, options{})

	anon := f.env.Client()
	wantNoSession(t, anon)

	// The authorization URL authhost hands out.
	loginURL := f.startLogin(t, anon, "/dashboard")
	q, _ := url.Parse(loginURL)
	for k, want := range map[string]string{"response_type": "code", "client_id": oidc.ClientID, "code_challenge_method": "S256",
		"redirect_uri": f.env.URL + "/api/auth/sso/callback", "scope": "openid profile email offline_access"} {
		if got := q.Query().Get(k); got != want {
			t.Errorf("authorization URL %s = %q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if len(q.Query().Get(k)) < 32 {
			t.Errorf("authorization URL %s = %q, want a random value", k, q.Query().Get(k))
		}
	}
	if f.stateCookie(anon) == "" {
		t.Error("no sealed state cookie after sso/login")
	}

	for _, tc := range []struct {
		name, user, pass  string
		want              me
		wantEmailVerified bool
		userCap           string
	}{
		{name: "alice", user: oidc.TestUser, pass: oidc.TestPassword, userCap: "cloud", wantEmailVerified: true,
			want: me{ID: oidc.UserID, Email: oidc.UserEmail, Name: oidc.UserName, AvatarURL: alicePicture, Roles: []string{"admin", "staff"},
				Permissions: []string{"*", "agents:read", "workflows:read"}}},
		{name: "unmapped role gets _default", user: oidc.OtherUser, pass: oidc.OtherPassword, userCap: "cloud",
			want: me{ID: oidc.OtherUserID, Email: "bob@example.com", Name: "Bob Builder", Roles: []string{"guest"}, Permissions: []string{"agents:read"}}},
		{name: "session capability alone (user: none)", user: oidc.TestUser, pass: oidc.TestPassword, userCap: "none", wantEmailVerified: true,
			want: me{ID: oidc.UserID, Email: oidc.UserEmail, Name: oidc.UserName, AvatarURL: alicePicture, Roles: []string{"admin", "staff"},
				Permissions: []string{"*", "agents:read", "workflows:read"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := f
			if tc.userCap != "cloud" {
				env = start(t, options{op: f.op, vars: map[string]string{"USER_CAP": tc.userCap}})
			}
			c := env.env.Client()
			env.signIn(t, c, tc.user, tc.pass)
			if c.Cookie("authhost_cloud") == "" || env.stateCookie(c) != "" {
				t.Fatalf("cookies after the callback: session %q, sso state %q", c.Cookie("authhost_cloud"), env.stateCookie(c))
			}
			got := mustMe(t, c, tc.want.ID)
			got.Roles, got.Permissions = sorted(got.Roles), sorted(got.Permissions)
			if got.Email != tc.want.Email || got.Name != tc.want.Name || got.AvatarURL != tc.want.AvatarURL ||
				!slices.Equal(got.Roles, tc.want.Roles) || !slices.Equal(got.Permissions, tc.want.Permissions) {
				t.Fatalf("me = %+v\nwant %+v", got, tc.want)
			}
			var full struct {
				Metadata map[string]any `json:"metadata"`
			}
			c.Do(t, "GET", "/api/auth/me", nil).Decode(t, &full)
			if (full.Metadata["email_verified"] == true) != tc.wantEmailVerified || full.Metadata["issuer"] != env.op.Issuer {
				t.Fatalf("me metadata = %v", full.Metadata)
			}
		})
	}
}

// TestLoginButton checks the login button in the capabilities answer
// comes from the plugin's config (provider id, text, icon).
func TestLoginButton(t *testing.T) {
	t.Parallel()
	f := start(t, options{})
	var caps struct {
		Login struct {
			Type string `json:"type"`
			SSO  struct {
				Provider, Text, Icon, URL string
			} `json:"sso"`
		} `json:"login"`
	}
	f.env.Client().Do(t, "GET", "/api/auth/capabilities", nil).Decode(t, &caps)
	s := caps.Login.SSO
	if caps.Login.Type != "sso" || s.Provider != "acme" || s.Text != "Sign in with Acme" || s.Icon != "https://acme.example/icon.svg" ||
		!strings.HasSuffix(s.URL, "/api/auth/sso/login") {
		t.Fatalf("capabilities login = %+v", caps.Login)
	}
}

// TestLogout checks that logout through authhost ends the plugin's
// session: the refresh token is revoked at the issuer, the cookie is
// cleared, the old cookie no longer works, and the answer carries the
// issuer's end_session URL with id_token_hint, which the issuer accepts.
func TestLogout(t *testing.T) {
	t.Parallel()
	f := start(t, options{})
	c := f.env.Client()
	f.signIn(t, c, oidc.TestUser, oidc.TestPassword)
	mustMe(t, c, oidc.UserID)
	live := f.op.LiveRefreshTokens(oidc.UserID)
	if len(live) != 1 {
		t.Fatalf("live refresh tokens after sign-in: %d, want 1 (offline_access)", len(live))
	}
	cookie := c.Cookie("authhost_cloud")

	r := c.Do(t, "POST", "/api/auth/logout", nil)
	var out struct {
		Success    bool   `json:"success"`
		RedirectTo string `json:"redirectTo"`
	}
	r.Decode(t, &out)
	if r.Status != http.StatusOK || !out.Success {
		t.Fatalf("logout = %d %s", r.Status, r.Body)
	}
	cleared := false
	for _, sc := range r.Header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "authhost_cloud=;") && strings.Contains(sc, "Max-Age=0") {
			cleared = true
		}
	}
	if !cleared {
		t.Errorf("logout did not clear the session cookie: %q", r.Header.Values("Set-Cookie"))
	}
	wantNoSession(t, c)
	if live := f.op.LiveRefreshTokens(oidc.UserID); len(live) != 0 {
		t.Errorf("refresh tokens still valid at the issuer after logout: %d", len(live))
	}
	if code := refreshAtOP(t, f.op, live[0]); code == http.StatusOK {
		t.Error("the issuer still accepts the session's refresh token")
	}
	replay := f.env.Client()
	replay.SetCookie("authhost_cloud", cookie)
	if status, _ := getMe(t, replay); status != http.StatusUnauthorized {
		t.Errorf("old session cookie after logout: me = %d, want 401", status)
	}

	// The end_session URL: id_token_hint is the session's ID token.
	u, err := url.Parse(out.RedirectTo)
	if err != nil || !strings.HasPrefix(out.RedirectTo, f.op.Issuer+"/end_session?") {
		t.Fatalf("redirectTo = %q", out.RedirectTo)
	}
	hint := u.Query().Get("id_token_hint")
	if claims := jwtpeek.Claims(t, hint); claims["sub"] != oidc.UserID || claims["aud"] == nil ||
		u.Query().Get("client_id") != oidc.ClientID || u.Query().Get("post_logout_redirect_uri") != f.env.URL {
		t.Fatalf("end_session query = %v", u.Query())
	}
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(out.RedirectTo)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != f.env.URL {
		t.Fatalf("end_session at the issuer = %d Location %q, want a redirect to %s", resp.StatusCode, loc, f.env.URL)
	}

	// The logout was audited.
	admin := f.env.Client()
	f.signIn(t, admin, oidc.TestUser, oidc.TestPassword)
	if ev := audit(t, admin, "auth.logout"); len(ev) != 1 || ev[0].Outcome != "success" {
		t.Fatalf("auth.logout events = %+v", ev)
	}
}

// TestRefresh checks that POST /api/auth/refresh rotates the refresh token
// at the issuer (the old one stops working) and keeps the session and its
// cookie. Rotation on a request, concurrent rotation and a refresh the
// issuer refuses are the session rotation suite's
// (TestSessionRotationConformance).
func TestRefresh(t *testing.T) {
	t.Parallel()
	f := start(t, options{})
	// expires_in below the plugin's 30 s refresh leeway: every request
	// finds the access token due, without waiting.
	f.op.SetAccessTokenLifetime(10 * time.Second)
	c := f.env.Client()
	f.signIn(t, c, oidc.TestUser, oidc.TestPassword)
	cookie := c.Cookie("authhost_cloud")
	prev := f.op.LiveRefreshTokens(oidc.UserID)
	if len(prev) != 1 {
		t.Fatalf("live refresh tokens after sign-in: %v", prev)
	}

	rotate := func(t *testing.T, do func()) {
		t.Helper()
		do()
		live := f.op.LiveRefreshTokens(oidc.UserID)
		if len(live) != 1 || live[0] == prev[0] {
			t.Fatalf("live refresh tokens %v, want one new token replacing %v", live, prev)
		}
		if code := refreshAtOP(t, f.op, prev[0]); code == http.StatusOK {
			t.Fatal("the rotated-away refresh token still works")
		}
		if got := c.Cookie("authhost_cloud"); got != cookie {
			t.Fatalf("session cookie changed from %q to %q", cookie, got)
		}
		prev = live
	}
	t.Run("POST /api/auth/refresh", func(t *testing.T) {
		rotate(t, func() {
			if r := c.Do(t, "POST", "/api/auth/refresh", nil); r.Status != http.StatusOK {
				t.Fatalf("refresh = %d %s", r.Status, r.Body)
			}
		})
		mustMe(t, c, oidc.UserID)
	})
}

// TestLogoutMinimalIssuer logs out against an issuer whose discovery
// document names neither a revocation nor an end_session endpoint: the
// session still ends and its cookie is cleared, redirectTo is empty, and
// the refresh token, which there is no way to revoke, stays valid at the
// issuer.
func TestLogoutMinimalIssuer(t *testing.T) {
	t.Parallel()
	op := oidc.New(t)
	op.RewriteDiscovery(func(d map[string]any) {
		delete(d, "revocation_endpoint")
		delete(d, "end_session_endpoint")
	})
	f := start(t, options{op: op})
	c := f.env.Client()
	f.signIn(t, c, oidc.TestUser, oidc.TestPassword)
	mustMe(t, c, oidc.UserID)
	cookie := c.Cookie("authhost_cloud")

	r := c.Do(t, "POST", "/api/auth/logout", nil)
	var out struct {
		Success    bool    `json:"success"`
		RedirectTo *string `json:"redirectTo"`
	}
	r.Decode(t, &out)
	if r.Status != http.StatusOK || !out.Success || out.RedirectTo != nil && *out.RedirectTo != "" {
		t.Fatalf("logout = %d %s", r.Status, r.Body)
	}
	wantNoSession(t, c)
	replay := f.env.Client()
	replay.SetCookie("authhost_cloud", cookie)
	if status, _ := getMe(t, replay); status != http.StatusUnauthorized {
		t.Fatalf("old session cookie after logout: me = %d, want 401", status)
	}
	if live := op.LiveRefreshTokens(oidc.UserID); len(live) != 1 {
		t.Fatalf("live refresh tokens %d, want the unrevocable one", len(live))
	}
}

// TestSlidingUsesThePluginTTL: the plugin reports its sliding lifetime
// (session_ttl_seconds, 24 h by default), so a fresh session is not
// refreshed on every request although the host's own TTL is a week: /me
// re-issues no cookie.
func TestSlidingUsesThePluginTTL(t *testing.T) {
	t.Parallel()
	f := start(t, options{})
	c := f.env.Client()
	f.signIn(t, c, oidc.TestUser, oidc.TestPassword)
	for range 2 {
		r := c.Do(t, "GET", "/api/auth/me", nil)
		if r.Status != http.StatusOK {
			t.Fatalf("/me = %d %s", r.Status, r.Body)
		}
		if sc := r.Header.Values("Set-Cookie"); len(sc) > 0 {
			t.Fatalf("/me on a fresh session re-issued cookies %q: the host slid it by its own TTL", sc)
		}
	}
}
