// Package asusers runs the AssemblyScript provider examples/as-users,
// built in the test run with the pinned compiler (internal/testenv/ascbuild),
// through the whole server: sign-up with KV and the host's password_hash,
// sign-in against configured argon2id, bcrypt and legacy PBKDF2 hashes,
// /me with roles and permissions from its rbac, logout, a restart over the
// same store, concurrent sign-ups of one email, and a refused
// configuration.
package asusers

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/abi/passhash"
	"github.com/authhost/authhost/internal/testenv/ascbuild"
	"github.com/authhost/authhost/internal/testenv/authhostenv"
)

// iterations is the cost of the legacy PBKDF2 hash configured below.
const iterations = 1000

// pbkdf2Hash is a hash in the provider's first format, still accepted.
func pbkdf2Hash(t *testing.T, password string) string {
	t.Helper()
	salt := []byte("0123456789abcdef")
	k, err := pbkdf2.Key(sha256.New, password, salt, iterations, 32)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("pbkdf2-sha256$%d$%s$%s", iterations, base64.StdEncoding.EncodeToString(salt), base64.StdEncoding.EncodeToString(k))
}

// hostHash is a hash as the host's password_hash makes it (argon2id or
// bcrypt), at a low cost to keep the test fast.
func hostHash(t *testing.T, algorithm, password string) string {
	t.Helper()
	h, err := passhash.Hash(abi.PasswordHashRequest{Password: password, Algorithm: algorithm, MemoryKiB: 64, Time: 1, Cost: 4})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func config(t *testing.T) string {
	return `
capabilities:
  user: as-users
  credentials: as-users
  session: builtin
  rbac: as-users
throttle:
  sign_ups_per_ip: 1000
  password_hashes: 20
  password_hash_wait: 30s
plugins:
  as-users:
    limits:
      pool_size: 8
    config:
      allow_sign_up: true
      default_role: viewer
      min_password_length: 8
      argon2_memory_kib: 64
      argon2_time: 1
      users:
        - id: u_admin
          email: admin@example.com
          name: Ádmin
          password_hash: "` + hostHash(t, "argon2id", "admin-password") + `"
          roles: [owner]
        - id: u_bcrypt
          email: bcrypt@example.com
          password_hash: "` + hostHash(t, "bcrypt", "bcrypt-password") + `"
          roles: [viewer]
        - id: u_legacy
          email: legacy@example.com
          password_hash: "` + pbkdf2Hash(t, "legacy-password") + `"
          roles: [viewer]
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

// TestConcurrentSignUpsOneEmail: 20 concurrent sign-ups of one email, on
// eight plugin instances, give exactly one 201 (kv_cas create-only); the
// others are 409 and only the winner's password signs in.
func TestConcurrentSignUpsOneEmail(t *testing.T) {
	env := authhostenv.Start(t, authhostenv.Options{Wasm: build(t), Config: config(t)})
	const n = 20
	status := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		c := env.Client()
		wg.Go(func() {
			<-start
			status[i] = c.Do(t, "POST", "/api/auth/credentials/sign-up", map[string]string{"email": "race@example.com", "password": fmt.Sprintf("password-%02d", i)}).Status
		})
	}
	close(start)
	wg.Wait()
	created, winner := 0, -1
	for i, s := range status {
		switch s {
		case http.StatusCreated:
			created++
			winner = i
		case http.StatusConflict:
		default:
			t.Errorf("sign-up %d = %d, want 201 or 409", i, s)
		}
	}
	if created != 1 {
		t.Fatalf("%d sign-ups created (statuses %v), want exactly one", created, status)
	}
	c := env.Client()
	if r := c.Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": "race@example.com", "password": fmt.Sprintf("password-%02d", (winner+1)%n)}); r.Status != http.StatusUnauthorized {
		t.Errorf("a losing password signs in: %d", r.Status)
	}
	if r := c.Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": "race@example.com", "password": fmt.Sprintf("password-%02d", winner)}); r.Status != http.StatusOK {
		t.Errorf("the winner's sign-in = %d %s", r.Status, r.Body)
	}
}

// TestConfigurationRefusedAtLoad: authhost_configure refuses a bad
// configuration at load, naming the field; the plugin is not loaded and
// /readyz says why.
func TestConfigurationRefusedAtLoad(t *testing.T) {
	wasm := build(t)
	for _, tc := range []struct{ name, config, field string }{
		{"argon2 time out of range", "argon2_time: 11", "argon2_time"},
		{"argon2 memory not a number", `argon2_memory_kib: "64x"`, "argon2_memory_kib"},
		{"min length fractional", "min_password_length: 8.5", "min_password_length"},
		{"unknown hash format", `users: [{id: u1, email: a@example.com, password_hash: "md5$abc"}]`, "users.0"},
		{"bcrypt cost over the host's bound", `users: [{id: u1, email: a@example.com, password_hash: "$2b$13$` + strings.Repeat("a", 53) + `"}]`, "users.0"},
		{"argon2 memory over the host's bound", `users: [{id: u1, email: a@example.com, password_hash: "$argon2id$v=19$m=131072,t=1,p=1$c2FsdHNhbHQ$` + strings.Repeat("A", 43) + `"}]`, "users.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := "capabilities: {session: builtin, rbac: builtin}\nplugins:\n  as-users:\n    config: {}\n"
			cfg = strings.Replace(cfg, "{}", "\n      "+tc.config, 1)
			env := authhostenv.Start(t, authhostenv.Options{Wasm: wasm, Config: cfg})
			resp, err := http.Get(env.URL + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := "plugins.as-users.config." + tc.field; resp.StatusCode == http.StatusOK || !strings.Contains(string(body), want) {
				t.Fatalf("/readyz = %d %s, want not ready naming %s", resp.StatusCode, body, want)
			}
		})
	}
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
	// Configured bcrypt and legacy PBKDF2 hashes still sign in; each
	// refuses a wrong password.
	for _, tc := range []struct{ email, password, id string }{
		{"bcrypt@example.com", "bcrypt-password", "u_bcrypt"},
		{"legacy@example.com", "legacy-password", "u_legacy"},
	} {
		c := env.Client()
		if r := c.Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": tc.email, "password": tc.password + "x"}); r.Status != http.StatusUnauthorized {
			t.Errorf("%s with a wrong password = %d %s", tc.email, r.Status, r.Body)
		}
		if r := c.Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": tc.email, "password": tc.password}); r.Status != http.StatusOK {
			t.Fatalf("%s sign-in = %d %s", tc.email, r.Status, r.Body)
		}
		if m := getMe(t, c); m.ID != tc.id {
			t.Errorf("/me of %s = %+v", tc.email, m)
		}
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
