package jsclient

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/authhost/authhost/internal/testenv/authhostenv"
)

// exampleDir is the React example app.
var exampleDir = filepath.Join(authhostenv.RepoRoot(), "examples", "react-app")

// appServer serves the built app and forwards /api to authhost, the way a
// reverse proxy in front of both (or the app's Vite server) does: the app
// and the API share one origin, as authhost sends no CORS headers.
func appServer(dist string, api *url.URL) http.Handler {
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(api)
		r.Out.Host = r.In.Host
	}}
	files := http.FileServer(http.Dir(dist))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/"):
			proxy.ServeHTTP(w, r)
		case r.URL.Path == "/" || strings.HasPrefix(r.URL.Path, "/assets/"):
			files.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}

// TestExampleApp builds examples/react-app with its own toolchain (tsc and
// Vite from npm, over the packages built from clients/js), serves it next
// to authhost, and signs in through it in Chromium: the owner sees the
// audit log the hooks fetch, and signing out brings the form back.
func TestExampleApp(t *testing.T) {
	requireNode(t, jsDir, "typescript")
	requireNode(t, exampleDir, "vite")
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium is not installed (%v): run bash .ci/install-deps", err)
		}
		t.Skipf("chromium is not installed (%v): run bash .ci/install-deps", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	npm(t, ctx, jsDir, nil, "run", "build")
	dist := t.TempDir()
	npm(t, ctx, exampleDir, nil, "run", "build", "--", "--outDir", dist, "--emptyOutDir")

	app := httptest.NewUnstartedServer(nil)
	appURL := "http://" + app.Listener.Addr().String()
	env := startQuickStart(t, fmt.Sprintf("security:\n  allowed_redirect_origins: [%q]\n", appURL))
	api, err := url.Parse(env.URL)
	if err != nil {
		t.Fatal(err)
	}
	app.Config.Handler = appServer(dist, api)
	app.Start()
	defer app.Close()

	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.NoDefaultBrowserCheck,
	)
	defer cancelAlloc()
	tab, cancelTab := chromedp.NewContext(alloc)
	defer cancelTab()

	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(tab, steps...); err != nil {
			t.Fatalf("%s: %v\nauthhost log:\n%s", what, err, env.Logs())
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}

	do("open the app", chromedp.Navigate(appURL+"/"), chromedp.WaitVisible(chromedp.CSS(`form[aria-label="Sign in"] input[name=email]`)))
	do("sign in",
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "admin@example.com"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "authhost-demo"),
		chromedp.Click(chromedp.CSS(`form[aria-label="Sign in"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#whoami`)),
		chromedp.WaitVisible(chromedp.CSS(`section[aria-label="Audit log"] tbody tr`)))
	if who := text(`#whoami`); !strings.Contains(who, "admin@example.com") || !strings.Contains(who, "owner") {
		t.Errorf("signed-in line = %q, want the owner's email and role", who)
	}
	if action := text(`section[aria-label="Audit log"] tbody tr td:nth-child(3)`); action != "auth.sign-in" {
		t.Errorf("newest audit event = %q, want this sign-in (auth.sign-in)", action)
	}

	do("sign out", chromedp.Click(chromedp.CSS(`#sign-out`)), chromedp.WaitVisible(chromedp.CSS(`form[aria-label="Sign in"]`)))
	// The session is gone at the server, not only in the page.
	status, err := chromedp.Run(tab, chromedp.Evaluate[int](`fetch("/api/auth/me").then(r => r.status)`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusUnauthorized {
		t.Errorf("GET /api/auth/me after sign-out = %d, want 401", status)
	}
}
