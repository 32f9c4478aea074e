package betterauth_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/authhost/authhost/internal/testenv/betterauth"
)

// TestSignUpSignInMeLogout walks one user through authhost's API with
// Better Auth behind it: sign-up, sign-in, /me, logout, and the old cookie
// rejected afterwards, in this client and replayed in a fresh one.
func TestSignUpSignInMeLogout(t *testing.T) {
	t.Parallel()
	peer := betterauth.Start(t)
	env := startAuthhost(t, peer)
	email := uniqueEmail(t)

	c := env.Client()
	up := signUp(t, c, email, "Alice")
	if up.User.ID == "" || up.User.Email != email || up.User.Name != "Alice" {
		t.Fatalf("sign-up user = %+v", up.User)
	}
	if c.Cookie(sessionCookie) == "" {
		t.Fatalf("sign-up set no %s cookie", sessionCookie)
	}

	c = env.Client()
	r := signIn(t, c, email, password)
	if r.Status != http.StatusOK {
		t.Fatalf("sign-in = %d %s", r.Status, r.Body)
	}
	var in authBody
	r.Decode(t, &in)
	if in.User.ID != up.User.ID {
		t.Fatalf("sign-in user %q, sign-up user %q", in.User.ID, up.User.ID)
	}
	cookie := c.Cookie(sessionCookie)
	if cookie == "" {
		t.Fatalf("sign-in set no %s cookie: %v", sessionCookie, r.Header.Values("Set-Cookie"))
	}

	// Better Auth's image is authhost's avatar: set one on Better Auth.
	const image = "https://img.example/alice.png"
	if st, _, body := peerCall(t, peer, "POST", "/update-user", map[string]string{"image": image},
		http.Header{"Authorization": {"Bearer " + in.Token}}); st != http.StatusOK {
		t.Fatalf("peer update-user = %d %s", st, body)
	}

	status, u, resp := me(t, c)
	if status != http.StatusOK {
		t.Fatalf("me = %d %s", status, resp.Body)
	}
	if u.ID != up.User.ID || u.Email != email || u.Name != "Alice" || u.AvatarURL != image {
		t.Fatalf("me = %+v", u)
	}
	if v, ok := u.Metadata["emailVerified"]; !ok || v != false {
		t.Errorf("me metadata emailVerified = %v (present %v), want false: %s", v, ok, resp.Body)
	}
	for _, k := range []string{"createdAt", "updatedAt"} {
		s, _ := u.Metadata[k].(string)
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			t.Errorf("me metadata %s = %q: %v", k, s, err)
		}
	}

	// Refresh re-issues Better Auth's cookie for the same session.
	if r := c.Do(t, "POST", "/api/auth/refresh", nil); r.Status != http.StatusOK {
		t.Fatalf("refresh = %d %s", r.Status, r.Body)
	}
	if got := c.Cookie(sessionCookie); got == "" {
		t.Fatal("refresh dropped the session cookie")
	}
	cookie = c.Cookie(sessionCookie)
	if status, _, r := me(t, c); status != http.StatusOK {
		t.Fatalf("me after refresh = %d %s", status, r.Body)
	}

	if r := c.Do(t, "POST", "/api/auth/logout", nil); r.Status != http.StatusOK {
		t.Fatalf("logout = %d %s", r.Status, r.Body)
	}
	if c.Cookie(sessionCookie) != "" {
		t.Errorf("logout left the session cookie in the jar")
	}
	if status, _, resp := me(t, c); status != http.StatusUnauthorized {
		t.Fatalf("me after logout = %d %s, want 401", status, resp.Body)
	}
	// The old cookie value, replayed: in this client and in a fresh one.
	c.SetCookie(sessionCookie, cookie)
	if status, _, resp := me(t, c); status != http.StatusUnauthorized {
		t.Fatalf("me with the old cookie = %d %s, want 401", status, resp.Body)
	}
	fresh := env.Client()
	fresh.SetCookie(sessionCookie, cookie)
	if status, _, resp := me(t, fresh); status != http.StatusUnauthorized {
		t.Fatalf("me with the old cookie in a fresh client = %d %s, want 401", status, resp.Body)
	}
	// Better Auth agrees the session is gone.
	if st, _, body := peerCall(t, peer, "GET", "/get-session", nil, http.Header{"Cookie": {sessionCookie + "=" + cookie}}); st != http.StatusOK || string(body) != "null" {
		t.Fatalf("peer get-session with the old cookie = %d %s, want 200 null", st, body)
	}
}
