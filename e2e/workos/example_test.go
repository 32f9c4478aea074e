package workos

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/authhost/authhost/internal/testenv/authhostenv"
	"github.com/authhost/authhost/internal/testenv/workos"
)

// TestExampleConfig runs examples/authhost-workos.yaml (what
// `go tool task run-workos` serves) against an emulator seeded like
// cmd/workos-emulator: the demo admin signs in through SSO and gets every
// permission, the demo member only the mapped ones. A broken example would
// greet a developer trying WorkOS with an error.
func TestExampleConfig(t *testing.T) {
	t.Parallel()
	e := workos.Start(t)
	e.SeedDemo()
	raw, err := os.ReadFile(filepath.Join(authhostenv.RepoRoot(), "examples", "authhost-workos.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(e.URL)
	env := authhostenv.Start(t, authhostenv.Options{Plugins: []string{"plugins/workos"}, Config: string(raw),
		Env: map[string]string{"WORKOS_ENDPOINT": e.URL, "WORKOS_HOST": u.Hostname()}})

	var caps struct {
		Login struct {
			SSO struct{ Provider, Text string } `json:"sso"`
		} `json:"login"`
	}
	env.Client().Do(t, "GET", "/api/auth/capabilities", nil).Decode(t, &caps)
	if b := caps.Login.SSO; b.Provider != "workos" || b.Text != "Sign in with WorkOS (local emulator)" {
		t.Fatalf("login button = %+v, want the one configured in the example", b)
	}

	for _, tc := range []struct {
		email    string
		role     string
		wantPerm string
		denied   string
	}{
		{workos.DemoAdminEmail, "admin", "*", ""},
		{workos.DemoMemberEmail, "member", "audit:read", "users:write"},
	} {
		c := env.Client()
		back := hostedLoginAt(t, e, authorize(t, c), tc.email)
		if r := c.Do(t, "GET", back, nil); r.Status != http.StatusFound || c.Cookie("wos_session") == "" {
			t.Fatalf("%s: callback = %d to %q", tc.email, r.Status, r.Location())
		}
		status, m := getMe(t, c)
		if status != http.StatusOK || m.Email != tc.email || !slices.Contains(m.Roles, tc.role) || !slices.Contains(m.Permissions, tc.wantPerm) {
			t.Fatalf("%s: /me = %d %+v", tc.email, status, m)
		}
		if tc.denied != "" && slices.Contains(m.Permissions, tc.denied) {
			t.Fatalf("%s: has %s", tc.email, tc.denied)
		}
	}
}
