package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authhost/authhost/internal/config"
	"github.com/authhost/authhost/internal/testenv/authhostenv"
)

// keepConfig serves user and credentials from static-users; cloud is
// installed and selected by nothing.
const keepConfig = `
watch_plugins: false
capabilities:
  user: static-users
  credentials: static-users
  session: builtin
  rbac: builtin
  sso: none
plugins:
  static-users:
    config:
      allow_sign_up: true
      default_role: viewer
      min_password_length: 8
      users:
        - email: admin@example.com
          name: Demo Admin
          password_hash: "$argon2id$v=19$m=12288,t=3,p=1$qIyBpMEp+rfFhi4ro6lb/g$jq+SmBkE0qKveOCCakFlxE05ORD5ZI3rwmV0PWUFzs0"
          roles: [owner]
`

// cloudConfig configures cloud (validated only: nothing calls it).
const cloudConfig = `  cloud:
    config: { issuer: "https://idp.example.com", client_id: authhost }
    limits: { pool_size: 3 }
`

// TestReloadKeepsUnchangedPlugins: App.Reload and App.ReloadConfig reload
// only the plugins whose file or settings changed. The others stay the
// same *host.Plugin (same generation and loadedAt in /api/admin/plugins,
// logged as unchanged, not as loaded), the composition is rebuilt from
// the kept and the new plugins alike, a changed plugin config takes
// effect, and a changed capability selection warms the newly selected
// plugin.
func TestReloadKeepsUnchangedPlugins(t *testing.T) {
	env := authhostenv.Start(t, authhostenv.Options{Plugins: []string{"examples/static-users", "plugins/cloud"}, Config: keepConfig})
	mgr := env.App.Plugins
	c := env.Client()
	if r := c.Do(t, "POST", "/api/auth/credentials/sign-up", map[string]string{"email": "keep@example.com", "password": "long-enough-1", "name": "Keep"}); r.Status != http.StatusCreated {
		t.Fatalf("sign-up = %d %s", r.Status, r.Body)
	}
	users, cloud := mgr.Plugin("static-users"), mgr.Plugin("cloud")
	if users == nil || cloud == nil {
		t.Fatalf("plugins = %v", mgr.Plugins())
	}
	if st := cloud.Stats(); st.PoolWarm != 0 {
		t.Fatalf("unselected cloud keeps %d warm instances", st.PoolWarm)
	}
	signUpEnabled := func() bool {
		t.Helper()
		var caps struct {
			Capabilities map[string]bool `json:"capabilities"`
			Login        *struct {
				SignUpEnabled *bool `json:"signUpEnabled"`
			} `json:"login"`
		}
		r := c.Do(t, "GET", "/api/auth/capabilities", nil)
		r.Decode(t, &caps)
		if r.Status != http.StatusOK || !caps.Capabilities["credentials"] || !caps.Capabilities["user"] {
			t.Fatalf("capabilities = %d %s", r.Status, r.Body)
		}
		return caps.Login != nil && caps.Login.SignUpEnabled != nil && *caps.Login.SignUpEnabled
	}
	me := func(when string) {
		t.Helper()
		if r := c.Do(t, "GET", "/api/auth/me", nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), "keep@example.com") {
			t.Fatalf("me %s = %d %s", when, r.Status, r.Body)
		}
	}
	// want checks which of the current plugins the last reload kept, and
	// makes the ones now current the reference for the next step.
	want := func(when string, keptUsers, keptCloud bool) {
		t.Helper()
		u, cl := mgr.Plugin("static-users"), mgr.Plugin("cloud")
		if u == nil || cl == nil || (u == users) != keptUsers || (cl == cloud) != keptCloud {
			t.Fatalf("%s: static-users kept %v (want %v), cloud kept %v (want %v)", when, u == users, keptUsers, cl == cloud, keptCloud)
		}
		users, cloud = u, cl
	}
	reloadConfig := func(yaml string) {
		t.Helper()
		cfg, err := config.Parse([]byte(yaml), nil)
		if err != nil {
			t.Fatal(err)
		}
		if problems, err := env.App.ReloadConfig(context.Background(), cfg); err != nil || len(problems) > 0 {
			t.Fatalf("reload config: %v %v", err, problems)
		}
	}
	owner := env.Client()
	if r := owner.Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": "admin@example.com", "password": "authhost-demo"}); r.Status != http.StatusOK {
		t.Fatalf("sign-in = %d %s", r.Status, r.Body)
	}
	loadedLines := func() int { return strings.Count(env.Logs(), `msg="plugin loaded"`) }

	// Nothing changed: both kept, the session still valid, nothing loaded.
	before := loadedLines()
	if problems, err := env.App.Reload(context.Background()); err != nil || len(problems) > 0 {
		t.Fatalf("reload: %v %v", err, problems)
	}
	want("unchanged reload", true, true)
	me("after an unchanged reload")
	if n := loadedLines() - before; n != 0 {
		t.Errorf("%d plugin loaded lines after an unchanged reload", n)
	}
	if n := strings.Count(env.Logs(), `msg="plugin unchanged"`); n != 2 {
		t.Errorf("%d plugin unchanged lines, want 2", n)
	}
	if !strings.Contains(env.Logs(), "kept=2 replaced=0") {
		t.Error(`"plugins reloaded" does not count the kept plugins`)
	}
	if !signUpEnabled() {
		t.Fatal("sign-up disabled before any change")
	}

	// Another plugin's config changed: only cloud is loaded anew.
	reloadConfig(keepConfig + cloudConfig)
	want("cloud's config changed", true, false)
	if cloud.Generation() != 3 || users.Generation() != 1 || !signUpEnabled() {
		t.Errorf("generations: cloud %d, static-users %d", cloud.Generation(), users.Generation())
	}
	me("after cloud's config changed")

	// static-users' config changed: it is loaded anew and the change
	// shows; cloud is kept.
	reloadConfig(strings.Replace(keepConfig, "allow_sign_up: true", "allow_sign_up: false", 1) + cloudConfig)
	want("static-users' config changed", false, true)
	if signUpEnabled() {
		t.Error("the new static-users config did not take effect")
	}
	me("after static-users' config changed")

	// The admin API reports each plugin's own generation and loadedAt.
	var body struct {
		Plugins []struct {
			Name       string    `json:"name"`
			Generation uint64    `json:"generation"`
			LoadedAt   time.Time `json:"loadedAt"`
		} `json:"plugins"`
	}
	r := owner.Do(t, "GET", "/api/admin/plugins", nil)
	r.Decode(t, &body)
	if r.Status != http.StatusOK || len(body.Plugins) != 2 {
		t.Fatalf("admin plugins = %d %s", r.Status, r.Body)
	}
	for _, p := range body.Plugins {
		cur := mgr.Plugin(p.Name)
		if cur == nil || p.Generation != cur.Generation() || !p.LoadedAt.Equal(cur.LoadedAt().UTC()) {
			t.Errorf("admin plugins %s: generation %d loadedAt %v, want %d %v", p.Name, p.Generation, p.LoadedAt, cur.Generation(), cur.LoadedAt())
		}
	}
	if body.Plugins[0].Generation == body.Plugins[1].Generation {
		t.Errorf("both plugins report generation %d", body.Plugins[0].Generation)
	}

	// The selection changed: cloud now serves sso, so it is loaded anew
	// with a warm instance; static-users is kept.
	reloadConfig(strings.Replace(strings.Replace(keepConfig, "allow_sign_up: true", "allow_sign_up: false", 1), "sso: none", "sso: cloud", 1) + cloudConfig)
	want("cloud selected", true, false)
	if st := cloud.Stats(); st.PoolWarm != 1 {
		t.Errorf("newly selected cloud keeps %d warm instances, want 1", st.PoolWarm)
	}
	me("after the selection changed")
}
