// Package web holds authhost's browser tests of its web UI: the real
// server (internal/app, through authhostenv) with the static-users example
// provider (and, for SSO, the cloud OIDC provider against the OIDC test
// peer), driven in Debian's Chromium through chromedp. One browser serves
// the package; each test gets its own tab in its own browser context (its
// own cookies), so tests do not see each other's sessions.
//
// Every page the tests visit is also saved as a full-page PNG under
// artifacts/screenshots/ at the repository root (AUTHHOST_ARTIFACTS moves
// artifacts/ elsewhere).
package web

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/authhost/authhost/internal/testenv/authhostenv"
)

// browser is the package's one Chromium, started on first use.
var browser struct {
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if browser.cancel != nil {
		browser.cancel()
	}
	os.Exit(code)
}

// startBrowser launches Chromium with exactly the flags the issue names
// (plus --no-default-browser-check; chromedp adds its pipe and profile).
func startBrowser() (context.Context, context.CancelFunc, error) {
	path, err := exec.LookPath("chromium")
	if err != nil {
		return nil, nil, fmt.Errorf("chromium is not installed (%w): run `bash .ci/install-deps` (it apt-get installs Debian's chromium)", err)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoDefaultBrowserCheck,
	)
	ctx, cancelBrowser := chromedp.NewContext(alloc)
	cancel := func() { cancelBrowser(); cancelAlloc() }
	// The first run starts the browser and ties it to ctx (not to a
	// shorter-lived child, whose end would stop the browser).
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		return nil, nil, fmt.Errorf("start chromium %s: %w", path, err)
	}
	return ctx, cancel, nil
}

// tab is one browser tab with its own cookies, pointed at one server.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
	// problems collects uncaught JavaScript exceptions and CSP
	// violations; a test fails on any.
	mu       sync.Mutex
	problems []string
}

func newTab(t *testing.T, base string) *tab {
	t.Helper()
	browser.once.Do(func() { browser.ctx, browser.cancel, browser.err = startBrowser() })
	if browser.err != nil {
		t.Fatal(browser.err)
	}
	ctx, cancel := chromedp.NewContext(browser.ctx, chromedp.WithNewBrowserContext())
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute) // generous: CI machines run many suites at once
	tb := &tab{t: t, ctx: ctx, base: base}
	t.Cleanup(func() {
		cancelTimeout()
		cancel()
	})
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 860)); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	tb.media(false) // no transitions: screenshots show settled colours
	// Overlay-free full-page screenshots: a classic scrollbar would take
	// its width from the layout that FullScreenshot's clip is computed on.
	tb.do("hide scrollbars", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetScrollbarsHidden, emulation.SetScrollbarsHiddenParams{Hidden: true})
		return err
	}))
	console := chromedp.Console(ctx)
	go func() {
		for msg, err := range console {
			if err != nil {
				return
			}
			if msg.Type == chromedp.ConsoleException || strings.Contains(msg.Text, "Content Security Policy") {
				tb.problem(fmt.Sprintf("%s: %s", msg.Type, msg.Text))
			}
		}
	}()
	t.Cleanup(func() {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		for _, p := range tb.problems {
			t.Errorf("browser reported: %s", p)
		}
	})
	return tb
}

func (tb *tab) problem(s string) {
	tb.mu.Lock()
	tb.problems = append(tb.problems, s)
	tb.mu.Unlock()
}

// do runs actions, failing the test on error.
func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %v (at %s)", what, err, tb.location())
	}
}

// open navigates to a path of the server.
func (tb *tab) open(path string) {
	tb.t.Helper()
	tb.do("open "+path, chromedp.Navigate(tb.base+path))
}

// submit clicks sel (a submit button or a link) and waits for the page it
// leads to to load.
func (tb *tab) submit(sel string) {
	tb.t.Helper()
	if _, err := chromedp.Run(tb.ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel)))); err != nil {
		tb.t.Fatalf("click %s: %v (at %s)", sel, err, tb.location())
	}
}

// fill sets the value of the input sel (fast; typeInto sends keystrokes).
func (tb *tab) fill(sel, v string) {
	tb.t.Helper()
	tb.do("fill "+sel, chromedp.SetValue(chromedp.CSS(sel), v))
}

// typeInto focuses the input sel, clears it and types v key by key.
func (tb *tab) typeInto(sel, v string) {
	tb.t.Helper()
	tb.do("type into "+sel, chromedp.Clear(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), v))
}

func (tb *tab) text(sel string) string {
	tb.t.Helper()
	s, err := chromedp.Run(tb.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		tb.t.Fatalf("text of %s: %v (at %s)", sel, err, tb.location())
	}
	return strings.TrimSpace(s)
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func (tb *tab) exists(sel string) bool {
	tb.t.Helper()
	return eval[bool](tb, fmt.Sprintf("document.querySelector(%q) !== null", sel))
}

// location is the tab's current URL relative to the server.
func (tb *tab) location() string {
	loc, err := chromedp.Run(tb.ctx, chromedp.Location())
	if err != nil {
		return "?"
	}
	return strings.TrimPrefix(loc, tb.base)
}

// path is the current path and query.
func (tb *tab) path() string {
	tb.t.Helper()
	u, err := url.Parse(tb.location())
	if err != nil {
		tb.t.Fatal(err)
	}
	return u.RequestURI()
}

// waitFor polls a JavaScript predicate until it holds.
func (tb *tab) waitFor(what, predicate string) {
	tb.t.Helper()
	if _, err := chromedp.Run(tb.ctx, chromedp.Poll[bool](predicate, chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		tb.t.Fatalf("waiting for %s: %v (at %s)", what, err, tb.location())
	}
}

// screenshot saves a full-page PNG as <artifacts>/screenshots/<name>.png.
func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	buf, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join(artifactsDir(), "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// media emulates a light or dark preferred color scheme, with reduced
// motion either way.
func (tb *tab) media(dark bool) {
	tb.t.Helper()
	scheme := "light"
	if dark {
		scheme = "dark"
	}
	tb.do("emulate media", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}, {Name: "prefers-reduced-motion", Value: "reduce"}}})
		return err
	}))
}

// artifactsDir is $AUTHHOST_ARTIFACTS, else artifacts/ at the repository
// root.
func artifactsDir() string {
	if d := os.Getenv("AUTHHOST_ARTIFACTS"); d != "" {
		return d
	}
	return filepath.Join(authhostenv.RepoRoot(), "artifacts")
}
