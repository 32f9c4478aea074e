package authtest

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/authhost/authhost/auth"
)

// memCreds is an in-memory credentials + user provider; flaw selects a
// defect for the suite to catch.
type memCreds struct {
	flaw  string
	mu    sync.Mutex
	users map[string]memAccount // by email
}

type memAccount struct {
	user     auth.User
	password string
}

func (m *memCreds) SignIn(_ context.Context, email, password string, _ *http.Request) (*auth.CredentialsResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.flaw == "trim" {
		email, password = strings.TrimRight(email, "\x00"), strings.TrimRight(password, "\x00")
	}
	a, ok := m.users[strings.ToLower(email)]
	switch {
	case !ok && m.flaw == "enumeration":
		return nil, auth.Errorf(auth.CodeInvalidCredentials, "no such account")
	case !ok || a.password != password:
		return nil, auth.Errorf(auth.CodeInvalidCredentials, "invalid email or password")
	}
	return &auth.CredentialsResult{User: a.user}, nil
}

func (m *memCreds) SignUp(_ context.Context, email, password, name string, _ *http.Request) (*auth.CredentialsResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" || strings.ContainsAny(domain, "@\n") || strings.ContainsFunc(email, func(r rune) bool { return r < ' ' }) {
		return nil, auth.Errorf(auth.CodeInvalidRequest, "bad email")
	}
	if _, dup := m.users[strings.ToLower(email)]; dup && m.flaw != "overwrite" {
		return nil, auth.Errorf(auth.CodeAlreadyExists, "exists")
	}
	u := auth.User{ID: "u-" + strings.ToLower(email), Email: email, Name: name}
	m.users[strings.ToLower(email)] = memAccount{user: u, password: password}
	return &auth.CredentialsResult{User: u}, nil
}

func (m *memCreds) SignUpEnabled(context.Context) bool { return true }
func (m *memCreds) RequestPasswordReset(context.Context, string, string) error {
	return auth.ErrNotSupported
}
func (m *memCreds) ResetPassword(context.Context, string, string) error { return auth.ErrNotSupported }

func (m *memCreds) CurrentUser(context.Context, *http.Request) (*auth.User, error) { return nil, nil }
func (m *memCreds) GetUser(_ context.Context, id string) (*auth.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range m.users {
		if a.user.ID == id {
			return &a.user, nil
		}
	}
	return nil, nil
}
func (m *memCreds) ProfileURL(context.Context, auth.User) (string, error) { return "", nil }

// recorder is a T that records failures of every case instead of failing.
type recorder struct {
	testing.TB
	mu     *sync.Mutex
	failed map[string][]string
	name   string
}

func (r recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed[r.name] = append(r.failed[r.name], format)
}
func (r recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...) }
func (r recorder) Name() string                      { return r.name }
func (r recorder) Run(name string, f func(T)) bool {
	f(recorder{TB: r.TB, mu: r.mu, failed: r.failed, name: r.name + "/" + name})
	return true
}

func TestCredentialsSuite(t *testing.T) {
	t.Parallel()
	// A correct provider passes, run as a real subtest tree.
	p := &memCreds{users: map[string]memAccount{}}
	if u := TestCredentials(Testing(t), p, CredentialsOptions{}); u == nil {
		t.Fatal("no signed-in user returned")
	} else {
		TestUser(Testing(t), p, u)
	}
	for _, tc := range []struct{ flaw, caught string }{
		{"enumeration", "/SignInFailuresAlike"},
		{"trim", "/SignInLookalikes"},
		{"overwrite", "/SignUp"},
	} {
		t.Run(tc.flaw, func(t *testing.T) {
			t.Parallel()
			r := recorder{TB: t, mu: &sync.Mutex{}, failed: map[string][]string{}}
			TestCredentials(r, &memCreds{flaw: tc.flaw, users: map[string]memAccount{}}, CredentialsOptions{})
			if len(r.failed[tc.caught]) == 0 || len(r.failed) != 1 {
				t.Errorf("flaw %s: failures %v, want only case %s", tc.flaw, r.failed, tc.caught)
			}
		})
	}
}
