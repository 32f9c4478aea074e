package host

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/auth/hashgate"
	"github.com/authhost/authhost/store/memory"
)

// TestPasswordHostFuncs: password_hash makes hashes password_verify
// accepts for the right password only, within bounds; out-of-bounds
// parameters, look-alike algorithm names and malformed hashes are
// invalid_request, never a trap.
func TestPasswordHostFuncs(t *testing.T) {
	t.Parallel()
	f, errs := newFixture(t, nil, "echo")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p := f.plugin(t, "echo")
	hash := func(req abi.PasswordHashRequest) (string, error) {
		var res abi.PasswordHashResult
		err := hostcall(p, abi.HostPasswordHash, req, &res)
		return res.Hash, err
	}
	verify := func(h, pw string) (bool, error) {
		var res abi.PasswordVerifyResult
		err := hostcall(p, abi.HostPasswordVerify, abi.PasswordVerifyRequest{Password: pw, Hash: h}, &res)
		return res.Match, err
	}
	ok := []struct {
		name   string
		req    abi.PasswordHashRequest
		prefix string
	}{
		{"argon2id defaults", abi.PasswordHashRequest{Password: "pässwörd ☃"}, "$argon2id$v=19$m=19456,t=2,p=1$"},
		{"argon2id params", abi.PasswordHashRequest{Password: "pw", Algorithm: "argon2id", MemoryKiB: 1024, Time: 1, Threads: 2}, "$argon2id$v=19$m=1024,t=1,p=2$"},
		{"bcrypt", abi.PasswordHashRequest{Password: "pw", Algorithm: "bcrypt", Cost: 4}, "$2a$04$"},
		{"empty password", abi.PasswordHashRequest{Password: "", MemoryKiB: 64, Time: 1}, "$argon2id$"},
		{"control chars", abi.PasswordHashRequest{Password: "a\x00b\r\n", Algorithm: "bcrypt", Cost: 4}, "$2a$04$"},
	}
	for _, c := range ok {
		h, err := hash(c.req)
		if err != nil || !strings.HasPrefix(h, c.prefix) {
			t.Fatalf("%s: hash = %q, %v", c.name, h, err)
		}
		if m, err := verify(h, c.req.Password); !m || err != nil {
			t.Errorf("%s: right password: %v, %v", c.name, m, err)
		}
		if m, err := verify(h, c.req.Password+"x"); m || err != nil {
			t.Errorf("%s: wrong password: %v, %v", c.name, m, err)
		}
	}
	bad := map[string]abi.PasswordHashRequest{
		"memory too large":     {Password: "pw", MemoryKiB: 64*1024 + 1},
		"memory below 8p":      {Password: "pw", MemoryKiB: 15, Threads: 2},
		"time too large":       {Password: "pw", Time: 11},
		"threads too many":     {Password: "pw", Threads: 5},
		"bcrypt cost too high": {Password: "pw", Algorithm: "bcrypt", Cost: 13},
		"bcrypt cost too low":  {Password: "pw", Algorithm: "bcrypt", Cost: 3},
		"bcrypt over 72 bytes": {Password: strings.Repeat("a", 73), Algorithm: "bcrypt", Cost: 4},
		"password too long":    {Password: strings.Repeat("a", 1025)},
		"algorithm case":       {Password: "pw", Algorithm: "Argon2id"},
		"algorithm look-alike": {Password: "pw", Algorithm: "argon2\u0456d"}, // Cyrillic і
		"algorithm nul":        {Password: "pw", Algorithm: "argon2id\x00"},
		"algorithm null word":  {Password: "pw", Algorithm: "null"},
	}
	for name, req := range bad {
		if h, err := hash(req); auth.CodeOf(err) != auth.CodeInvalidRequest {
			t.Errorf("%s: hash = %q, %v; want invalid_request", name, h, err)
		}
	}
	for name, h := range map[string]string{
		"empty":            "",
		"plaintext":        "hunter2",
		"huge memory":      "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"argon2i":          "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"duplicate param":  "$argon2id$v=19$m=64,m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"signed param":     "$argon2id$v=19$m=+64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"fullwidth digit":  "$argon2id$v=19$m=６４,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"slow bcrypt":      "$2a$14$3yH3wfBhxY8sPo5hy3xkYOUy6IbqdHCXP2rqD.nEy9C2ApIP/OZsi",
		"truncated bcrypt": "$2a$10$2kZ/QyTK1EdZaCz",
	} {
		if m, err := verify(h, "pw"); m || auth.CodeOf(err) != auth.CodeInvalidRequest {
			t.Errorf("%s: verify = %v, %v; want invalid_request", name, m, err)
		}
	}
	if err := p.Call(ctx, "hostcall", map[string]any{"fn": abi.HostPasswordVerify, "req": nil}, nil); auth.CodeOf(err) != auth.CodeInvalidRequest {
		t.Errorf("null request: %v", err)
	}
	if st := p.Stats(); st.Discards != 0 {
		t.Errorf("refusals discarded instances: %+v", st)
	}
}

