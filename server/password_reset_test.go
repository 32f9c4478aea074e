package server

import (
	"net/http"
	"testing"
)

// TestPasswordResetAPIRateLimited: the JSON reset routes share the per-IP
// limit with the pages: every reset request (it may send an email) and
// every refused token counts, and over the limit neither reaches the
// provider.
func TestPasswordResetAPIRateLimited(t *testing.T) {
	h, creds := newResettableHarness(t, 3)
	c := h.client(t)
	for i := 0; i < 2; i++ {
		if r := c.do("POST", "/api/auth/credentials/password-reset", `{"email":"someone@example.com"}`, nil); r.status != http.StatusAccepted {
			t.Fatalf("reset request %d = %d %s", i, r.status, r.body)
		}
	}
	if r := c.do("POST", "/api/auth/credentials/password-reset/confirm", `{"token":"tok-guess","newPassword":"a-long-new-password"}`, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("guessed token = %d %s, want 401", r.status, r.body)
	}
	creds.addToken("tok-valid", demoEmail)
	for path, body := range map[string]string{
		"/api/auth/credentials/password-reset":         `{"email":"someone@example.com"}`,
		"/api/auth/credentials/password-reset/confirm": `{"token":"tok-valid","newPassword":"a-long-new-password"}`,
	} {
		r := c.do("POST", path, body, nil)
		if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || r.json(t)["error"] != "rate_limited" {
			t.Errorf("POST %s over the limit = %d Retry-After %q %s", path, r.status, r.header.Get("Retry-After"), r.body)
		}
	}
	if requests, resets := creds.calls(); requests != 2 || resets != 0 {
		t.Errorf("provider calls: %d requests (want 2), %d accepted resets (want 0: the valid token came over the limit)", requests, resets)
	}
}
