package cloud

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authhost/authhost/auth/authtest"
	"github.com/authhost/authhost/internal/testenv/oidc"
	"github.com/authhost/authhost/store"
)

// TestSessionRotationConformance runs the upstream-session suite against
// the cloud plugin as authhost loads it, with the OIDC provider as issuer:
// refresh-token rotation on a due access token, concurrent rotation,
// a refused refresh token, and revocation on destroy.
func TestSessionRotationConformance(t *testing.T) {
	t.Parallel()
	f := start(t, options{})
	// expires_in below the plugin's 30 s refresh leeway: every validation
	// finds the access token due, without waiting.
	f.op.SetAccessTokenLifetime(10 * time.Second)
	p := f.env.App.Plugins.Plugin("cloud")
	if p == nil {
		t.Fatal("cloud plugin not loaded")
	}
	refreshToken := func(t *testing.T, id string) string {
		t.Helper()
		sum := sha256.Sum256([]byte(id))
		suffix := "session/" + hex.EncodeToString(sum[:]) + "/secret"
		var rt string
		err := f.env.App.Store.Scan(t.Context(), "plugin/cloud/kv/", store.ScanOptions{}, func(key string, value []byte) error {
			if strings.HasSuffix(key, suffix) {
				var sec struct {
					RefreshToken string `json:"refresh_token"`
				}
				if err := json.Unmarshal(value, &sec); err != nil {
					return err
				}
				rt = sec.RefreshToken
				return store.ErrStopScan
			}
			return nil
		})
		if err != nil || rt == "" {
			t.Fatalf("refresh token of session %.8s…: %q, %v", id, rt, err)
		}
		return rt
	}
	authtest.TestSessionRotation(t, p.Session(), authtest.RotationPeer{
		SignIn: func(t *testing.T) string {
			c := f.env.Client()
			f.signIn(t, c, oidc.TestUser, oidc.TestPassword)
			return c.Cookie("authhost_cloud")
		},
		ExpireAccess: func(*testing.T, string) {}, // always due, see above
		RefreshToken: refreshToken,
		Spent:        func(t *testing.T, rt string) bool { return refreshAtOP(t, f.op, rt) != http.StatusOK },
		Withdraw:     func(t *testing.T, id string) { revokeAtOP(t, f.op, refreshToken(t, id)) },
	})
}
