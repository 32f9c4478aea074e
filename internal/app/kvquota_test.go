package app_test

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/authhost/authhost/internal/testenv/authhostenv"
)

// quotaConfig gives static-users (which keeps signed-up users in its KV,
// two keys each) a quota of 4 keys.
const quotaConfig = `
capabilities:
  user: static-users
  credentials: static-users
  session: builtin
  rbac: builtin
  audit: [builtin]
plugins:
  static-users:
    limits: { max_kv_keys: 4, max_kv_bytes: 65536 }
    config:
      allow_sign_up: true
      default_role: viewer
      min_password_length: 8
      users:
        - email: owner@example.com
          name: Owner
          password_hash: "$argon2id$v=19$m=12288,t=3,p=1$qIyBpMEp+rfFhi4ro6lb/g$jq+SmBkE0qKveOCCakFlxE05ORD5ZI3rwmV0PWUFzs0"
          roles: [owner]
`

// TestAdminPluginsKVQuota: a plugin's KV writes stop at its configured
// quota, and /api/admin/plugins reports the usage and the quota, and the
// plugin's instances, linear memory and machine code.
func TestAdminPluginsKVQuota(t *testing.T) {
	env := authhostenv.Start(t, authhostenv.Options{Plugins: []string{"examples/static-users"}, Config: quotaConfig})
	for i := range 3 {
		c := env.Client()
		r := c.Do(t, "POST", "/api/auth/credentials/sign-up", map[string]string{
			"email": fmt.Sprintf("user%d@example.com", i), "password": "long-enough-1", "name": "User"})
		if i < 2 && r.Status != http.StatusCreated {
			t.Fatalf("sign-up %d = %d %s", i, r.Status, r.Body)
		}
		// The quota is the operator's business: the user is refused
		// without the host's diagnostic, which goes to the log.
		if i == 2 && (r.Status == http.StatusCreated || strings.Contains(string(r.Body), "quota") || !strings.Contains(env.Logs(), "plugin kv quota exceeded")) {
			t.Fatalf("sign-up past the KV quota = %d %s, want refused, the quota named in the log only", r.Status, r.Body)
		}
	}
	owner := env.Client()
	if r := owner.Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": "owner@example.com", "password": "authhost-demo"}); r.Status != http.StatusOK {
		t.Fatalf("owner sign-in = %d %s", r.Status, r.Body)
	}
	var out struct {
		Plugins []struct {
			Name                   string `json:"name"`
			Instances, InUse, Idle int
			MemoryBytes, CodeBytes uint64
			KV                     *struct {
				Bytes, Keys, MaxBytes, MaxKeys int64
			} `json:"kv"`
		} `json:"plugins"`
	}
	r := owner.Do(t, "GET", "/api/admin/plugins", nil)
	r.Decode(t, &out)
	if r.Status != http.StatusOK || len(out.Plugins) != 1 || out.Plugins[0].KV == nil {
		t.Fatalf("admin plugins = %d %s", r.Status, r.Body)
	}
	if p := out.Plugins[0]; p.Instances < 1 || p.Idle+p.InUse != p.Instances || p.MemoryBytes == 0 || (p.CodeBytes == 0 && runtime.GOOS == "linux") {
		t.Errorf("plugin status %+v: want its instances, their linear memory and its code", p)
	}
	kv := out.Plugins[0].KV
	if kv.Keys != 4 || kv.MaxKeys != 4 || kv.MaxBytes != 65536 || kv.Bytes <= 0 || kv.Bytes > kv.MaxBytes {
		t.Errorf("kv usage = %+v, want 4 of 4 keys and some bytes of 65536", *kv)
	}
}
