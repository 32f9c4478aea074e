// Package betterauth starts a real Better Auth server (better-auth 1.7.25,
// email+password, bearer and jwt plugins, memory adapter) for tests: the
// peer of the betterauth provider plugin.
//
// The Node project lives beside this file (package.json, package-lock.json,
// server.mjs). Install it once with
//
//	npm ci --prefix internal/testenv/betterauth --no-audit --no-fund
//
// Start launches the server on 127.0.0.1 on a free port once per test
// process and shares it between tests; StartDedicated starts one of a
// test's own (to stop it mid-test, or with other settings). Without
// node_modules (or without node) both fail the test when CI=true and skip
// it otherwise. Unlike a default NODE_ENV=test Better Auth, the peer
// enforces its Origin and redirect URL checks, as production does.
//
// The server keeps its database in memory, saves it to a state file when it
// is stopped and loads it when it starts again, so Stop and Restart simulate
// an outage without losing users, sessions or signing keys. It exits when
// the test process does (it watches its stdin).
package betterauth

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/authhost/authhost/internal/testenv/logbuf"
)

// BasePath is where the peer mounts Better Auth.
const BasePath = "/api/auth"

// readyTimeout bounds how long a start may take (node loads better-auth in
// about a second; the margin is for loaded CI machines).
const readyTimeout = 30 * time.Second

// Server is a running Better Auth peer.
type Server struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:41234 (also its
	// JWT issuer and audience, and a trusted origin).
	URL string
	// Secret is the server's BETTER_AUTH secret (it signs session cookies).
	Secret string

	port      int
	dir       string // Node project directory
	stateFile string
	opts      Options

	mu      sync.Mutex
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	exited  chan struct{}
	running bool
	output  *logbuf.Buffer
}

// LoopbackOrigins is a Better Auth trustedOrigins pattern for every
// http://127.0.0.1 port. The shared peer trusts it, because the authhost
// servers that tests start on loopback ports pass their own URLs to Better
// Auth (e.g. as a password reset's redirectTo), and Better Auth refuses
// untrusted ones.
const LoopbackOrigins = "http://127.0.0.1:*"

// Options configure a dedicated peer (see StartDedicated).
type Options struct {
	// SessionExpiresIn is Better Auth's session.expiresIn, in whole seconds
	// (rounded up); zero keeps Better Auth's default of 7 days.
	SessionExpiresIn time.Duration
	// TrustedOrigins are trusted besides the server's own URL (patterns
	// as in Better Auth's trustedOrigins, e.g. LoopbackOrigins).
	TrustedOrigins []string
}

var (
	once      sync.Once
	shared    *Server
	sharedErr error
	skipMsg   string
)

// Start returns the shared peer, starting it on first use (and again if a
// previous test stopped it). It fails t when the peer cannot start, and
// skips t (fails it when CI=true) when node or node_modules is missing.
//
// Tests that stop the peer or need other settings use StartDedicated, so
// tests sharing this one can run in parallel.
func Start(t testing.TB) *Server {
	t.Helper()
	once.Do(func() { shared, skipMsg, sharedErr = newServer(Options{TrustedOrigins: []string{LoopbackOrigins}}) })
	checkUsable(t, skipMsg, sharedErr)
	if err := shared.ensureRunning(); err != nil {
		t.Fatalf("betterauth: %v", err)
	}
	return shared
}

// StartDedicated starts a peer of t's own, configured by o, with its own
// port, secret and database; it is stopped when t ends. Use it for tests
// that stop or restart the peer while other tests run, or that need
// settings the shared peer does not have.
func StartDedicated(t testing.TB, o Options) *Server {
	t.Helper()
	s, skip, err := newServer(o)
	checkUsable(t, skip, err)
	if err := s.ensureRunning(); err != nil {
		t.Fatalf("betterauth: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("betterauth: %v", err)
		}
		_ = os.Remove(s.stateFile)
	})
	return s
}

// checkUsable skips or fails t when the peer cannot run here.
func checkUsable(t testing.TB, skip string, err error) {
	t.Helper()
	if skip != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("betterauth: %s (CI=true, so the peer is required)", skip)
		}
		t.Skipf("betterauth: %s", skip)
	}
	if err != nil {
		t.Fatalf("betterauth: %v", err)
	}
}

// Dir returns the directory of the peer's Node project.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

func newServer(o Options) (*Server, string, error) {
	dir := Dir()
	if _, err := exec.LookPath("node"); err != nil {
		return nil, "node is not installed (need Node.js >= 20)", nil
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "better-auth", "package.json")); err != nil {
		return nil, fmt.Sprintf("%s/node_modules is missing; run: npm ci --prefix %s --no-audit --no-fund", dir, dir), nil
	}
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, "", fmt.Errorf("secret: %w", err)
	}
	return &Server{
		URL:       "http://127.0.0.1:" + strconv.Itoa(port),
		Secret:    hex.EncodeToString(secret),
		port:      port,
		dir:       dir,
		stateFile: filepath.Join(os.TempDir(), fmt.Sprintf("authhost-betterauth-%d-%d.json", os.Getpid(), port)),
		opts:      o,
	}, "", nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// AuthURL returns the base URL of Better Auth's API (URL + BasePath).
