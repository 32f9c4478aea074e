package replicas

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/authhost/authhost/internal/testenv/authhostenv"
	"github.com/authhost/authhost/internal/testenv/logbuf"
	pgtest "github.com/authhost/authhost/internal/testenv/postgres"
	"github.com/authhost/authhost/internal/testenv/wasmbuild"
)

// TestKill9LosesNothing runs replica A as a real `authhost serve` process,
// signs in and signs up on it, kills it with SIGKILL and checks on replica
// B that the acknowledged session, account and audit events all survived:
// authhost answers only after the database committed.
func TestKill9LosesNothing(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	root := authhostenv.RepoRoot()
	bin := filepath.Join(t.TempDir(), "authhost")
	build := exec.Command("go", "build", "-o", bin, "./cmd/authhost")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build authhost: %v\n%s", err, out)
	}
	plugins := wasmbuild.Dir(t, filepath.Join(root, "examples/static-users"))
	cfgFile := filepath.Join(t.TempDir(), "authhost.yaml")
	if err := os.WriteFile(cfgFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	base := "http://" + addr
	cmd := exec.Command(bin, "serve", "--config", cfgFile, "--listen", addr, "--public-url", base,
		"--plugins-dir", plugins, "--data-dir", t.TempDir())
	cmd.Env = append(os.Environ(), "AUTHHOST_STORE_DSN="+dsn, "ADMIN_HASH="+adminHash)
	logs := &logbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("replica A's log:\n%s", logs.String())
		}
	})
	waitReady(t, base, exited)

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(path string, body any) int {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", base+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", base)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	const email, password = "survivor@example.com", "long-enough-1"
	if s := post("/api/auth/credentials/sign-up", map[string]string{"email": email, "password": password, "name": "S"}); s != http.StatusCreated {
		t.Fatalf("sign-up on A = %d", s)
	}
	if s := post("/api/auth/credentials/sign-in", map[string]string{"email": adminEmail, "password": adminPassword}); s != http.StatusOK {
		t.Fatalf("sign-in on A = %d", s)
	}
	u, _ := url.Parse(base)
	var session string
	for _, ck := range jar.Cookies(u) {
		if ck.Name == cookieName {
			session = ck.Value
		}
	}
	if session == "" {
		t.Fatal("no session cookie from A")
	}

	if err := cmd.Process.Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	<-exited

	b := authhostenv.Start(t, authhostenv.Options{Plugins: []string{"examples/static-users"}, Config: config,
		Env: map[string]string{"AUTHHOST_STORE_DSN": dsn, "ADMIN_HASH": adminHash}})
	admin := b.Client()
	admin.SetCookie(cookieName, session)
	if status, m := getMe(t, admin); status != http.StatusOK || m.Email != adminEmail {
		t.Fatalf("A's session on B after kill -9 = %d %+v", status, m)
	}
	signIn(t, b.Client(), email, password) // the account A wrote to plugin KV
	var res struct {
		Events []struct {
			Action string `json:"action"`
			Actor  struct {
				Email string `json:"email"`
			} `json:"actor"`
		} `json:"events"`
	}
	r := admin.Do(t, "GET", "/api/audit?outcome=success&limit=100", nil)
	r.Decode(t, &res)
	var got []string
	for _, e := range res.Events {
		got = append(got, e.Action+" "+e.Actor.Email)
	}
	for _, want := range []string{"auth.sign-in " + adminEmail, "auth.sign-in " + email} {
		if !slices.Contains(got, want) {
			t.Errorf("audit after kill -9 lacks %q: %q", want, got)
		}
	}
	if len(got) < 3 {
		t.Errorf("audit after kill -9 = %q; want A's sign-up and sign-in and B's sign-in", got)
	}
}

// waitReady polls /readyz until the server answers 200.
func waitReady(t *testing.T, base string, exited <-chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-exited:
			t.Fatal("authhost exited before it was ready")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("authhost not ready at %s after 2 minutes: %v", base, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
