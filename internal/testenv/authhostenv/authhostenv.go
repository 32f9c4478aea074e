// Package authhostenv runs the whole authhost server for end-to-end tests:
// it builds the requested provider plugins to Wasm, loads a YAML config the
// way `authhost serve` does, wires everything through internal/app (the
// same code the binary runs) and serves it on a local httptest server.
// Clients keep cookies like a browser and send the Origin header browsers
// send, so tests exercise authhost's real API, CSRF guard included.
package authhostenv

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/authhost/authhost/internal/app"
	"github.com/authhost/authhost/internal/config"
	"github.com/authhost/authhost/internal/testenv/logbuf"
	"github.com/authhost/authhost/internal/testenv/wasmbuild"
)

// Options describe one server.
type Options struct {
	// Plugins are provider source directories relative to the repository
	// root, e.g. "examples/static-users" or "plugins/cloud".
	Plugins []string
	// Wasm adds already built plugins (e.g. AssemblyScript ones from
	// ascbuild): file name in the plugins dir (NAME.wasm) → path.
	Wasm map[string]string
	// Config is authhost YAML (capabilities, plugins, rbac, session …), as
	// in examples/authhost.yaml. listen, public_url, plugins_dir, data_dir
	// and cache_dir are set by Start.
	Config string
	// Env resolves ${NAME} references in Config (nothing else does).
	Env map[string]string
	// PublicURL is the server's public URL; empty means the URL it listens
	// on. Set an https URL to play a server behind a TLS-terminating
	// proxy: clients still connect to Env.URL, but send PublicURL's origin.
	PublicURL string
	// DataDir is the data directory; empty means a fresh one per server.
	// Reuse one to restart a server over the same store.
	DataDir string
}

// Env is a running authhost server.
type Env struct {
	// URL is the server's base URL, where clients connect.
	URL string
	// PublicURL is the configured public URL (URL unless Options says).
	PublicURL string
	// App is the wired application (plugin host, store).
	App  *app.App
	logs *logbuf.Buffer
	srv  *httptest.Server
}

// RepoRoot returns the repository root (where go.mod is).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// cacheDir is the compiled-plugin cache shared by every e2e test process,
// so each plugin is compiled once per machine, not once per test.
var cacheDir = filepath.Join(os.TempDir(), "authhost-e2e-cache")

// Start builds the plugins, starts the server and stops it when t ends.
func Start(t testing.TB, o Options) *Env {
	t.Helper()
	root := RepoRoot()
	dirs := make([]string, len(o.Plugins))
	for i, p := range o.Plugins {
		dirs[i] = filepath.Join(root, p)
	}
	pluginsDir := wasmbuild.Dir(t, dirs...)
	for name, path := range o.Wasm {
		wasmbuild.CopyInto(t, path, pluginsDir, name)
	}

	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	getenv := func(name string) (string, bool) {
		v, ok := o.Env[name]
		return v, ok
	}
	cfg, err := config.Parse([]byte(o.Config), getenv)
	if err != nil {
		t.Fatalf("authhostenv: config: %v", err)
	}
	cfg.Listen = srv.Listener.Addr().String()
	cfg.PublicURL = base
	if o.PublicURL != "" {
		cfg.PublicURL = o.PublicURL
	}
	cfg.PluginsDir = pluginsDir
	cfg.DataDir = o.DataDir
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.CacheDir = cacheDir
	if err := cfg.Validate(); err != nil {
		t.Fatalf("authhostenv: config: %v", err)
	}

	logs := &logbuf.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := app.New(context.Background(), cfg, log)
	if err != nil {
		t.Fatalf("authhostenv: start: %v\n%s", err, logs.String())
	}
	srv.Config.Handler = a.Handler
	srv.Start()
	e := &Env{URL: base, PublicURL: cfg.PublicURL, App: a, logs: logs, srv: srv}
	t.Cleanup(func() {
		srv.Close()
		a.Close()
		if t.Failed() {
			t.Logf("authhost log:\n%s", logs.String())
		}
	})
	return e
}

// Logs returns everything the server logged so far (debug level).
func (e *Env) Logs() string { return e.logs.String() }

// Client is one browser-like API client: it keeps cookies and sends the
// Origin header on state-changing requests. It does not follow redirects,
// so tests see each hop of an SSO flow.
type Client struct {
	// HTTP is the underlying client (cookie jar, no redirects followed).
	HTTP *http.Client
	// Origin is sent on non-GET requests; defaults to the public URL.
	Origin string
	// Header is added to every request (e.g. Authorization).
	Header http.Header
	env    *Env
}

// Client returns a new client with an empty cookie jar.
func (e *Env) Client() *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{env: e, Origin: strings.TrimSuffix(e.PublicURL, "/"), Header: http.Header{},
		HTTP: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Response is a fully read response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Decode unmarshals the body into v, failing t when it is not JSON.
func (r *Response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("response %d is not the expected JSON: %v\n%s", r.Status, err, r.Body)
	}
}

// Location is the redirect target as sent (the Location header).
func (r *Response) Location() string { return r.Header.Get("Location") }

// Do sends a request to path (relative to the server, or an absolute URL)
// with body encoded as JSON when it is not nil, and reads the response.
func (c *Client) Do(t testing.TB, method, path string, body any) *Response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	target := path
	if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
		target = c.env.URL + path
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if method != http.MethodGet && method != http.MethodHead && c.Origin != "" {
		req.Header.Set("Origin", c.Origin)
	}
	for k, vs := range c.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Cookie returns the value of the named cookie the client holds for the
// server, or "".
func (c *Client) Cookie(name string) string {
	u, _ := url.Parse(c.env.URL)
	for _, ck := range c.HTTP.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// SetCookie puts a cookie for the server into the client's jar (e.g. an
// old cookie to replay, or one minted directly at the provider).
func (c *Client) SetCookie(name, value string) {
	u, _ := url.Parse(c.env.URL)
	c.HTTP.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}
