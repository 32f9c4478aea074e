package main

import (
	"context"
	"crypto/rand"
	"net/http"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/abi/passhash"
	"github.com/authhost/authhost/internal/testenv/authhostenv"
)

// BenchmarkSignIn compares, in one run, a native argon2id verification
// (argon2.IDKey with the sign-up parameters, m=19456 KiB, t=2, p=1) with a
// static-users sign-in of a user signed up with the same parameters:
// through the plugin host (the credentials sign-in export, which calls
// password_verify), and through the whole server over HTTP (session and
// audit included). The target is plugin ≤ 1.3× native.
//
//	go test -run '^$' -bench BenchmarkSignIn -benchtime 100x ./examples/static-users/
func BenchmarkSignIn(b *testing.B) {
	env := authhostenv.Start(b, authhostenv.Options{Plugins: []string{"examples/static-users"}, Config: serverConfig})
	c := env.Client()
	const email, password = "bench@example.com", "bench-password-1"
	if r := c.Do(b, "POST", "/api/auth/credentials/sign-up", map[string]string{"email": email, "password": password}); r.Status != http.StatusCreated {
		b.Fatalf("sign-up = %d %s", r.Status, r.Body)
	}
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	b.Run("native", func(b *testing.B) {
		for b.Loop() {
			argon2.IDKey([]byte(password), salt, passhash.DefaultTime, passhash.DefaultMemoryKiB, passhash.DefaultThreads, 32)
		}
	})
	p := env.App.Plugins.Plugin("static-users")
	b.Run("plugin", func(b *testing.B) {
		for b.Loop() {
			var res abi.CredentialsResult
			if err := p.Call(context.Background(), abi.ExportCredentialsSignIn, abi.SignInRequest{Email: email, Password: password}, &res); err != nil || res.User.Email != email {
				b.Fatalf("sign-in: %+v, %v", res, err)
			}
		}
	})
	// paired alternates one native verification and one plugin sign-in
	// per iteration, so load from other processes hits both alike, and
	// reports their ratio.
	b.Run("paired", func(b *testing.B) {
		var native, plugin time.Duration
		for b.Loop() {
			t0 := time.Now()
			argon2.IDKey([]byte(password), salt, passhash.DefaultTime, passhash.DefaultMemoryKiB, passhash.DefaultThreads, 32)
			t1 := time.Now()
			var res abi.CredentialsResult
			if err := p.Call(context.Background(), abi.ExportCredentialsSignIn, abi.SignInRequest{Email: email, Password: password}, &res); err != nil {
				b.Fatal(err)
			}
			native += t1.Sub(t0)
			plugin += time.Since(t1)
		}
		b.ReportMetric(float64(native.Nanoseconds())/float64(b.N), "native-ns/op")
		b.ReportMetric(float64(plugin.Nanoseconds())/float64(b.N), "plugin-ns/op")
		b.ReportMetric(float64(plugin)/float64(native), "plugin/native")
	})
	b.Run("server", func(b *testing.B) {
		for b.Loop() {
			if r := c.Do(b, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": email, "password": password}); r.Status != http.StatusOK {
				b.Fatalf("sign-in = %d %s", r.Status, r.Body)
			}
		}
	})
}
