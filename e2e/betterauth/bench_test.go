package betterauth_test

import (
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/authhost/authhost/internal/testenv/authhostenv"
	"github.com/authhost/authhost/internal/testenv/betterauth"
)

// benchEnv is authhost in front of peer with the plugin's
// session_cache_seconds set to cacheSeconds ("" keeps the default), and a
// Better Auth session cookie value of a signed-up user.
func benchEnv(tb testing.TB, peer *betterauth.Server, cacheSeconds string) (*authhostenv.Env, string) {
	tb.Helper()
	entry := ""
	if cacheSeconds != "" {
		entry = "    session_cache_seconds: " + cacheSeconds + "\n"
	}
	u, err := url.Parse(peer.URL)
	if err != nil {
		tb.Fatal(err)
	}
	env := authhostenv.Start(tb, authhostenv.Options{
		Plugins: []string{pluginDir},
		Config:  fmt.Sprintf(configTemplate, entry, ""),
		Env:     map[string]string{"BA_URL": peer.URL, "BA_HOST": u.Hostname()},
	})
	c := env.Client()
	email := "bench-" + rand.Text() + "@example.com"
	r := c.Do(tb, "POST", "/api/auth/credentials/sign-up", map[string]string{"email": email, "password": password, "name": "Bench"})
	if r.Status != http.StatusCreated {
		tb.Fatalf("sign-up = %d %s", r.Status, r.Body)
	}
	cookie := c.Cookie(sessionCookie)
	if cookie == "" {
		tb.Fatal("no Better Auth session cookie after sign-up")
	}
	return env, cookie
}

// get sends GET url with the session cookie and checks the answer names
// the user.
func get(tb testing.TB, client *http.Client, target, cookie, want string) {
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Cookie", sessionCookie+"="+cookie)
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
		tb.Fatalf("GET %s = %d %.200s (%v), want 200 naming %s", target, resp.StatusCode, body, err, want)
	}
}

// TestMeFromSessionCache checks what BenchmarkMe measures: /api/auth/me
// with a Better Auth session is answered without any plugin call once the
// session is cached, and with session_cache_seconds 0 every /me asks the
// plugin (and so Better Auth).
func TestMeFromSessionCache(t *testing.T) {
	t.Parallel()
	peer := betterauth.Start(t)
	for _, c := range []struct {
		name, secs string
		cached     bool
	}{{"default", "", true}, {"off", "0", false}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env, cookie := benchEnv(t, peer, c.secs)
			client := &http.Client{}
			get(t, client, env.URL+"/api/auth/me", cookie, "bench-")
			p := env.App.Plugins.Plugin("betterauth")
			calls := p.Stats().Calls
			for range 5 {
				get(t, client, env.URL+"/api/auth/me", cookie, "bench-")
			}
			got := p.Stats().Calls - calls
			if c.cached && got != 0 {
				t.Errorf("cached: %d plugin calls for 5 /me, want 0", got)
			}
			if !c.cached && got != 5 {
				t.Errorf("cache off: %d plugin calls for 5 /me, want 5 (one session_validate each)", got)
			}
			get(t, client, peer.AuthURL()+"/get-session", cookie, "bench-")
		})
	}
}

// BenchmarkMe compares, in the same run against the same Better Auth
// server and session, Better Auth's own GET /get-session (the baseline)
// with authhost's GET /api/auth/me served from the host's session cache
// (me-cached) and with the cache off (me-uncached: session_validate in the
// plugin, which calls get-session). Parallel, so ns/op is the inverse of
// throughput:
//
//	go test ./e2e/betterauth -run '^$' -bench BenchmarkMe -benchtime 3s -count 3
func BenchmarkMe(b *testing.B) {
	peer := betterauth.Start(b)
	cached, cookie := benchEnv(b, peer, "")
	uncached, cookie2 := benchEnv(b, peer, "0")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	run := func(target, cookie string) func(b *testing.B) {
		return func(b *testing.B) {
			get(b, client, target, cookie, "bench-")
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					get(b, client, target, cookie, "bench-")
				}
			})
		}
	}
	b.Run("betterauth-get-session", run(peer.AuthURL()+"/get-session", cookie))
	b.Run("me-cached", run(cached.URL+"/api/auth/me", cookie))
	b.Run("me-uncached", run(uncached.URL+"/api/auth/me", cookie2))
}
