package workos

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/authhost/authhost/internal/testenv/workos"
)

// TestSSOLogin signs a user in through authhost's API and WorkOS's hosted
// page: the authorization URL is AuthKit's with authhost's callback, state
// and an S256 PKCE challenge; the callback exchanges the code, sets the
// plugin's session cookie and returns to the app; /me then has the WorkOS
// profile, the organization role and the mapped permissions, with no
// further WorkOS call needed for the profile.
func TestSSOLogin(t *testing.T) {
	t.Parallel()
	env := start(t, options{})
	u := newUser("ada", orgID, "admin")
	c := env.Client()

	authURL := authorize(t, c)
	q := authURL.Query()
	want := map[string]string{
		"client_id": emu.ClientID, "provider": "authkit", "response_type": "code",
		"redirect_uri": env.URL + "/api/auth/sso/callback", "code_challenge_method": "S256",
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("authorization URL %s = %q, want %q", k, q.Get(k), v)
		}
	}
	if authURL.Scheme+"://"+authURL.Host+authURL.Path != emu.URL+"/user_management/authorize" || len(q.Get("state")) < 32 || len(q.Get("code_challenge")) != 43 {
		t.Fatalf("authorization URL %s", authURL)
	}
	back := hostedLogin(t, authURL, u.Email)
	bq := mustQuery(t, back)
	if bq.Get("state") != q.Get("state") || bq.Get("code") == "" {
		t.Fatalf("WorkOS redirect %s lost the state or the code", back)
	}
	r := c.Do(t, "GET", back, nil)
	if r.Status != http.StatusFound || (r.Location() != "/" && r.Location() != env.URL+"/") {
		t.Fatalf("callback = %d to %q, want 302 to the app\n%s", r.Status, r.Location(), r.Body)
	}
	if c.Cookie("wos_session") == "" {
		t.Fatal("callback set no wos_session cookie")
	}
	for _, sc := range r.Header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "wos_session=") && !strings.Contains(sc, "HttpOnly") {
			t.Errorf("session cookie is not HttpOnly: %s", sc)
		}
	}

	status, m := getMe(t, c)
	if status != http.StatusOK {
		t.Fatalf("/me = %d", status)
	}
	if m.ID != u.ID || m.Email != u.Email || m.Name != "Ada Tester" || m.AvatarURL != u.ProfilePictureURL {
		t.Errorf("/me profile = %+v, want %s %s", m, u.ID, u.Email)
	}
	if !slices.Equal(m.Roles, []string{"admin"}) || !sameSet(m.Permissions, roleMapping["admin"]) {
		t.Errorf("/me roles %v permissions %v, want [admin] %v", m.Roles, m.Permissions, roleMapping["admin"])
	}

	// The code is single use: replaying the callback is refused (the
	// sealed state cookie is gone too), and the session is unaffected.
	r = c.Do(t, "GET", back, nil)
	if r.Status != http.StatusFound || !strings.Contains(r.Location(), "error=") {
		t.Fatalf("replayed callback = %d %q, want a redirect with an error", r.Status, r.Location())
	}
	if status, _ := getMe(t, c); status != http.StatusOK {
		t.Fatalf("/me after a replayed callback = %d", status)
	}

	// redirect=true answers with the redirect itself.
	r = env.Client().Do(t, "GET", "/api/auth/sso/login?redirect=true", nil)
	if r.Status != http.StatusFound || !strings.HasPrefix(r.Location(), emu.URL+"/user_management/authorize?") {
		t.Fatalf("sso login redirect=true = %d %q", r.Status, r.Location())
	}
}

// TestSSOCallbackRejects checks that a callback without authhost's sealed
// state, with a foreign state, or with a code of another login never
// creates a session.
func TestSSOCallbackRejects(t *testing.T) {
	t.Parallel()
	env := start(t, options{})
	u := newUser("mallory", orgID, "member")

	// A code obtained in one browser cannot be redeemed in another.
	victim := env.Client()
	back := hostedLogin(t, authorize(t, victim), u.Email)
	attacker := env.Client()
	r := attacker.Do(t, "GET", back, nil)
	if r.Status != http.StatusFound || !strings.Contains(r.Location(), "error=invalid_state") || attacker.Cookie("wos_session") != "" {
		t.Fatalf("callback without the state cookie = %d %q", r.Status, r.Location())
	}

	// A callback carrying another login's state is refused (login CSRF).
	c := env.Client()
	authorize(t, c) // c's sealed state
	other := env.Client()
	back = hostedLogin(t, authorize(t, other), u.Email)
	bq := mustQuery(t, back)
	r = c.Do(t, "GET", back, nil)
	if r.Status != http.StatusFound || !strings.Contains(r.Location(), "error=") || c.Cookie("wos_session") != "" {
		t.Fatalf("callback with another login's state %s = %d %q", bq.Get("state"), r.Status, r.Location())
	}

	// An unknown user at the hosted page gets no code at all.
	res, err := browser().PostForm(emu.URL+"/user_management/authorize/login", mergeForm(authorize(t, env.Client()).Query(), "email", "nobody@e2e.example"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unknown user at the hosted page = %d", res.StatusCode)
	}
}

// TestSSOSelection checks each identity source the plugin can ask WorkOS
// for (config sso.connection, sso.provider, sso.organization, else AuthKit
// with a screen hint): the authorization URL carries exactly that one, and
// an organization (directly or through its connection) decides the
// organization of the session and so the role.
func TestSSOSelection(t *testing.T) {
	t.Parallel()
	emu.AddConnection(workos.Connection{ID: "conn_01E2EOTHER", OrganizationID: otherOrgID, Type: "OktaSAML"})
	cases := []struct {
		name       string
		sso        map[string]any
		key, value string
		role       string // /me role of a user who is member of orgID and admin of otherOrgID
	}{
		{"connection", map[string]any{"connection": "conn_01E2EOTHER", "provider": "GoogleOAuth"}, "connection_id", "conn_01E2EOTHER", "admin"},
		{"provider", map[string]any{"provider": "GoogleOAuth", "organization": otherOrgID}, "provider", "GoogleOAuth", "member"},
		{"organization", map[string]any{"organization": otherOrgID}, "organization_id", otherOrgID, "admin"},
		{"authkit", map[string]any{"screen_hint": "sign-up"}, "screen_hint", "sign-up", "member"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Roles come from the session's organization here, so the
			// plugin is not pinned to one organization.
			env := start(t, options{plugin: map[string]any{"sso": tc.sso, "organization_id": nil}})
			u := newUser("sel", orgID, "member", otherOrgID, "admin")
			c := env.Client()
			authURL := authorize(t, c)
			q := authURL.Query()
			set := 0
			for _, k := range []string{"connection_id", "provider", "organization_id"} {
				if q.Get(k) != "" {
					set++
				}
			}
			if q.Get(tc.key) != tc.value || (set != 1) {
				t.Fatalf("authorization URL %s: want only %s=%s", authURL, tc.key, tc.value)
			}
			r := c.Do(t, "GET", hostedLogin(t, authURL, u.Email), nil)
			if r.Status != http.StatusFound || strings.Contains(r.Location(), "error=") {
				t.Fatalf("callback = %d %q", r.Status, r.Location())
			}
			status, m := getMe(t, c)
			if status != http.StatusOK || !slices.Equal(m.Roles, []string{tc.role}) {
				t.Fatalf("/me = %d roles %v, want [%s]", status, m.Roles, tc.role)
			}
		})
	}
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

func mergeForm(v url.Values, k, val string) url.Values {
	out := url.Values{k: {val}}
	for x, y := range v {
		out[x] = y
	}
	return out
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
