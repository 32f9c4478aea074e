package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzDecodeCredentials: any body gives a decoded value or a field error,
// never a panic, and a decoded value always passes or fails validation.
func FuzzDecodeCredentials(f *testing.F) {
	for _, seed := range []string{`{"email":"a@b.co","password":"x"}`, `{"email":`, `[]`, `{"email":1}`, `{} {}`, "\x00", `{"name":"` + strings.Repeat("é", 300) + `"}`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/x", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		var b credentialsBody
		if err := decodeJSON(httptest.NewRecorder(), req, &b); err != nil {
			w := httptest.NewRecorder()
			writeFieldError(w, err)
			if w.Code != http.StatusBadRequest && w.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d for %q", w.Code, body)
			}
			return
		}
		_ = b.validate(true)
	})
}

// FuzzSSOState: no forged or mangled cookie opens, and a sealed one round-trips.
func FuzzSSOState(f *testing.F) {
	s, err := newSealer([]byte(strings.Repeat("k", 32)))
	if err != nil {
		f.Fatal(err)
	}
	good, _ := s.seal(ssoState{State: "st", Verifier: "v", Expires: time.Now().Add(time.Hour)})
	for _, seed := range []string{good, "", "AAAA", good[:len(good)-2], strings.ToUpper(good), "%%%"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		var st ssoState
		err := s.open(token, &st)
		if err == nil && token != good {
			// Only a token produced by seal may open; GCM forgery is infeasible.
			if again, _ := s.seal(st); again == "" {
				t.Fatalf("opened a token that was not sealed: %q", token)
			}
		}
	})
}

// FuzzRedirect: whatever passes the guard is a same-origin path or an
// allowed origin, never scheme-relative or another host.
func FuzzRedirect(f *testing.F) {
	public, _ := url.Parse("https://auth.example.com")
	g := newRedirectGuard(public, []string{"https://app.example.com"})
	for _, seed := range []string{"/", "//evil.com", "https://evil.com", "/\\evil", "https://auth.example.com@evil.com", "javascript:x", "/ok?x=1"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, target string) {
		if !g.Allowed(target) {
			return
		}
		target = strings.TrimSpace(target)
		if strings.HasPrefix(target, "/") {
			if strings.HasPrefix(target, "//") || strings.Contains(target, "\\") {
				t.Fatalf("allowed scheme-relative %q", target)
			}
			return
		}
		u, err := url.Parse(target)
		if err != nil || (u.Host != "auth.example.com" && u.Host != "app.example.com") || u.User != nil {
			t.Fatalf("allowed foreign redirect %q", target)
		}
	})
}