// TestPasswordHashGate: the host functions take slots of the gate the
// host was given (the server's), answer rate_limited when it is full, and
// take no second slot when the call's context already holds one.
func TestPasswordHashGate(t *testing.T) {
	t.Parallel()
	gate := hashgate.New(1, 0, 50*time.Millisecond)
	f, errs := newFixture(t, func(c *Config) { c.HashGate = gate }, "echo")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p := f.plugin(t, "echo")
	req := abi.PasswordHashRequest{Password: "pw", MemoryKiB: 64, Time: 1}
	release, err := gate.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := hostcall(p, abi.HostPasswordHash, req, nil); auth.CodeOf(err) != auth.CodeRateLimited {
		t.Errorf("gate full: err = %v, want rate_limited", err)
	}
	held := gate.Holding(context.Background())
	if err := p.Call(held, "hostcall", map[string]any{"fn": abi.HostPasswordHash, "req": req}, nil); err != nil {
		t.Errorf("caller holding the slot: %v", err)
	}
	release()
	if err := hostcall(p, abi.HostPasswordHash, req, nil); err != nil {
		t.Errorf("gate free: %v", err)
	}

	// Concurrent hashes through one slot and no queue: each either runs or
	// is refused at once, and a released slot is reusable afterwards.
	var ran, refused atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			switch err := hostcall(p, abi.HostPasswordHash, abi.PasswordHashRequest{Password: "pw", MemoryKiB: 4096, Time: 1}, nil); {
			case err == nil:
				ran.Add(1)
			case auth.CodeOf(err) == auth.CodeRateLimited:
				refused.Add(1)
			default:
				t.Errorf("concurrent hash: %v", err)
			}
		})
	}
	wg.Wait()
	if ran.Load() < 1 || ran.Load()+refused.Load() != 8 {
		t.Errorf("%d ran, %d refused of 8", ran.Load(), refused.Load())
	}
	if r, err := gate.Acquire(context.Background()); err != nil {
		t.Errorf("slot leaked: %v", err)
	} else {
		r()
	}
}

