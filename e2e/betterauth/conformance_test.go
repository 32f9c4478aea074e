package betterauth_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/auth/authtest"
	"github.com/authhost/authhost/internal/testenv/betterauth"
)

// The session conformance suites the built-in providers pass, run against
// the betterauth plugin as authhost loads it (Wasm, through the host's
// adapters). Better Auth cannot create a session for a given user id, so
// sessions are minted by signing in on Better Auth (see minter).

// peerSessions is the plugin's session adapter plus the peer behind it,
// which the session factory signs in on.
type peerSessions struct {
	authtest.SessionListerProvider
	peer *betterauth.Server
}

// pluginSessions starts authhost against peer and returns the plugin's
// session adapter (a session lister).
//
// The call deadline is raised from the default 5 s: the Concurrent case
// makes 32 sign-ups and validations at once, each a Better Auth round
// trip, and on a busy two-core CI machine a call can wait seconds for the
// peer. What is checked is the outcome, not the latency.
func pluginSessions(t *testing.T, peer *betterauth.Server) *peerSessions {
	t.Helper()
	env := startAuthhostWith(t, peer, []string{"limits: {timeout_ms: 20000}"})
	p := env.App.Plugins.Plugin("betterauth")
	if p == nil {
		t.Fatal("betterauth plugin not loaded")
	}
	sl, ok := p.Session().(authtest.SessionListerProvider)
	if !ok {
		t.Fatalf("betterauth session adapter %T does not list sessions", p.Session())
	}
	return &peerSessions{SessionListerProvider: sl, peer: peer}
}

// sessionOptions are what the suites need to know about Better Auth:
// sessions come from sign-ins (the factory), and they carry Better Auth's
// own metadata (the user snapshot), not metadata a caller chose.
func sessionOptions() []authtest.SessionOption {
	m := &minter{accounts: map[accountKey]*account{}}
	return []authtest.SessionOption{authtest.WithSessionFactory(m.session), authtest.IgnoresCallerMetadata()}
}

func TestSessionConformance(t *testing.T) {
	t.Parallel()
	p := pluginSessions(t, betterauth.Start(t))
	opts := sessionOptions()
	authtest.TestSessionProvider(t, func(*testing.T) auth.SessionProvider { return p }, opts...)
	authtest.TestSessionLister(t, func(*testing.T) authtest.SessionListerProvider { return p }, opts...)
}

// TestSessionExpiryConformance runs the expiry suite against a peer whose
// sessions live one second (Better Auth's expiresIn is in whole seconds).
func TestSessionExpiryConformance(t *testing.T) {
	t.Parallel()
	var (
		mu    sync.Mutex
		byTTL = map[time.Duration]*peerSessions{}
	)
	authtest.TestSessionExpiry(t, func(t *testing.T, ttl time.Duration) auth.SessionProvider {
		mu.Lock()
		defer mu.Unlock()
		if p, ok := byTTL[ttl]; ok {
			return p
		}
		p := pluginSessions(t, betterauth.StartDedicated(t, betterauth.Options{SessionExpiresIn: ttl}))
		byTTL[ttl] = p
		return p
	}, sessionOptions()...)
}

// minter is the suites' session factory: each (test, user name) pair is a
// Better Auth account of its own; its first session is the one sign-up
// creates, later ones come from sign-ins. Sessions are made on Better
// Auth's own API, as a browser would, and returned as the plugin
// validates them.
type minter struct {
	mu       sync.Mutex
	accounts map[accountKey]*account
}

type accountKey struct{ test, user string }

type account struct {
	mu    sync.Mutex
	email string
	made  bool
}

func (m *minter) session(t *testing.T, ctx context.Context, p auth.SessionProvider, user string, _ map[string]any) (*auth.Session, error) {
	ps, ok := p.(*peerSessions)
	if !ok {
		return nil, fmt.Errorf("minter: provider %T has no Better Auth peer", p)
	}
	m.mu.Lock()
	key := accountKey{t.Name(), user}
	a := m.accounts[key]
	if a == nil {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		a = &account{email: "conformance-" + hex.EncodeToString(b) + "@example.com"}
		m.accounts[key] = a
	}
	m.mu.Unlock()

	a.mu.Lock()
	path, body := "/sign-in/email", map[string]string{"email": a.email, "password": password}
	if !a.made {
		path, body = "/sign-up/email", map[string]string{"email": a.email, "password": password, "name": user}
	}
	token, err := peerToken(ctx, ps.peer, path, body)
	if err == nil {
		a.made = true
	}
	a.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s, err := p.ValidateSession(ctx, token)
	if err != nil {
		return nil, fmt.Errorf("minter: validate the new session: %w", err)
	}
	if s == nil {
		return nil, fmt.Errorf("minter: the plugin does not know the session %s just made", path)
	}
	return s, nil
}

// peerToken signs up or in on Better Auth and returns the session cookie's
// value (the signed token), which is the plugin's session id.
func peerToken(ctx context.Context, peer *betterauth.Server, path string, body any) (string, error) {
	raw, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, peer.AuthURL()+path, bytes.NewReader(raw))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", peer.URL)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("minter: %s: %w", path, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("minter: %s: status %d: %s", path, resp.StatusCode, msg)
	}
	for _, c := range resp.Cookies() {
		if c.Name != sessionCookie {
			continue
		}
		// The cookie value is URL-encoded; the session id is what it encodes.
		if v, err := url.QueryUnescape(c.Value); err == nil && strings.Contains(v, ".") {
			return v, nil
		}
	}
	return "", fmt.Errorf("minter: %s set no %s cookie", path, sessionCookie)
}
