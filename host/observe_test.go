package host

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/authhost/authhost/auth"
)

// TestOnCallOutcomes checks that every finished call reaches OnCall once,
// classified the way the metrics label it.
func TestOnCallOutcomes(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []CallRecord
	f, errs := newFixture(t, func(c *Config) {
		c.OnCall = func(r CallRecord) { mu.Lock(); got = append(got, r); mu.Unlock() }
		c.Plugins["loop"] = PluginConfig{Limits: Limits{CallTimeout: 200 * time.Millisecond}}
		c.Plugins["echo"] = PluginConfig{Limits: Limits{MaxOutputBytes: 4096}}
	}, "echo", "loop")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	mu.Lock()
	got = nil // forget load-time calls
	mu.Unlock()
	echo, loop := f.plugin(t, "echo"), f.plugin(t, "loop")
	user := auth.User{ID: "u1"}
	_ = echo.Call(ctx, "echo", benchPayload(), nil)
	_, _ = echo.RBAC().Permissions(ctx, auth.User{ID: "unknown"}) // not_found envelope
	_ = echo.Call(ctx, "big", 10000, nil)                         // output too large
	_, _ = echo.CallRaw(ctx, "echo", []byte(`{}`))
	_, _ = loop.RBAC().Roles(ctx, user) // spins past its deadline

	mu.Lock()
	defer mu.Unlock()
	var outcomes []string
	for _, r := range got {
		outcomes = append(outcomes, r.Plugin+"/"+r.Export+"="+r.Outcome)
		if r.Duration <= 0 {
			t.Errorf("%+v: no duration", r)
		}
	}
	want := []string{"echo/echo=ok", "echo/rbac_permissions=error", "echo/big=failure", "echo/echo=ok", "loop/rbac_roles=timeout"}
	if !slices.Equal(outcomes, want) {
		t.Errorf("outcomes = %q, want %q", outcomes, want)
	}
}
