package pdk_test

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk"
	"github.com/authhost/authhost/pdk/pdktest"
)

// TestKVCreateAndCompareAndSwap: the PDK's kv_cas wrappers against the
// pdktest stand-in: create-only, compare-and-set with the current value
// on failure, expiry making a key absent, and one winner of a race.
func TestKVCreateAndCompareAndSwap(t *testing.T) {
	env := pdktest.New(t, pdktest.WithProvider(testProvider()))
	now := time.Now()
	env.SetClock(func() time.Time { return now })
	if ok, err := pdk.KV.Create("k", []byte("v1"), time.Second); !ok || err != nil {
		t.Fatalf("create: %v %v", ok, err)
	}
	if ok, err := pdk.KV.Create("k", []byte("v2"), 0); ok || err != nil {
		t.Fatalf("second create: %v %v", ok, err)
	}
	if ok, cur, err := pdk.KV.CompareAndSwap("k", []byte("v0"), []byte("v2"), 0); ok || string(cur) != "v1" || err != nil {
		t.Fatalf("cas wrong expected: %v %q %v", ok, cur, err)
	}
	if ok, _, err := pdk.KV.CompareAndSwap("k", []byte("v1"), []byte("v2"), time.Second); !ok || err != nil {
		t.Fatalf("cas: %v %v", ok, err)
	}
	if ok, cur, err := pdk.KV.CompareAndSwap("missing", nil, []byte("x"), 0); ok || cur != nil || err != nil {
		t.Fatalf("cas on missing key: %v %q %v", ok, cur, err)
	}
	now = now.Add(2 * time.Second)
	if ok, err := pdk.KV.Create("k", []byte("v3"), 0); !ok || err != nil {
		t.Fatalf("create over expired key: %v %v", ok, err)
	}
	for _, bad := range []func() error{
		func() error { _, err := pdk.KV.Create("", nil, 0); return err },
		func() error { _, err := pdk.KV.Create("k", nil, -time.Second); return err },
		func() error { _, _, err := pdk.KV.CompareAndSwap(strings.Repeat("k", 513), nil, nil, 0); return err },
	} {
		if err := bad(); !abi.IsCode(err, abi.CodeInvalidRequest) {
			t.Errorf("bad request: %v, want invalid_request", err)
		}
	}
	var won atomic.Int64
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if ok, err := pdk.KV.Create("race", []byte("x"), 0); err != nil {
				t.Error(err)
			} else if ok {
				won.Add(1)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 {
		t.Fatalf("%d creates won, want 1", won.Load())
	}
}

// TestPasswordFuncs: HashPassword and VerifyPassword round-trip through
// the stand-in, which runs the host's implementation.
func TestPasswordFuncs(t *testing.T) {
	pdktest.New(t, pdktest.WithProvider(testProvider()))
	h, err := pdk.HashPassword(abi.PasswordHashRequest{Password: "s3cret", MemoryKiB: 64, Time: 1})
	if err != nil || !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash = %q, %v", h, err)
	}
	for pw, want := range map[string]bool{"s3cret": true, "s3cret ": false, "S3cret": false, "": false} {
		if ok, err := pdk.VerifyPassword(h, pw); ok != want || err != nil {
			t.Errorf("verify %q = %v, %v; want %v", pw, ok, err, want)
		}
	}
	if _, err := pdk.HashPassword(abi.PasswordHashRequest{Password: "x", Algorithm: "md5"}); !abi.IsCode(err, abi.CodeInvalidRequest) {
		t.Errorf("unknown algorithm: %v", err)
	}
	if _, err := pdk.VerifyPassword("plaintext", "x"); !abi.IsCode(err, abi.CodeInvalidRequest) {
		t.Errorf("bad hash: %v", err)
	}
}
