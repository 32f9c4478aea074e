package workos

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/workos/workos-go/v4/pkg/usermanagement"

	"github.com/authhost/authhost/internal/testenv/jwtpeek"
)

// refreshRejected reports whether WorkOS (the emulator, through the
// unmodified SDK) refuses refresh token rt.
func refreshRejected(t *testing.T, rt string) bool {
	t.Helper()
	um := usermanagement.NewClient(emu.APIKey)
	um.Endpoint = emu.URL
	_, err := um.AuthenticateWithRefreshToken(context.Background(), usermanagement.AuthenticateWithRefreshTokenOpts{ClientID: emu.ClientID, RefreshToken: rt})
	return err != nil && strings.Contains(err.Error(), "invalid_grant")
}

// TestBearerAccessToken checks the plugin's verification of WorkOS access
// tokens sent as Authorization: Bearer: a token WorkOS issued identifies
// its user (profile fetched from WorkOS, role from the token); an expired,
// tampered, unsigned or foreign-issuer token, or one signed for another
// issuer than the configured one, identifies nobody.
func TestBearerAccessToken(t *testing.T) {
	t.Parallel()
	const issuer = "https://api.workos.com/user_management/client_e2e"
	env := start(t, options{plugin: map[string]any{"issuer": issuer}})
	u := newUser("bea", orgID, "member")
	now := time.Now()
	sign := func(claims map[string]any) string {
		tok, err := emu.SignJWT(claims)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := func() map[string]any {
		return map[string]any{"iss": issuer, "sub": u.ID, "sid": "session_bearer", "org_id": orgID, "role": "member",
			"roles": []string{"member"}, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": "j1"}
	}
	valid := sign(good())
	with := func(k string, v any) string {
		cl := good()
		if v == nil {
			delete(cl, k)
		} else {
			cl[k] = v
		}
		return sign(cl)
	}
	parts := strings.Split(valid, ".")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"`+issuer+`","sub":"`+u.ID+`","role":"owner","org_id":"`+orgID+`","exp":9999999999}`)) + "." + parts[2]

	c := env.Client()
	c.Header.Set("Authorization", "Bearer "+valid)
	status, m := getMe(t, c)
	if status != http.StatusOK || m.ID != u.ID || m.Email != u.Email || m.Name != "Bea Tester" || len(m.Roles) != 1 || m.Roles[0] != "member" {
		t.Fatalf("/me with a valid token = %d %+v", status, m)
	}
	for _, tc := range []struct{ name, token string }{
		{"expired", with("exp", now.Add(-time.Hour).Unix())},
		{"issued in the future", with("iat", now.Add(time.Hour).Unix())},
		{"default WorkOS issuer not configured", with("iss", emu.URL)},
		{"no subject", with("sub", nil)},
		{"unknown user", with("sub", "user_01UNKNOWN")},
		{"tampered claims", tampered},
		{"alg none", none},
		{"not a JWT", "opaque-token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := env.Client()
			c.Header.Set("Authorization", "Bearer "+tc.token)
			if status, m := getMe(t, c); status != http.StatusUnauthorized {
				t.Fatalf("/me = %d %+v, want 401", status, m)
			}
		})
	}
}

// TestRefresh expires a session's access token and checks the session
// lives on: /me refreshes it transparently with the single-use refresh
// token (the old one is then refused by WorkOS) without moving the
// session's expiry, POST /api/auth/refresh rotates it again, extends the
// session and re-issues the cookie, a session past half its life is slid
// (cookie re-issued) by a plain /me, and a refresh token that was really
// spent elsewhere (outside the grace window) ends the session.
func TestRefresh(t *testing.T) {
	t.Parallel()
	env := start(t, options{})
	u := newUser("rex", orgID, "admin")
	c := signedIn(t, env, u.Email)
	id := c.Cookie("wos_session")
	before := expireAccessToken(t, env, id)

	status, m := getMe(t, c)
	if status != http.StatusOK || m.ID != u.ID || m.Email != u.Email || len(m.Roles) != 1 || m.Roles[0] != "admin" {
		t.Fatalf("/me with an expired access token = %d %+v", status, m)
	}
	after := readSession(t, env, id)
	if after["refresh_token"] == before["refresh_token"] || after["access_token"] == before["access_token"] {
		t.Fatal("the expired access token was not refreshed")
	}
	if exp, _ := jwtpeek.Claims(t, after["access_token"].(string))["exp"].(float64); time.Unix(int64(exp), 0).Before(time.Now()) {
		t.Fatal("the refreshed access token is expired")
	}
	if !refreshRejected(t, before["refresh_token"].(string)) {
		t.Fatal("WorkOS accepted the spent refresh token again")
	}
	// Refreshing the access token does not move the session's expiry (its
	// cookie was not re-issued); POST /api/auth/refresh below does both.
	if after["expires_at"] != before["expires_at"] {
		t.Fatalf("a token refresh moved the session expiry from %v to %v without re-issuing the cookie", before["expires_at"], after["expires_at"])
	}

	r := c.Do(t, "POST", "/api/auth/refresh", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("POST /api/auth/refresh = %d %s", r.Status, r.Body)
	}
	reissued := false
	for _, sc := range r.Header.Values("Set-Cookie") {
		reissued = reissued || strings.HasPrefix(sc, "wos_session="+id+";")
	}
	if !reissued {
		t.Fatalf("refresh did not re-issue the session cookie: %v", r.Header.Values("Set-Cookie"))
	}
	again := readSession(t, env, id)
	if again["refresh_token"] == after["refresh_token"] {
		t.Fatal("POST /api/auth/refresh did not rotate the refresh token")
	}
	if expiry(t, again) <= expiry(t, after) {
		t.Fatalf("POST /api/auth/refresh did not extend the session (%v → %v)", after["expires_at"], again["expires_at"])
	}
	if status, _ := getMe(t, c); status != http.StatusOK {
		t.Fatalf("/me after refresh = %d", status)
	}

	// A session past half its life is slid by the host on any request:
	// /me itself extends it and re-issues the cookie.
	aging := readSession(t, env, id)
	aging["expires_at"] = time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339Nano)
	writeSession(t, env, id, aging)
	r = c.Do(t, "GET", "/api/auth/me", nil)
	reissued = false
	for _, sc := range r.Header.Values("Set-Cookie") {
		reissued = reissued || strings.HasPrefix(sc, "wos_session="+id+";")
	}
	if r.Status != http.StatusOK || !reissued || expiry(t, readSession(t, env, id)) < time.Now().Add(24*time.Hour).UnixNano() {
		t.Fatalf("/me of an aging session = %d, cookie re-issued %v, expiry %v", r.Status, reissued, readSession(t, env, id)["expires_at"])
	}
	again = readSession(t, env, id)

	// A request still holding a spent refresh token after the grace
	// window (simulated by dropping the remembered rotation) is a replay:
	// WorkOS refuses it and the session ends.
	stale := again
	expireAccessToken(t, env, id)
	if status, _ := getMe(t, c); status != http.StatusOK {
		t.Fatalf("/me = %d", status)
	}
	if err := env.App.Store.Delete(t.Context(), kvKey(rotationKey(stale["refresh_token"].(string)))); err != nil {
		t.Fatal(err)
	}
	stale["access_token"] = readSession(t, env, id)["access_token"]
	writeSession(t, env, id, stale)
	expireAccessToken(t, env, id)
	if status, _ := getMe(t, c); status != http.StatusUnauthorized {
		t.Fatalf("/me with a replayed refresh token = %d, want 401", status)
	}
}

// expiry is a stored session's expires_at in Unix nanoseconds.
func expiry(t *testing.T, rec sessionRecord) int64 {
	t.Helper()
	s, _ := rec["expires_at"].(string)
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("expires_at %q: %v", s, err)
	}
	return at.UnixNano()
}

// rotationKey mirrors pdk/kvsession's KV key of a remembered rotation.
func rotationKey(rt string) string {
	sum := sha256.Sum256([]byte(rt))
	return "rotated/" + hex.EncodeToString(sum[:])
}

// TestConcurrentRefresh checks the deterministic side of a refresh race: a
// request that read the session before another rotated its refresh token
// (and wrote the spent token back) adopts the winner's tokens instead of
// logging the user out. Truly concurrent requests are the session rotation
// suite's (TestSessionRotationConformance).
func TestConcurrentRefresh(t *testing.T) {
	t.Parallel()
	env := start(t, options{})
	u := newUser("cora", orgID, "member")
	c := signedIn(t, env, u.Email)
	id := c.Cookie("wos_session")

	// Deterministic race: a request that read the session before another
	// one rotated its refresh token refreshes with the spent token.
	stale := expireAccessToken(t, env, id)
	if status, _ := getMe(t, c); status != http.StatusOK {
		t.Fatalf("/me = %d", status)
	}
	winner := readSession(t, env, id)
	writeSession(t, env, id, stale)
	if status, m := getMe(t, c); status != http.StatusOK || m.ID != u.ID {
		t.Fatalf("/me of the losing request = %d %+v", status, m)
	}
	if got := readSession(t, env, id); got["refresh_token"] != winner["refresh_token"] {
		t.Fatal("the losing request did not adopt the winner's tokens")
	}

	if status, _ := getMe(t, c); status != http.StatusOK {
		t.Fatalf("/me after the race = %d", status)
	}
}

// TestLogout checks POST /api/auth/logout: it answers the WorkOS logout
// URL for the session's WorkOS session id (built before the session is
// destroyed), clears the cookie, revokes the WorkOS session (its refresh
// token stops working) and leaves /me at 401.
func TestLogout(t *testing.T) {
	t.Parallel()
	env := start(t, options{})
	u := newUser("lou", orgID, "member")
	c := signedIn(t, env, u.Email)
	id := c.Cookie("wos_session")
	rec := readSession(t, env, id)
	sid, _ := rec["workos_sid"].(string)
	if !strings.HasPrefix(sid, "session_") || jwtpeek.Claims(t, rec["access_token"].(string))["sid"] != sid {
		t.Fatalf("stored WorkOS session id %q", sid)
	}

	r := c.Do(t, "POST", "/api/auth/logout", nil)
	var body struct {
		Success    bool   `json:"success"`
		RedirectTo string `json:"redirectTo"`
	}
	r.Decode(t, &body)
	if r.Status != http.StatusOK || !body.Success {
		t.Fatalf("logout = %d %s", r.Status, r.Body)
	}
	lu, err := url.Parse(body.RedirectTo)
	if err != nil || lu.Scheme+"://"+lu.Host+lu.Path != emu.URL+"/user_management/sessions/logout" || lu.Query().Get("session_id") != sid ||
		strings.TrimRight(lu.Query().Get("return_to"), "/") != env.URL {
		t.Fatalf("redirectTo = %q, want the WorkOS logout URL for %s returning to %s", body.RedirectTo, sid, env.URL)
	}
	if c.Cookie("wos_session") != "" {
		t.Fatal("logout left the session cookie")
	}
	if status, _ := getMe(t, c); status != http.StatusUnauthorized {
		t.Fatalf("/me after logout = %d, want 401", status)
	}
	// Replaying the old cookie does not revive the session.
	c.SetCookie("wos_session", id)
	if status, _ := getMe(t, c); status != http.StatusUnauthorized {
		t.Fatalf("/me with the old cookie = %d, want 401", status)
	}
	if !emu.SessionEnded(sid) || !refreshRejected(t, rec["refresh_token"].(string)) {
		t.Fatal("the WorkOS session survived logout")
	}
	// The browser then follows redirectTo: WorkOS ends its session and
	// returns to authhost.
	res, err := browser().Get(body.RedirectTo)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound || strings.TrimRight(res.Header.Get("Location"), "/") != env.URL {
		t.Fatalf("WorkOS logout = %d to %q", res.StatusCode, res.Header.Get("Location"))
	}

	// Without a session, logout succeeds with nowhere to go.
	r = env.Client().Do(t, "POST", "/api/auth/logout", nil)
	body.RedirectTo = ""
	r.Decode(t, &body)
	if r.Status != http.StatusOK || body.RedirectTo != "" {
		t.Fatalf("anonymous logout = %d %s", r.Status, r.Body)
	}
}
