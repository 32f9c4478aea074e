// Package asusers runs the AssemblyScript provider examples/as-users,
// built in the test run with the pinned compiler (internal/testenv/ascbuild),
// through the whole server: sign-up with KV, sign-in against a configured
// PBKDF2 hash, /me with roles and permissions from its rbac, logout, and a
// restart over the same store.
package asusers

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authhost/authhost/internal/testenv/ascbuild"
	"github.com/authhost/authhost/internal/testenv/authhostenv"
)

// iterations keeps the test fast; the provider's default is 100000.
const iterations = 1000

func hash(t *testing.T, password string) string {
	t.Helper()
	salt := []byte("0123456789abcdef")
	k, err := pbkdf2.Key(sha256.New, password, salt, iterations, 32)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("pbkdf2-sha256$%d$%s$%s", iterations, base64.StdEncoding.EncodeToString(salt), base64.StdEncoding.EncodeToString(k))
}

func config(t *testing.T) string {
	return `
capabilities:
  user: as-users
  credentials: as-users
  session: builtin
  rbac: as-users
plugins:
  as-users:
    config:
      allow_sign_up: true
      default_role: viewer
      min_password_length: 8
      pbkdf2_iterations: ` + fmt.Sprint(iterations) + `
      users:
        - id: u_admin
          email: admin@example.com
          name: Ádmin
          password_hash: "` + hash(t, "admin-password") + `"
          roles: [owner]
      roles:
        - { id: owner, name: Owner, permissions: ["*"] }
        - { id: editor, name: Editor, permissions: ["agents:write"], inherits: [viewer] }
        - { id: viewer, name: Viewer, permissions: ["agents:read"], inherits: [editor] }
`
}

func build(t *testing.T) map[string]string {
	entry := filepath.Join(authhostenv.RepoRoot(), "examples", "as-users", "assembly", "index.ts")
	return map[string]string{"as-users.wasm": ascbuild.Build(t, entry, "-O2", "--exportStart", "_initialize")}
}

type me struct {
	ID          string   `json:"id"`
	Email       string   `json:"email"`
	Name        string   `json:"name"`
	Roles       []string `json:"roles"`
	Permissions []string `json:"permissions"`
}

func getMe(t *testing.T, c *authhostenv.Client) me {
	t.Helper()
	r := c.Do(t, "GET", "/api/auth/me", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("/me = %d %s", r.Status, r.Body)
	}
	var m me
	r.Decode(t, &m)
	return m
}

func TestASUsers(t *testing.T) {
	wasm := build(t)
	data := t.TempDir()
	env := authhostenv.Start(t, authhostenv.Options{Wasm: wasm, Config: config(t), DataDir: data})
	const name = "Carol é 😀"
	c := env.Client()
	if r := c.Do(t, "POST", "/api/auth/credentials/sign-up", map[string]string{"email": "Carol@Example.com", "password": "long-enough-1", "name": name}); r.Status != http.StatusCreated {
		t.Fatalf("sign-up = %d %s", r.Status, r.Body)
	}
	m := getMe(t, c)
	if m.Email != "carol@example.com" || m.Name != name || strings.Join(m.Roles, ",") != "viewer" {
		t.Fatalf("/me after sign-up = %+v, want the non-ASCII name back and the viewer role", m)
	}
	// viewer inherits editor which inherits viewer: the cycle is cut.
	if strings.Join(m.Permissions, ",") != "agents:read,agents:write" {
		t.Errorf("permissions = %v, want inherited agents:read,agents:write", m.Permissions)
	}
	if !strings.Contains(env.Logs(), "user signed up: usr_") || !strings.Contains(env.Logs(), "plugin=as-users") {
		t.Errorf("the provider's Host.log line is missing from the server log")
	}
	if r := c.Do(t, "POST", "/api/auth/credentials/sign-up", map[string]string{"email": "carol@example.com", "password": "long-enough-2"}); r.Status == http.StatusCreated {
		t.Fatalf("second sign-up with the same email = %d", r.Status)
	}
	if r := c.Do(t, "POST", "/api/auth/logout", nil); r.Status != http.StatusOK {
		t.Fatalf("logout = %d %s", r.Status, r.Body)
	}
	for _, tc := range []struct{ email, password string }{
		{"carol@example.com", "long-enough-2"},
		{"nobody@example.com", "long-enough-1"},
		{"admin@example.com", "admin-passwordX"},
		{"admin@example.com", ""},
		{"\u0430dmin@example.com", "admin-password"}, // Cyrillic а
		{"admin@example.com\x00", "admin-password"},
	} {
		if r := c.Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": tc.email, "password": tc.password}); r.Status != http.StatusUnauthorized && r.Status != http.StatusBadRequest {
			t.Errorf("sign-in %q/%q = %d %s, want refused", tc.email, tc.password, r.Status, r.Body)
		}
	}
	admin := env.Client()
	if r := admin.Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": "admin@example.com", "password": "admin-password"}); r.Status != http.StatusOK {
		t.Fatalf("configured user sign-in = %d %s", r.Status, r.Body)
	}
	if m := getMe(t, admin); m.ID != "u_admin" || m.Name != "Ádmin" || strings.Join(m.Permissions, ",") != "*" {
		t.Errorf("/me of the configured owner = %+v", m)
	}

	// A restart over the same store keeps the signed-up user.
	env.App.Close()
	env2 := authhostenv.Start(t, authhostenv.Options{Wasm: wasm, Config: config(t), DataDir: data})
	c2 := env2.Client()
	if r := c2.Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": "carol@example.com", "password": "long-enough-1"}); r.Status != http.StatusOK {
		t.Fatalf("sign-in after restart = %d %s", r.Status, r.Body)
	}
	if m := getMe(t, c2); m.Name != name {
		t.Errorf("name after restart = %q, want %q", m.Name, name)
	}
}
