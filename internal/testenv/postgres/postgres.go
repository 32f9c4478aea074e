// Package postgres starts a throwaway PostgreSQL cluster for tests: initdb
// in a temp directory, the server on a unix socket in that directory and on
// a free port of 127.0.0.1, trust authentication, fsync off. The cluster is
// started once per test process, on first use, and every test gets a fresh
// database of its own (NewDatabase), dropped when the test ends.
//
// The binaries come from Debian's postgresql package
// (/usr/lib/postgresql/<version>/bin, the newest version), or from PATH.
// PostgreSQL refuses to run as root, so under root (as in CI) the cluster
// runs as the "postgres" system user (or "nobody" when there is none).
//
// A test package that uses the cluster stops it from TestMain:
//
//	func TestMain(m *testing.M) { postgres.Main(m) }
//
// Without PostgreSQL installed, NewDatabase fails the test when CI=true and
// skips it otherwise.
package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authhost/authhost/internal/testenv/logbuf"
)

// readyTimeout bounds initdb plus the server's start on a loaded machine.
const readyTimeout = 60 * time.Second

// superuser is the cluster's bootstrap role.
const superuser = "authhost"

// Cluster is a running throwaway PostgreSQL server.
type Cluster struct {
	// Port is the TCP port on 127.0.0.1.
	Port int
	// Dir holds the data directory and the unix socket.
	Dir string

	cmd    *exec.Cmd
	exited chan struct{}
	output *logbuf.Buffer
}

var (
	mu       sync.Mutex
	shared   *Cluster
	skipMsg  string
	started  bool
	startErr error
)

// Main runs the package's tests and then stops the cluster if one was
// started; it exits with the tests' status. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Stop stops the shared cluster (if it runs) and removes its directory.
func Stop() {
	mu.Lock()
	defer mu.Unlock()
	if shared != nil {
		shared.stop()
		shared = nil
	}
}

// Start returns the shared cluster, starting it on first use. It skips t
// (fails it when CI=true) when PostgreSQL is not installed and fails t
// when the cluster cannot start.
func Start(t testing.TB) *Cluster {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if !started {
		started = true
		shared, skipMsg, startErr = start()
	}
	if skipMsg != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("postgres: %s (CI=true, so PostgreSQL is required)", skipMsg)
		}
		t.Skipf("postgres: %s", skipMsg)
	}
	if startErr != nil {
		t.Fatalf("postgres: %v", startErr)
	}
	return shared
}

// NewDatabase creates an empty database on the shared cluster (starting
// it if needed) and returns its DSN; the database is dropped when t ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	c := Start(t)
	name := "t_" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	if err := c.exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("postgres: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
		defer cancel()
		if err := c.exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("postgres: drop database %s: %v", name, err)
		}
	})
	return c.DSN(name)
}

// DSN returns the URL of database db over TCP on 127.0.0.1.
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", superuser, c.Port, db)
}

// Logs returns what the server printed so far.
func (c *Cluster) Logs() string { return c.output.String() }

func (c *Cluster) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

// binDir finds the newest Debian PostgreSQL bin directory, or the one of
// the initdb on PATH.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb, no initdb on PATH); run .ci/install-deps or apt-get install postgresql")
}

// credential returns who runs the cluster: nil (the current user) unless
// we are root, whom PostgreSQL refuses.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
	}
	return nil, errors.New("running as root and there is no postgres or nobody user to run PostgreSQL as")
}

// start initialises and starts a cluster. A non-empty message means
// PostgreSQL is missing (skip); an error means it failed.
func start() (*Cluster, string, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err.Error(), nil
	}
	cred, err := credential()
	if err != nil {
		return nil, "", err
	}
	dir, err := os.MkdirTemp("", "authhost-pg-")
	if err != nil {
		return nil, "", fmt.Errorf("temp dir: %w", err)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			_ = os.RemoveAll(dir)
			return nil, "", fmt.Errorf("chown %s: %w", dir, err)
		}
	}
	output := &logbuf.Buffer{}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", superuser,
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.Dir = dir
	initdb.Stdout, initdb.Stderr = output, output
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if err := initdb.Run(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, "", fmt.Errorf("initdb: %w\n%s", err, output.String())
	}
	// A port taken between the probe and the server's bind is retried.
	for attempt := 0; ; attempt++ {
		c, err := launch(bin, dir, cred, output)
		if err == nil {
			return c, "", nil
		}
		if attempt == 2 || !strings.Contains(output.String(), "could not bind") {
			_ = os.RemoveAll(dir)
			return nil, "", err
		}
	}
}

func launch(bin, dir string, cred *syscall.Credential, output *logbuf.Buffer) (*Cluster, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", filepath.Join(dir, "data"),
		"-k", dir, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "max_connections=300",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "shared_buffers=64MB")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = output, output
	// The server dies with the test process (SIGQUIT: immediate shutdown).
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	c := &Cluster{Port: port, Dir: dir, cmd: cmd, exited: make(chan struct{}), output: output}
	go func() { _ = cmd.Wait(); close(c.exited) }()
	deadline := time.Now().Add(readyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, c.DSN("postgres"))
		cancel()
		if err == nil {
			_ = conn.Close(context.Background())
			return c, nil
		}
		select {
		case <-c.exited:
			return nil, fmt.Errorf("postgres exited at start: %s", output.String())
		default:
		}
		if time.Now().After(deadline) {
			c.stop()
			return nil, fmt.Errorf("postgres not ready after %v: %w\n%s", readyTimeout, err, output.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop shuts the server down (fast shutdown, then kill) and removes the
// directory.
func (c *Cluster) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
	_ = os.RemoveAll(c.Dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
