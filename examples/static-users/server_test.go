package main

import (
	"net/http"
	"sync"
	"testing"

	"github.com/authhost/authhost/internal/testenv/authhostenv"
)

// serverConfig runs static-users behind the real server with room for 20
// concurrent hashes and 8 plugin instances, so concurrent sign-ups really
// race inside the provider.
const serverConfig = `
capabilities:
  user: static-users
  credentials: static-users
  session: builtin
  rbac: builtin
  audit: [builtin]
throttle:
  password_hashes: 20
  password_hash_wait: 30s
  sign_ups_per_ip: 1000
plugins:
  static-users:
    limits:
      pool_size: 8
    config:
      allow_sign_up: true
      default_role: viewer
      min_password_length: 8
`

// TestConcurrentSignUpsOneEmail: 20 concurrent sign-ups of one email
// through the real server (host, plugin, badger KV) give exactly one 201;
// the others are 409 already_exists, and the winner's password signs in.
func TestConcurrentSignUpsOneEmail(t *testing.T) {
	env := authhostenv.Start(t, authhostenv.Options{Plugins: []string{"examples/static-users"}, Config: serverConfig})
	for round, email := range []string{"race@example.com", "Race2@Example.com"} {
		const n = 20
		status := make([]int, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			c := env.Client()
			wg.Go(func() {
				<-start
				r := c.Do(t, "POST", "/api/auth/credentials/sign-up", map[string]string{"email": email, "password": "password-" + string(rune('a'+i))})
				status[i] = r.Status
			})
		}
		close(start)
		wg.Wait()
		created, conflicts, winner := 0, 0, -1
		for i, s := range status {
			switch s {
			case http.StatusCreated:
				created++
				winner = i
			case http.StatusConflict:
				conflicts++
			default:
				t.Errorf("round %d: sign-up %d answered %d", round, i, s)
			}
		}
		if created != 1 || conflicts != n-1 {
			t.Fatalf("round %d: %d created, %d conflicts of %d (statuses %v); want exactly one 201", round, created, conflicts, n, status)
		}
		c := env.Client()
		if r := c.Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": email, "password": "password-" + string(rune('a'+winner))}); r.Status != http.StatusOK {
			t.Fatalf("round %d: winner's sign-in = %d %s", round, r.Status, r.Body)
		}
		if r := c.Do(t, "POST", "/api/auth/credentials/sign-in", map[string]string{"email": email, "password": "password-" + string(rune('a'+(winner+1)%n))}); r.Status != http.StatusUnauthorized {
			t.Fatalf("round %d: loser's password signs in: %d", round, r.Status)
		}
	}
}