// TestKVCAS: create-only and compare-and-set semantics, the current value
// on a failed swap, an expired key counting as absent, and CAS writes
// counted against the KV quota like kv_set.
func TestKVCAS(t *testing.T) {
	t.Parallel()
	st := memory.New(memory.Options{})
	f, errs := newFixture(t, func(c *Config) {
		c.Store = st
		c.Plugins["echo"] = PluginConfig{Limits: Limits{MaxKVKeys: 2, MaxKVBytes: 40}}
	}, "echo")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p := f.plugin(t, "echo")
	cas := func(req abi.KVCASRequest) (abi.KVCASResult, error) {
		var res abi.KVCASResult
		err := hostcall(p, abi.HostKVCAS, req, &res)
		return res, err
	}
	steps := []struct {
		name      string
		req       abi.KVCASRequest
		want      abi.KVCASResult
		code      auth.Code
		wantBytes int64
	}{
		{"create", abi.KVCASRequest{Key: "a", Value: []byte("v1"), Absent: true}, abi.KVCASResult{Swapped: true}, "", 3},
		{"create again", abi.KVCASRequest{Key: "a", Value: []byte("v2"), Absent: true}, abi.KVCASResult{Found: true, Current: []byte("v1")}, "", 3},
		{"swap wrong expected", abi.KVCASRequest{Key: "a", Value: []byte("v2"), Expected: []byte("v0")}, abi.KVCASResult{Found: true, Current: []byte("v1")}, "", 3},
		{"swap look-alike expected", abi.KVCASRequest{Key: "a", Value: []byte("v2"), Expected: []byte("ｖ1")}, abi.KVCASResult{Found: true, Current: []byte("v1")}, "", 3},
		{"swap", abi.KVCASRequest{Key: "a", Value: []byte("v22"), Expected: []byte("v1")}, abi.KVCASResult{Swapped: true, Found: true}, "", 4},
		{"swap missing key", abi.KVCASRequest{Key: "b", Value: []byte("x"), Expected: []byte("")}, abi.KVCASResult{}, "", 4},
		{"absent and expected", abi.KVCASRequest{Key: "b", Value: []byte("x"), Absent: true, Expected: []byte("y")}, abi.KVCASResult{}, auth.CodeInvalidRequest, 4},
		{"empty key", abi.KVCASRequest{Value: []byte("x"), Absent: true}, abi.KVCASResult{}, auth.CodeInvalidRequest, 4},
		{"negative ttl", abi.KVCASRequest{Key: "b", Value: []byte("x"), Absent: true, TTLSeconds: -1}, abi.KVCASResult{}, auth.CodeInvalidRequest, 4},
		{"create past byte quota", abi.KVCASRequest{Key: "b", Value: []byte(strings.Repeat("x", 40)), Absent: true}, abi.KVCASResult{}, auth.CodeInvalidRequest, 4},
		{"create within quota", abi.KVCASRequest{Key: "b", Value: []byte("x"), Absent: true, TTLSeconds: 60}, abi.KVCASResult{Swapped: true}, "", 6},
		{"create past key quota", abi.KVCASRequest{Key: "c", Value: []byte("x"), Absent: true}, abi.KVCASResult{}, auth.CodeInvalidRequest, 6},
	}
	for _, s := range steps {
		got, err := cas(s.req)
		if auth.CodeOf(err) != s.code || s.code == "" && err != nil {
			t.Fatalf("%s: err = %v, want code %q", s.name, err, s.code)
		}
		if err == nil && (got.Swapped != s.want.Swapped || got.Found != s.want.Found || string(got.Current) != string(s.want.Current)) {
			t.Fatalf("%s: got %+v, want %+v", s.name, got, s.want)
		}
		u, err := f.m.KVUsage(context.Background(), "echo")
		if err != nil {
			t.Fatal(err)
		}
		if a := actualUsage(t, st, "echo"); u.Bytes != s.wantBytes || a.Bytes != u.Bytes || a.Keys != u.Keys {
			t.Fatalf("%s: usage %+v, store holds %+v, want %d bytes", s.name, u, a, s.wantBytes)
		}
	}
	// The store expires b (TTL 60 s): a create-only write takes it again.
	if err := st.Delete(context.Background(), "plugin/echo/kv/b"); err != nil {
		t.Fatal(err)
	}
	if got, err := cas(abi.KVCASRequest{Key: "b", Value: []byte("y"), Absent: true}); err != nil || !got.Swapped {
		t.Fatalf("create over an expired key: %+v, %v", got, err)
	}
}

// TestKVCASConcurrent: of 20 concurrent create-only writes of one key,
// through pooled instances and a second process's view of the same badger
// store, exactly one succeeds, and the usage counter stays exact.
func TestKVCASConcurrent(t *testing.T) {
	t.Parallel()
	st := openBadger(t, t.TempDir())
	t.Cleanup(func() { st.Close() })
	f, errs := newFixture(t, func(c *Config) {
		c.Store = st
		c.Plugins["echo"] = PluginConfig{Limits: Limits{PoolSize: 8}}
	}, "echo")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p := f.plugin(t, "echo")
	replica := newKVSpace("echo", f.m.cfg.pluginConfig("echo").Limits, st, &kvLock{}, time.Now)
	for round := range 3 {
		key := fmt.Sprintf("user/email/u%d@example.com", round)
		var won atomic.Int64
		var wg sync.WaitGroup
		for g := range 20 {
			wg.Go(func() {
				val := []byte(fmt.Sprintf("g%d", g))
				var res abi.KVCASResult
				var err error
				if g%2 == 0 {
					err = hostcall(p, abi.HostKVCAS, abi.KVCASRequest{Key: key, Value: val, Absent: true}, &res)
				} else {
					res, err = replica.cas(context.Background(), key, casCond{}, val, 0)
				}
				if err != nil {
					t.Errorf("cas: %v", err)
				}
				if res.Swapped {
					won.Add(1)
				}
			})
		}
		wg.Wait()
		if won.Load() != 1 {
			t.Fatalf("round %d: %d creates succeeded, want exactly 1", round, won.Load())
		}
	}
	u, err := f.m.KVUsage(context.Background(), "echo")
	if err != nil {
		t.Fatal(err)
	}
	if a := actualUsage(t, st, "echo"); a.Keys != 3 || u.Keys != 3 || u.Bytes != a.Bytes {
		t.Fatalf("usage %+v, store holds %+v, want 3 keys", u, a)
	}
}
