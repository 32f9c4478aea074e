package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/authhost/authhost/auth"
)

// TestIdentitiesNormalisedAtTheEdge: the JSON API and the form handlers
// refuse look-alike and control characters in emails before any provider
// call, strip them from names, and pass the provider the canonical form.
func TestIdentitiesNormalisedAtTheEdge(t *testing.T) {
	t.Parallel()
	h, creds := newCountingHarness(t, wideGate)
	c := h.client(t)
	bad := map[string]string{
		"zero-width space": "admin@example.com\u200b",
		"nul":              "admin@example.com\u0000",
		"bidi override":    "\u202eadmin@example.com",
		"cyrillic a":       "\u0430dmin@example.com",
		"escape":           "\u001badmin@example.com",
		"null":             "null",
	}
	for name, email := range bad {
		b, _ := json.Marshal(map[string]string{"email": email, "password": "a-long-password", "name": "Demo Admin"})
		reset, _ := json.Marshal(map[string]string{"email": email})
		for path, body := range map[string][]byte{"/api/auth/credentials/sign-up": b, "/api/auth/credentials/sign-in": b, "/api/auth/credentials/password-reset": reset} {
			r := c.do("POST", path, string(body), nil)
			if r.status != http.StatusBadRequest || r.json(t)["field"] != "email" {
				t.Errorf("%s: POST %s = %d %s, want 400 on email", name, path, r.status, r.body)
			}
		}
		for _, path := range []string{"/signup", "/login", "/forgot-password"} {
			r := c.post(path, url.Values{"email": {email}, "password": {"a-long-password"}, "name": {"Demo Admin"}})
			if r.status != http.StatusBadRequest {
				t.Errorf("%s: POST %s = %d, want 400", name, path, r.status)
			}
			bodyHas(t, r, "Enter a valid email address.")
		}
	}
	if n := creds.signIns.Load() + creds.signUps.Load(); n != 0 {
		t.Fatalf("%d refused identities reached the provider", n)
	}

	// Fullwidth letters are the address itself: the demo account.
	if r := c.signIn("ａｄｍｉｎ@ｅｘａｍｐｌｅ.ｃｏｍ", demoPassword); r.status != http.StatusOK {
		t.Errorf("fullwidth demo address = %d %s", r.status, r.body)
	}
	if r := c.signUp("ＡＤＭＩＮ@example.com", "a-long-password"); r.status != http.StatusConflict {
		t.Errorf("sign-up as the fullwidth admin = %d %s, want 409", r.status, r.body)
	}
	b, _ := json.Marshal(map[string]string{"email": " New.User@Example.com ", "password": "a-long-password", "name": "\u202eDemo\u200b  Admin\u0000"})
	r := c.do("POST", "/api/auth/credentials/sign-up", string(b), nil)
	if r.status != http.StatusCreated {
		t.Fatalf("sign-up = %d %s", r.status, r.body)
	}
	if u := r.json(t)["user"].(map[string]any); u["email"] != "new.user@example.com" || u["name"] != "Demo Admin" {
		t.Errorf("user = %v", u)
	}
	r = h.client(t).post("/signup", url.Values{"email": {"Form.User@example.com"}, "password": {"a-long-password"}, "name": {"Form\u2066 User\u2069"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("form sign-up = %d", r.status)
	}
	creds.mu.Lock()
	seen := creds.seen
	creds.mu.Unlock()
	want := map[string]bool{"admin@example.com|New User": true, "new.user@example.com|Demo Admin": true, "form.user@example.com|Form User": true}
	for _, s := range seen {
		if !want[s] {
			t.Errorf("the provider was given %q", s)
		}
	}
	for _, e := range h.events(t, auth.AuditFilter{Action: "auth.sign-up"}) {
		if e.Actor.Email != "admin@example.com" && e.Actor.Email != "new.user@example.com" && e.Actor.Email != "form.user@example.com" {
			t.Errorf("audited actor email %q", e.Actor.Email)
		}
	}
}
