package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authhost/authhost/auth/hashgate"
)

// probeEvery spaces the /me probes of BenchmarkMeDuringSignInFlood.
const probeEvery = 10 * time.Millisecond

// BenchmarkMeDuringSignInFlood measures GET /api/auth/me, one request every
// probeEvery, while 50 clients sign in as fast as they can with the right
// password (each an argon2id hash in the static-users plugin). A client
// refused with 429 retries after 50 ms. Reported: p50 and p99 of /me in
// ms, and the sign-ins served per second. Sub-benchmarks: no flood (the
// baseline), the flood with password hashes unbounded (main before the
// gate) and with the default gate (GOMAXPROCS/2 slots).
//
//	go test ./server -run '^$' -bench MeDuringSignInFlood -benchtime 400x -count 1
func BenchmarkMeDuringSignInFlood(b *testing.B) {
	for _, bc := range []struct {
		name     string
		flooders int
		gate     *hashgate.Gate
	}{
		{"no-flood", 0, nil},
		{"flood50-unbounded", 50, hashgate.New(1000, 0, time.Minute)},
		{"flood50-gated", 50, nil},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := buildHarness(b, false, func(c *Config) {
				c.HashGate = bc.gate
				c.SignInLimit, c.SignInIPLimit, c.SignInAccountLimit = 1<<30, 1<<30, 1<<30
			})
			me := signedInClient(b, h.srv.URL)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var served, refused, other atomic.Int64
			for range bc.flooders {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						switch status, _ := postSignIn(http.DefaultClient, h.srv.URL); status {
						case http.StatusOK:
							served.Add(1)
						case http.StatusTooManyRequests:
							refused.Add(1)
							time.Sleep(50 * time.Millisecond)
						default:
							other.Add(1)
						}
					}
				}()
			}
			if bc.flooders > 0 {
				time.Sleep(2 * time.Second) // let the flood fill the pool and the gate
			}
			served.Store(0)
			refused.Store(0)
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			begin := time.Now()
			for i := range b.N {
				// Paced probes, so the samples span many hashes.
				time.Sleep(time.Until(begin.Add(time.Duration(i) * probeEvery)))
				t0 := time.Now()
				resp, err := me.Get(h.srv.URL + "/api/auth/me")
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("/me = %d", resp.StatusCode)
				}
				lat = append(lat, time.Since(t0))
			}
			elapsed := time.Since(begin)
			b.StopTimer()
			close(stop)
			wg.Wait()
			if other.Load() > 0 {
				b.Fatalf("%d sign-ins answered neither 200 nor 429", other.Load())
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(served.Load())/elapsed.Seconds(), "sign-ins/s")
			b.ReportMetric(float64(refused.Load())/elapsed.Seconds(), "429/s")
		})
	}
}

// signedInClient returns a client holding a session of the demo owner.
func signedInClient(b *testing.B, base string) *http.Client {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	if status, err := postSignIn(c, base); status != http.StatusOK {
		b.Fatalf("sign-in = %d %v", status, err)
	}
	return c
}

// postSignIn signs the demo owner in through the JSON API.
func postSignIn(c *http.Client, base string) (int, error) {
	body, _ := json.Marshal(map[string]string{"email": demoEmail, "password": demoPassword})
	req, _ := http.NewRequest("POST", base+"/api/auth/credentials/sign-in", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", base)
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}
