package oidc

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

const testRedirect = "http://127.0.0.1:1/callback" // never served: Login stops there

// codeFlow signs the test user in with the confidential client and
// returns the token endpoint's answer.
func codeFlow(t *testing.T, p *Provider) map[string]any {
	t.Helper()
	verifier := rand.Text() + rand.Text()
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"response_type": {"code"}, "client_id": {p.ClientID}, "redirect_uri": {testRedirect},
		"scope": {"openid profile email offline_access"}, "state": {"st"}, "nonce": {"n"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	cb, err := p.Login(nil, p.Issuer+"/auth?"+q.Encode(), TestUser, TestPassword)
	if err != nil {
		t.Fatal(err)
	}
	return token(t, p, url.Values{"grant_type": {"authorization_code"}, "code": {cb.Query().Get("code")},
		"redirect_uri": {testRedirect}, "code_verifier": {verifier}})
}

func token(t *testing.T, p *Provider, form url.Values) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("POST", p.Issuer+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(p.ClientID, p.ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("token %s = %d %v, %v", form.Get("grant_type"), resp.StatusCode, m, err)
	}
	return m
}

// TestTokenHelpers checks the helpers tests use to observe and steer the
// provider: live refresh tokens through rotation, the access-token
// lifetime, and rewriting token answers and the discovery document.
func TestTokenHelpers(t *testing.T) {
	p := New(t)
	p.RegisterRedirect(testRedirect)
	first := codeFlow(t, p)
	if exp := first["expires_in"].(float64); exp < 200 || exp > 300 {
		t.Fatalf("default expires_in = %v, want the example OP's 5 minutes", exp)
	}
	rt := first["refresh_token"].(string)
	if live := p.LiveRefreshTokens(UserID); !slices.Equal(live, []string{rt}) {
		t.Fatalf("live refresh tokens = %v, want [%s]", live, rt)
	}

	restore := p.SetAccessTokenLifetime(10 * time.Second)
	second := token(t, p, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	restore()
	if exp := second["expires_in"].(float64); exp > 10 {
		t.Fatalf("expires_in = %v, want at most 10", exp)
	}
	if live := p.LiveRefreshTokens(UserID); len(live) != 1 || live[0] != second["refresh_token"] {
		t.Fatalf("live refresh tokens after rotation = %v, want only %v", live, second["refresh_token"])
	}

	defer p.RewriteTokenResponses(func(m map[string]any) { m["extra"] = "rewritten" })()
	if got := codeFlow(t, p); got["extra"] != "rewritten" || got["id_token"] == nil {
		t.Fatalf("rewritten token answer = %v", got)
	}

	defer p.RewriteDiscovery(func(d map[string]any) { delete(d, "revocation_endpoint") })()
	resp, err := http.Get(p.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if _, ok := d["revocation_endpoint"]; ok || d["token_endpoint"] == nil || p.Host() != "127.0.0.1" {
		t.Fatalf("rewritten discovery = %v (host %s)", d, p.Host())
	}
}
