package authtest

import (
	"context"
	"testing"
)

// T is what the provider suites of this package (TestCredentials,
// TestUser, TestSSO, TestRBACProvider) need of a test: the subset of
// *testing.T they use, with Run taking a func(T). Testing adapts a
// *testing.T; `authhost conformance` implements it with its own reporter,
// so provider authors run the same suites outside `go test`.
type T interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Skipf(format string, args ...any)
	Context() context.Context
	Name() string
	Run(name string, f func(T)) bool
}

// Testing adapts t to T.
func Testing(t *testing.T) T { return testingT{t} }

type testingT struct{ *testing.T }

// Run runs f as a subtest of t.
func (t testingT) Run(name string, f func(T)) bool {
	return t.T.Run(name, func(t *testing.T) { f(testingT{t}) })
}

var _ T = testingT{}