func (s *Server) AuthURL() string { return s.URL + BasePath }

// Stop stops the server gracefully (it saves its database first); requests
// then fail with "connection refused". Stopping a stopped server is a no-op.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked()
}

// Pause makes the server hang: it still accepts connections, but every
// request (except the test-only routes) waits until Resume, as with a hung
// or overloaded server. Held requests are answered after Resume; a Stop
// drops them.
func (s *Server) Pause(ctx context.Context) error {
	var out struct {
		OK bool `json:"ok"`
	}
	return s.testCall(ctx, http.MethodPost, "/__test/pause", map[string]any{}, &out)
}

// Resume ends a Pause.
func (s *Server) Resume(ctx context.Context) error {
	var out struct {
		OK bool `json:"ok"`
	}
	return s.testCall(ctx, http.MethodPost, "/__test/resume", map[string]any{}, &out)
}

// Restart stops the server if it runs and starts it again on the same port
// with the same secret and database.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.stopLocked(); err != nil {
		return err
	}
	return s.startLocked()
}

// EnsureRunning starts the server again if it was stopped; a running
// server is left alone.
func (s *Server) EnsureRunning() error { return s.ensureRunning() }

func (s *Server) ensureRunning() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		select {
		case <-s.exited:
			s.running = false
		default:
			return nil
		}
	}
	return s.startLocked()
}

func (s *Server) stopLocked() error {
	if !s.running {
		return nil
	}
	s.running = false
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop peer: %w", err)
	}
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	_ = s.stdin.Close()
	return nil
}

func (s *Server) startLocked() error {
	cmd := exec.Command("node", "server.mjs")
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(),
		"BA_PORT="+strconv.Itoa(s.port),
		"BA_SECRET="+s.Secret,
		"BA_STATE_FILE="+s.stateFile,
		"BA_EXIT_WITH_STDIN=1",
		"NODE_ENV=test",
	)
	if d := s.opts.SessionExpiresIn; d > 0 {
		secs := int((d + time.Second - 1) / time.Second)
		cmd.Env = append(cmd.Env, "BA_SESSION_EXPIRES_IN="+strconv.Itoa(secs))
	}
	if len(s.opts.TrustedOrigins) > 0 {
		cmd.Env = append(cmd.Env, "BA_TRUSTED_ORIGINS="+strings.Join(s.opts.TrustedOrigins, ","))
	}
	out := &logbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("start peer: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start peer: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.cmd, s.stdin, s.exited, s.output, s.running = cmd, stdin, exited, out, true

	deadline := time.Now().Add(readyTimeout)
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(s.AuthURL() + "/ok")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			s.running = false
			return fmt.Errorf("peer exited during start: %s", out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = s.stopLocked()
			return fmt.Errorf("peer not ready after %s: %s", readyTimeout, out.String())
		}
	}
}

// Output returns what the current server process printed so far.
func (s *Server) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.output == nil {
		return ""
	}
	return s.output.String()
}

// ResetToken returns the last password-reset token the server "emailed" to
// email (the peer records them instead of sending mail).
func (s *Server) ResetToken(ctx context.Context, email string) (string, error) {
	var out struct {
		Token string `json:"token"`
	}
	if err := s.testCall(ctx, http.MethodGet, "/__test/reset-token?email="+url.QueryEscape(email), nil, &out); err != nil {
		return "", err
	}
	return out.Token, nil
}

// VerifyEmail marks the user's email verified, as following the link of
// Better Auth's verification email would.
func (s *Server) VerifyEmail(ctx context.Context, email string) error {
	var out struct {
		OK bool `json:"ok"`
	}
	return s.testCall(ctx, http.MethodPost, "/__test/verify-email", map[string]any{"email": email}, &out)
}

// SignJWT returns a JWT over payload signed with the server's current JWKS
// key (the jwt plugin adds iss, aud, iat and, unless given, exp).
func (s *Server) SignJWT(ctx context.Context, payload map[string]any) (string, error) {
	var out struct {
		Token string `json:"token"`
	}
	if err := s.testCall(ctx, http.MethodPost, "/__test/sign-jwt", map[string]any{"payload": payload}, &out); err != nil {
		return "", err
	}
	return out.Token, nil
}

func (s *Server) testCall(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("betterauth %s: %w", path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, body)
	if err != nil {
		return fmt.Errorf("betterauth %s: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("betterauth %s: %w", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("betterauth %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("betterauth %s: status %d: %s", path, resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("betterauth %s: %w", path, err)
	}
	return nil
}
