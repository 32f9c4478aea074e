package workos

import (
	"context"
	"net/http"
	"testing"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/auth/builtin/audit"
	"github.com/authhost/authhost/internal/testenv/authhostenv"
)

// webhookEvents returns the webhook.received events in the server's store.
func webhookEvents(t *testing.T, env *authhostenv.Env) []auth.AuditEvent {
	t.Helper()
	res, err := audit.NewStore(env.App.Store, audit.StoreOptions{}).Query(context.Background(),
		auth.AuditFilter{Action: "webhook.received"}, auth.AuditPage{Limit: audit.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	return res.Events
}

// TestWebhookServedOnlyWhenConfigured checks issue 12's item 9 on the real
// server: the WorkOS plugin in the plugins directory but neither
// configured nor named for a capability, and configured without a webhook
// secret, both answer exactly what a name that is not installed answers
// (404, same body), and nothing is audited.
func TestWebhookServedOnlyWhenConfigured(t *testing.T) {
	t.Parallel()
	installedOnly := authhostenv.Start(t, authhostenv.Options{
		Plugins: []string{"examples/static-users", "plugins/workos"},
		Config: `
capabilities:
  user: static-users
  credentials: static-users
  session: builtin
  rbac: builtin
  audit: [builtin]
plugins:
  static-users:
    config: { allow_sign_up: true, default_role: viewer }
`})
	noSecret := start(t, options{plugin: map[string]any{"webhook_secret": nil}})
	for _, tc := range []struct {
		name string
		env  *authhostenv.Env
	}{{"installed, not configured", installedOnly}, {"configured without a webhook secret", noSecret}} {
		status, body := postWebhook(t, tc.env, []byte(`{"event":"dsync.user.created"}`), "t=1,v1=00")
		c := tc.env.Client()
		c.Origin = "" // a server, not a browser
		missing := c.Do(t, "POST", "/api/webhooks/not-installed", map[string]string{"event": "dsync.user.created"})
		missingStatus, missingBody := missing.Status, string(missing.Body)
		if status != http.StatusNotFound || status != missingStatus || body != missingBody {
			t.Errorf("%s: workos = %d %s; not installed = %d %s; want the same 404", tc.name, status, body, missingStatus, missingBody)
		}
		if got := webhookEvents(t, tc.env); len(got) != 0 {
			t.Errorf("%s: %d webhook events audited, want none", tc.name, len(got))
		}
	}
}
