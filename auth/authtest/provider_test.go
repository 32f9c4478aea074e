package authtest_test

import (
	"testing"

	"github.com/authhost/authhost/auth/authtest"
	"github.com/authhost/authhost/auth/builtin/session"
)

// TestSessionBasicsBuiltin runs the session basics, round trip included,
// against the built-in memory sessions.
func TestSessionBasicsBuiltin(t *testing.T) {
	t.Parallel()
	authtest.TestSessionBasics(authtest.Testing(t), session.NewMemory(session.Options{}))
}
