package betterauth

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestStartStopRestart(t *testing.T) {
	srv := Start(t)
	if again := Start(t); again != srv {
		t.Fatal("Start did not share the server")
	}
	get := func() error {
		resp, err := http.Get(srv.AuthURL() + "/ok")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(); err != nil {
		t.Fatalf("running server: %v", err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := get(); err == nil {
		t.Fatal("stopped server still answers")
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := get(); err != nil {
		t.Fatalf("restarted server: %v", err)
	}
	if _, err := srv.SignJWT(t.Context(), map[string]any{"sub": "u1"}); err != nil {
		t.Fatalf("SignJWT: %v", err)
	}
}

func TestDedicated(t *testing.T) {
	shared := Start(t)
	srv := StartDedicated(t, Options{SessionExpiresIn: 1500 * time.Millisecond})
	if srv == shared || srv.URL == shared.URL {
		t.Fatal("StartDedicated returned the shared server")
	}
	post := func(path string, body any) (*http.Response, []byte) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, srv.AuthURL()+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", srv.URL)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp, raw
	}
	resp, raw := post("/sign-up/email", map[string]string{"email": "d@example.com", "password": "correct-horse-battery", "name": "D"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-up = %d %s", resp.StatusCode, raw)
	}
	token := resp.Header.Get("Set-Auth-Token")
	session := func() map[string]map[string]any {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.AuthURL()+"/get-session", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	s := session()
	created, _ := time.Parse(time.RFC3339Nano, s["session"]["createdAt"].(string))
	expires, _ := time.Parse(time.RFC3339Nano, s["session"]["expiresAt"].(string))
	// Better Auth stamps createdAt and expiresAt with two clock reads, a
	// millisecond or so apart; 1.5 s (not rounded) would be far off.
	if d := expires.Sub(created); d < 2*time.Second-10*time.Millisecond || d > 2*time.Second+10*time.Millisecond {
		t.Fatalf("session lifetime %v, want 2s (1.5s rounded up)", d)
	}
	if err := srv.VerifyEmail(t.Context(), "d@example.com"); err != nil {
		t.Fatal(err)
	}
	if v := session()["user"]["emailVerified"]; v != true {
		t.Fatalf("emailVerified after VerifyEmail = %v", v)
	}

	// An untrusted Origin is refused: the peer enforces Better Auth's checks.
	req, _ := http.NewRequest(http.MethodPost, srv.AuthURL()+"/sign-out", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Cookie", "better-auth.session_token="+url.QueryEscape(token))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("sign-out from an untrusted origin = %v, %v; want 403", resp, err)
	}

	if err := srv.Pause(t.Context()); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 300 * time.Millisecond}
	if resp, err := client.Get(srv.AuthURL() + "/ok"); err == nil {
		resp.Body.Close()
		t.Fatal("a paused server answered")
	}
	if err := srv.Resume(t.Context()); err != nil {
		t.Fatal(err)
	}
	resp2, err := http.Get(srv.AuthURL() + "/ok")
	if err != nil {
		t.Fatalf("resumed server: %v", err)
	}
	resp2.Body.Close()
}
