package workos

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authhost/authhost/internal/testenv/authhostenv"
)

// The tests in this file inject WorkOS errors with FailNext, which applies
// to every request to the emulator, so they do not run in parallel (Go runs
// them before any parallel test of the package starts).

// workosFailures are the HTTP errors injected, with the ABI code authhost
// reports for each.
var workosFailures = []struct {
	status int
	code   string
}{
	{http.StatusUnauthorized, "unavailable"}, // a rejected API key is a configuration outage
	{http.StatusNotFound, "not_found"},
	{http.StatusTooManyRequests, "rate_limited"},
	{http.StatusInternalServerError, "unavailable"},
}

// noStack fails when a response body or the server log shows a panic or a
// Go stack trace.
func noStack(t *testing.T, env *authhostenv.Env, body []byte) {
	t.Helper()
	for _, s := range []string{string(body), env.Logs()} {
		if strings.Contains(s, "goroutine ") || strings.Contains(s, "panic") || strings.Contains(s, ".go:") {
			t.Fatalf("stack trace or panic leaked:\n%s", s)
		}
	}
}

// TestCodeExchangeFailure makes WorkOS fail the code exchange: the callback
// sends the browser back to the app with ?error=<code>, sets no session,
// and the next login works.
func TestCodeExchangeFailure(t *testing.T) {
	env := start(t, options{everyAuditEvent: true})
	u := newUser("cody", orgID, "member")
	for _, f := range workosFailures {
		t.Run(fmt.Sprint(f.status), func(t *testing.T) {
			c := env.Client()
			back := hostedLogin(t, authorize(t, c), u.Email)
			emu.FailNext("/user_management/authenticate", f.status, 1)
			r := c.Do(t, "GET", back, nil)
			if r.Status != http.StatusFound || !strings.HasSuffix(r.Location(), "?error="+f.code) || c.Cookie("wos_session") != "" {
				t.Fatalf("callback = %d to %q cookie %q, want a redirect with error=%s", r.Status, r.Location(), c.Cookie("wos_session"), f.code)
			}
			if status, _ := getMe(t, c); status != http.StatusUnauthorized {
				t.Fatalf("/me after a failed callback = %d", status)
			}
			noStack(t, env, r.Body)
			signedIn(t, env, u.Email) // the server keeps serving
		})
	}
	// Each failure is audited with the reason.
	admin := signedIn(t, env, newUser("auditor", orgID, "admin").Email)
	r := admin.Do(t, "GET", "/api/audit?action=auth.sso-callback&outcome=failure", nil)
	var page struct {
		Events []struct {
			Metadata map[string]any `json:"metadata"`
		} `json:"events"`
	}
	r.Decode(t, &page)
	details := map[string]string{}
	for _, e := range page.Events {
		code, _ := e.Metadata["error"].(string)
		detail, _ := e.Metadata["detail"].(string)
		details[code] += detail + "\n"
	}
	for code, want := range map[string]string{
		"unavailable":  "WorkOS rejected the API key",
		"not_found":    "exchange code: not found",
		"rate_limited": "rate limited by WorkOS",
	} {
		if !strings.Contains(details[code], want) {
			t.Errorf("audited %s failures %q lack %q", code, details[code], want)
		}
	}
	if !strings.Contains(details["unavailable"], "WorkOS is unavailable (HTTP 500)") {
		t.Errorf("audited unavailable failures %q lack the 500", details["unavailable"])
	}
}

// TestUserFetchFailure makes WorkOS fail the user lookup of a bearer
// token: /me is 503 with a JSON error (a missing user is 401), the failure
// is not cached, and the next request works.
func TestUserFetchFailure(t *testing.T) {
	env := start(t, options{})
	u := newUser("ursula", orgID, "member")
	now := time.Now()
	tok, err := emu.SignJWT(map[string]any{"iss": emu.URL, "sub": u.ID, "sid": "session_x", "org_id": orgID, "role": "member",
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	c := env.Client()
	c.Header.Set("Authorization", "Bearer "+tok)
	if status, _ := getMe(t, c); status != http.StatusOK {
		t.Fatalf("/me = %d", status)
	}
	for _, f := range workosFailures {
		t.Run(fmt.Sprint(f.status), func(t *testing.T) {
			want := http.StatusServiceUnavailable
			if f.status == http.StatusNotFound {
				want = http.StatusUnauthorized // the user is gone
			}
			emu.FailNext("/user_management/users/", f.status, 1)
			r := c.Do(t, "GET", "/api/auth/me", nil)
			var body struct {
				Error string `json:"error"`
				Code  string `json:"code"`
			}
			r.Decode(t, &body)
			if r.Status != want {
				t.Fatalf("/me while WorkOS answers %d = %d %s, want %d", f.status, r.Status, r.Body, want)
			}
			noStack(t, env, r.Body)
			if status, m := getMe(t, c); status != http.StatusOK || m.ID != u.ID {
				t.Fatalf("/me after the failure = %d", status)
			}
		})
	}
}

// TestRefreshFailure makes WorkOS fail the refresh of an expired access
// token: /me is 503 (not a logout: the session survives the outage) and
// works once WorkOS answers again.
func TestRefreshFailure(t *testing.T) {
	env := start(t, options{})
	u := newUser("ray", orgID, "member")
	c := signedIn(t, env, u.Email)
	id := c.Cookie("wos_session")
	for _, f := range workosFailures {
		t.Run(fmt.Sprint(f.status), func(t *testing.T) {
			expireAccessToken(t, env, id)
			emu.FailNext("/user_management/authenticate", f.status, 1)
			r := c.Do(t, "GET", "/api/auth/me", nil)
			if r.Status != http.StatusServiceUnavailable || !strings.Contains(string(r.Body), `"unavailable"`) {
				t.Fatalf("/me while the refresh fails with %d = %d %s, want 503", f.status, r.Status, r.Body)
			}
			noStack(t, env, r.Body)
			if status, m := getMe(t, c); status != http.StatusOK || m.ID != u.ID {
				t.Fatalf("/me once WorkOS is back = %d", status)
			}
		})
	}
	r := c.Do(t, "POST", "/api/auth/refresh", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("refresh after the outages = %d %s", r.Status, r.Body)
	}
}

// TestAuditExportFailure makes WorkOS refuse audit events: the sign-in
// they describe still succeeds, the built-in audit store still records
// them, and the failure is logged with the reason.
func TestAuditExportFailure(t *testing.T) {
	env := start(t, options{})
	for _, f := range workosFailures {
		t.Run(fmt.Sprint(f.status), func(t *testing.T) {
			u := newUser("ava", orgID, "admin")
			emu.FailNext("/audit_logs/events", f.status, 1)
			c := signedIn(t, env, u.Email)
			if n := len(exported("authhost.auth.sso-callback", u.ID)); n != 0 {
				t.Fatalf("%d events reached WorkOS while it failed", n)
			}
			r := c.Do(t, "GET", "/api/audit?actorId="+u.ID+"&action=auth.sso-callback", nil)
			if r.Status != http.StatusOK || !strings.Contains(string(r.Body), u.ID) {
				t.Fatalf("built-in audit = %d %s", r.Status, r.Body)
			}
			noStack(t, env, r.Body)
		})
	}
	logs := env.Logs()
	for _, want := range []string{"audit log failed", "create audit event", "rate limited by WorkOS", "WorkOS is unavailable (HTTP 500)"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q", want)
		}
	}
}
