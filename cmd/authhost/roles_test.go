package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authhost/authhost/internal/testenv/authhostenv"
	"github.com/authhost/authhost/internal/testenv/wasmbuild"
)

// rolesRun runs `authhost roles args...` and returns its output.
func rolesRun(args ...string) (string, error) {
	var out bytes.Buffer
	err := run(context.Background(), append([]string{"roles"}, args...), &out, io.Discard)
	return out.String(), err
}

// signUpMe signs up email on the server at base and returns its user id
// and roles and the session cookie.
func signUpMe(t *testing.T, base, email string) (id string, roles []string, cookie *http.Cookie) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/api/auth/credentials/sign-up", strings.NewReader(`{"email":"`+email+`","password":"long-enough-1","name":"R"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", base)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || len(resp.Cookies()) == 0 {
		t.Fatalf("sign-up = %d", resp.StatusCode)
	}
	cookie = resp.Cookies()[0]
	id, roles = meOf(t, base, cookie)
	return id, roles, cookie
}

// meOf returns the id and roles of the session cookie's user.
func meOf(t *testing.T, base string, c *http.Cookie) (string, []string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/auth/me", nil)
	req.AddCookie(c)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var me struct {
		ID    string   `json:"id"`
		Roles []string `json:"roles"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&me); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/me = %d %v", resp.StatusCode, err)
	}
	return me.ID, me.Roles
}

// slowConfig writes the example config with a plugin call timeout that
// argon2id sign-ups meet on a busy machine, and returns its path.
func slowConfig(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../../examples/authhost.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(raw), "timeout_ms: 5000", "timeout_ms: 60000", 1)
	if s == string(raw) {
		t.Fatal("examples/authhost.yaml has no timeout_ms: 5000 to raise")
	}
	p := filepath.Join(t.TempDir(), "authhost.yaml")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRolesOffline is issue 15 item 5: with the server stopped, `authhost
// roles` changes assignments in its data store, and the restarted server
// applies them.
func TestRolesOffline(t *testing.T) {
	t.Parallel()
	plugins := wasmbuild.Dir(t, "../../examples/static-users")
	data := t.TempDir()
	cfg := slowConfig(t)
	base, _, stop := startServeStoppable(t, plugins, "--data-dir", data, "--config", cfg)
	id, roles, _ := signUpMe(t, base, "rolf@example.com")
	if strings.Join(roles, ",") != "viewer" {
		t.Fatalf("new user's roles = %v, want [viewer]", roles)
	}
	if _, err := rolesRun("assign", "--data-dir", data, id, "admin"); err == nil || !strings.Contains(err.Error(), "in use by a running server") {
		t.Fatalf("assign while the server runs: %v", err)
	}
	stop()

	steps := []struct {
		args []string
		want string // output, or the error's text when err is set
		err  bool
	}{
		{[]string{"list", id}, id + ": no assignment", false},
		{[]string{"revoke", id, "viewer"}, "has no role assignment", true},
		{[]string{"assign", id, "admin", "member", "admin"}, id + ": admin, member\n", false},
		{[]string{"assign", id, "member", "--data-dir", data}, id + ": admin, member\n", false}, // flags after args
		{[]string{"assign", id, "root"}, `unknown role "root"`, true},
		{[]string{"assign", id, "Admin"}, `unknown role "Admin"`, true},
		{[]string{"revoke", id, "member"}, id + ": admin\n", false},
		{[]string{"list", id}, id + ": admin\n", false},
		{[]string{"list"}, "owner      *", false},
	}
	for _, s := range steps {
		args := append([]string{s.args[0], "--data-dir", data}, s.args[1:]...)
		out, err := rolesRun(args...)
		if s.err {
			if err == nil || !strings.Contains(err.Error(), s.want) {
				t.Errorf("roles %v: err %v, want %q", s.args, err, s.want)
			}
			continue
		}
		if err != nil || !strings.HasPrefix(out, s.want) {
			t.Errorf("roles %v = %q, %v; want %q", s.args, out, err, s.want)
		}
	}

	base, _, stop = startServeStoppable(t, plugins, "--data-dir", data, "--config", cfg)
	req, _ := http.NewRequest("POST", base+"/api/auth/credentials/sign-in", strings.NewReader(`{"email":"rolf@example.com","password":"long-enough-1"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", base)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(resp.Cookies()) == 0 {
		t.Fatalf("sign-in on the restarted server = %d", resp.StatusCode)
	}
	if _, roles := meOf(t, base, resp.Cookies()[0]); strings.Join(roles, ",") != "admin" {
		t.Fatalf("roles on the restarted server = %v, want [admin]", roles)
	}
	stop()

	// Revoking the last role leaves an assignment of no roles; --all
	// removes the assignment.
	if out, err := rolesRun("revoke", "--data-dir", data, id, "admin"); err != nil || out != id+": no roles (assigned)\n" {
		t.Errorf("revoke last role = %q, %v", out, err)
	}
	if out, err := rolesRun("revoke", "--all", "--data-dir", data, id); err != nil || !strings.Contains(out, "no assignment") {
		t.Errorf("revoke --all = %q, %v", out, err)
	}
}

// TestRolesUsage: wrong command lines are usage errors, and a missing data
// dir is not created.
func TestRolesUsage(t *testing.T) {
	t.Parallel()
	missing := t.TempDir() + "/nope"
	for _, args := range [][]string{
		{}, {"grant", "u", "owner"}, {"assign", "u"}, {"revoke", "u"}, {"revoke", "--all", "u", "owner"},
		{"list", "a", "b"}, {"list", "--url", "http://127.0.0.1:1", "--data-dir", "x", "u"},
	} {
		if _, err := rolesRun(args...); err == nil {
			t.Errorf("roles %v: no error", args)
		} else if _, ok := err.(usageError); !ok {
			t.Errorf("roles %v: %v is not a usage error", args, err)
		}
	}
	if _, err := rolesRun("list", "--data-dir", missing, "u"); err == nil || !strings.Contains(err.Error(), "data dir") {
		t.Errorf("missing data dir: %v", err)
	}
	for _, u := range []string{"127.0.0.1:8080", "ftp://x", "http://"} {
		if _, err := rolesRun("list", "--url", u, "--token", "t", "u"); err == nil || !strings.Contains(err.Error(), "--url") {
			t.Errorf("--url %q: %v", u, err)
		}
	}
	if _, err := rolesRun("list", "--url", "http://127.0.0.1:1", "--token", "", "u"); err == nil || !strings.Contains(err.Error(), "--token") {
		t.Errorf("no token: %v", err)
	}
}

// TestRolesOnline: with --url and a token, `authhost roles` goes through
// a running server's admin API (its user check and permission included).
func TestRolesOnline(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(slowConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	env := authhostenv.Start(t, authhostenv.Options{Plugins: []string{"examples/static-users"}, Config: string(raw)})
	owner := env.Client()
	if r := owner.Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": "admin@example.com", "password": "authhost-demo"}); r.Status != http.StatusOK {
		t.Fatalf("owner sign-in = %d %s", r.Status, r.Body)
	}
	token := owner.Cookie("authhost_session")
	id, _, viewer := signUpMe(t, env.URL, "vic@example.com")

	if out, err := rolesRun("assign", "--url", env.URL, "--token", token, id, "member"); err != nil || out != id+": member\n" {
		t.Fatalf("online assign = %q, %v", out, err)
	}
	if _, roles := meOf(t, env.URL, viewer); strings.Join(roles, ",") != "member" {
		t.Fatalf("roles after online assign = %v, want [member]", roles)
	}
	if out, err := rolesRun("revoke", "--all", "--url", env.URL+"/", "--token", token, id); err != nil || !strings.Contains(out, "no assignment") {
		t.Fatalf("online revoke --all = %q, %v", out, err)
	}
	if _, err := rolesRun("assign", "--url", env.URL, "--token", token, "no-such-user", "member"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("online assign to an unknown user: %v", err)
	}
	if _, err := rolesRun("assign", "--url", env.URL, "--token", viewer.Value, id, "owner"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("a viewer's token assigned roles: %v", err)
	}
	if _, err := rolesRun("list", "--url", env.URL, "--token", "forged", id); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("a forged token: %v", err)
	}
}
