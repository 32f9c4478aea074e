// Package betterauth_test runs authhost end to end with the betterauth
// plugin in front of a real Better Auth server: every test talks to
// authhost's HTTP API (internal/testenv/authhostenv, the wiring `authhost
// serve` uses), and authhost reaches Better Auth through the Wasm plugin.
// The Better Auth peer is started once per test process and shared
// (betterauth.Start); tests that stop or freeze it, or need other settings,
// start one of their own (betterauth.StartDedicated), so all tests run in
// parallel. Each test starts its own authhost.
package betterauth_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/authhost/authhost/internal/testenv/authhostenv"
	"github.com/authhost/authhost/internal/testenv/betterauth"
)

// password is every test user's password.
const password = "correct-horse-battery"

// pluginDir is the provider under test, relative to the repository root.
const pluginDir = "plugins/betterauth"

// configTemplate is authhost's configuration with Better Auth serving
// users, credentials and sessions. Everyone maps to the admin role, so a
// signed-in test user may read the audit log. The first %s is more of the
// plugin's entry (YAML, indented four spaces), the second more plugin
// config (indented six).
const configTemplate = `
capabilities:
  user: betterauth
  credentials: betterauth
  session: betterauth
  rbac: builtin
  audit: [builtin]
rbac:
  role_mapping:
    _default: [admin]
plugins:
  betterauth:
    allowed_hosts: ["${BA_HOST}"]
    allow_private_networks: true   # the Better Auth peer listens on 127.0.0.1
%s    config:
      base_url: "${BA_URL}"
%s`

// startAuthhost runs authhost against peer with extra plugin config lines
// (e.g. "sign_up_enabled: false").
func startAuthhost(t *testing.T, peer *betterauth.Server, extra ...string) *authhostenv.Env {
	t.Helper()
	return startAuthhostWith(t, peer, nil, extra...)
}

// startAuthhostWith is startAuthhost with lines for the plugin's entry
// besides its config (e.g. "limits: {timeout_ms: 20000}").
func startAuthhostWith(t *testing.T, peer *betterauth.Server, entry []string, extra ...string) *authhostenv.Env {
	t.Helper()
	var e, b strings.Builder
	for _, l := range entry {
		e.WriteString("    " + l + "\n")
	}
	for _, l := range extra {
		b.WriteString("      " + l + "\n")
	}
	u, err := url.Parse(peer.URL)
	if err != nil {
		t.Fatal(err)
	}
	return authhostenv.Start(t, authhostenv.Options{
		Plugins: []string{pluginDir},
		Config:  fmt.Sprintf(configTemplate, e.String(), b.String()),
		Env:     map[string]string{"BA_URL": peer.URL, "BA_HOST": u.Hostname()},
	})
}

// uniqueEmail is a fresh address for t.
func uniqueEmail(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-", "#", "-").Replace(t.Name()))
	return name + "-" + hex.EncodeToString(b) + "@example.com"
}

// user is the JSON shape of auth.User as the API returns it.
type user struct {
	ID        string         `json:"id"`
	Email     string         `json:"email"`
	Name      string         `json:"name"`
	AvatarURL string         `json:"avatarUrl"`
	Roles     []string       `json:"roles"`
	Metadata  map[string]any `json:"metadata"`
}

// authBody is the body of a successful sign-in or sign-up.
type authBody struct {
	User  user   `json:"user"`
	Token string `json:"token"`
}

// apiError is the API's error body.
type apiError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// sessionCookie is Better Auth's session cookie name (default prefix, http).
const sessionCookie = "better-auth.session_token"

func signUp(t *testing.T, c *authhostenv.Client, email, name string) authBody {
	t.Helper()
	r := c.Do(t, "POST", "/api/auth/credentials/sign-up", map[string]string{"email": email, "password": password, "name": name})
	if r.Status != http.StatusCreated {
		t.Fatalf("sign-up %s = %d %s", email, r.Status, r.Body)
	}
	var out authBody
	r.Decode(t, &out)
	return out
}

func signIn(t *testing.T, c *authhostenv.Client, email, pw string) *authhostenv.Response {
	t.Helper()
	return c.Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": email, "password": pw})
}

// me returns GET /api/auth/me's status and user.
func me(t *testing.T, c *authhostenv.Client) (int, user, *authhostenv.Response) {
	t.Helper()
	r := c.Do(t, "GET", "/api/auth/me", nil)
	var u user
	if r.Status == http.StatusOK {
		r.Decode(t, &u)
	}
	return r.Status, u, r
}

// wantError checks an error response's status and code.
func wantError(t *testing.T, what string, r *authhostenv.Response, status int, code string) {
	t.Helper()
	var e apiError
	if r.Status != status || json.Unmarshal(r.Body, &e) != nil || e.Error != code {
		t.Fatalf("%s = %d %s; want %d with code %s", what, r.Status, r.Body, status, code)
	}
}

// peerCall is one request to Better Auth's own API (as a browser or an
// app talking to Better Auth directly would make it).
func peerCall(t *testing.T, peer *betterauth.Server, method, path string, body any, header http.Header) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, peer.AuthURL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if method != http.MethodGet {
		req.Header.Set("Origin", peer.URL)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, raw
}
