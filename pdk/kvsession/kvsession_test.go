package kvsession_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk"
	"github.com/authhost/authhost/pdk/kvsession"
	"github.com/authhost/authhost/pdk/pdktest"
)

type nobody struct{}

func (nobody) CurrentUser(context.Context, abi.Request) (*abi.User, error) { return nil, nil }
func (nobody) GetUser(context.Context, string) (*abi.User, error)          { return nil, nil }

// casKV is a KV with the atomic compare-and-swap the host's kv_cas offers,
// standing in for it until the PDK has it.
type casKV struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (k *casKV) Get(key string) ([]byte, bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.m[key]
	return bytes.Clone(v), ok, nil
}

func (k *casKV) Set(key string, value []byte, _ time.Duration) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m[key] = bytes.Clone(value)
	return nil
}

func (k *casKV) Delete(key string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, key)
	return nil
}

func (k *casKV) Create(key string, value []byte, _ time.Duration) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.m[key]; ok {
		return false, nil
	}
	k.m[key] = bytes.Clone(value)
	return true, nil
}

func (k *casKV) CompareAndSwap(key string, expected, value []byte, _ time.Duration) (bool, []byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	cur, ok := k.m[key]
	if !ok || !bytes.Equal(cur, expected) {
		return false, bytes.Clone(cur), nil
	}
	k.m[key] = bytes.Clone(value)
	return true, nil, nil
}

// The PDK's KV is a Swapper, so plugins get the atomic paths.
var _ kvsession.Swapper = pdk.KV

type head struct {
	Name string `json:"name"`
}

type secret struct {
	Refresh string `json:"refresh"`
}

func refreshOf(s *secret) string { return s.Refresh }

// backends runs each test over pdk.KV (through pdktest, no CAS) and over a
// KV with CAS.
func backends(t *testing.T) map[string]func(t *testing.T) (*kvsession.Store[head, secret], *pdktest.Env) {
	return map[string]func(t *testing.T) (*kvsession.Store[head, secret], *pdktest.Env){
		"pdk.KV": func(t *testing.T) (*kvsession.Store[head, secret], *pdktest.Env) {
			env := pdktest.New(t, pdktest.WithProvider(&pdk.Provider{Name: "kvs", Version: "0.0.1", User: nobody{}}))
			return &kvsession.Store[head, secret]{Prefix: "t/"}, env
		},
		"cas": func(t *testing.T) (*kvsession.Store[head, secret], *pdktest.Env) {
			env := pdktest.New(t, pdktest.WithProvider(&pdk.Provider{Name: "kvs", Version: "0.0.1", User: nobody{}}))
			return &kvsession.Store[head, secret]{Prefix: "t/", KV: &casKV{m: map[string][]byte{}}}, env
		},
	}
}

func TestLifecycle(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			s, env := mk(t)
			exp := time.Now().Add(time.Hour)
			a, err := s.Create("u1", head{Name: "A"}, &secret{Refresh: "r1"}, exp)
			if err != nil {
				t.Fatal(err)
			}
			if len(a.ID) != 43 {
				t.Fatalf("id %q: want 43 base64url characters", a.ID)
			}
			b, err := s.Create("u1", head{Name: "B"}, nil, exp)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Create("u2", head{}, nil, exp); err != nil {
				t.Fatal(err)
			}
			got, err := s.Get(a.ID)
			if err != nil || got == nil || got.Head.Name != "A" || got.UserID != "u1" {
				t.Fatalf("get = %+v, %v", got, err)
			}
			if sec, err := s.Secret(a.ID); err != nil || sec == nil || sec.Refresh != "r1" {
				t.Fatalf("secret = %+v, %v", sec, err)
			}
			// KV keys never hold the id (the cookie value); only the
			// index's value does.
			if name == "pdk.KV" {
				for k, v := range env.KV() {
					if bytes.Contains([]byte(k), []byte(a.ID)) || (!strings.HasPrefix(k, "t/user/") && bytes.Contains(v, []byte(a.ID))) {
						t.Fatalf("KV entry %q reveals the session id", k)
					}
				}
			}
			// Ids that are not ours: empty, look-alikes, control chars, null.
			for _, id := range []string{"", "null", a.ID[:42], a.ID + "\x00", a.ID[:42] + "\u0430", "127.0.0.1"} {
				if got, err := s.Get(id); err != nil || got != nil {
					t.Fatalf("get %q = %+v, %v", id, got, err)
				}
			}
			list, err := s.List("u1")
			if err != nil || len(list) != 2 {
				t.Fatalf("list = %d sessions, %v", len(list), err)
			}
			if err := s.Extend(got, time.Now().Add(2*time.Hour)); err != nil {
				t.Fatal(err)
			}
			if got2, _ := s.Get(a.ID); got2 == nil || !got2.ExpiresAt.After(exp) {
				t.Fatalf("extend did not move the expiry: %+v", got2)
			}
			if sec, _ := s.Secret(a.ID); sec == nil || sec.Refresh != "r1" {
				t.Fatalf("extend lost the secret: %+v", sec)
			}
			sec, err := s.Revoke(a.ID)
			if err != nil || sec == nil || sec.Refresh != "r1" {
				t.Fatalf("revoke = %+v, %v", sec, err)
			}
			if got, _ := s.Get(a.ID); got != nil {
				t.Fatal("revoked session still valid")
			}
			if sec, _ := s.Secret(a.ID); sec != nil {
				t.Fatal("revoked session's secret kept")
			}
			if _, err := s.Revoke(a.ID); err != nil {
				t.Fatalf("revoking twice: %v", err)
			}
			if n, err := s.RevokeUser("u1"); err != nil || n != 1 {
				t.Fatalf("revoke user = %d, %v", n, err)
			}
			if got, _ := s.Get(b.ID); got != nil {
				t.Fatal("session survived RevokeUser")
			}
			if list, _ := s.List("u2"); len(list) != 1 {
				t.Fatalf("another user's sessions = %d, want 1", len(list))
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	s, _ := backends(t)["pdk.KV"](t)
	clock := time.Now()
	s.Now = func() time.Time { return clock }
	sess, err := s.Create("u1", head{}, nil, clock.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(2 * time.Minute)
	if got, err := s.Get(sess.ID); err != nil || got != nil {
		t.Fatalf("expired session = %+v, %v", got, err)
	}
	if _, err := s.Create("u1", head{}, nil, clock.Add(-time.Second)); err == nil {
		t.Fatal("created an already expired session")
	}
	if _, err := s.Create("", head{}, nil, clock.Add(time.Hour)); err == nil {
		t.Fatal("created a session without user")
	}
}

// issuer hands out single-use refresh tokens: a token presented twice is
// rejected.
type issuer struct {
	mu    sync.Mutex
	spent map[string]bool
	calls atomic.Int32
	next  atomic.Int32
}

func (is *issuer) refresh(rt string) (string, error) {
	is.calls.Add(1)
	time.Sleep(5 * time.Millisecond) // an upstream round trip
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.spent[rt] {
		return "", fmt.Errorf("%w: invalid_grant", kvsession.ErrRejected)
	}
	is.spent[rt] = true
	return fmt.Sprintf("r%d", is.next.Add(1)+1), nil
}

// TestConcurrentRotation: many requests find the session due at once; every
// one keeps the session, and with CAS the issuer sees the token once.
func TestConcurrentRotation(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			s, _ := mk(t)
			sess, err := s.Create("u1", head{Name: "A"}, &secret{Refresh: "r1"}, time.Now().Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			is := &issuer{spent: map[string]bool{}}
			var wg sync.WaitGroup
			var ended atomic.Int32
			errs := make(chan error, 16)
			for range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					got, err := s.Rotate(context.Background(), sess, refreshOf, func(_ context.Context, sec *secret) (kvsession.Rotation[head, secret], error) {
						rt, err := is.refresh(sec.Refresh)
						if err != nil {
							return kvsession.Rotation[head, secret]{}, err
						}
						return kvsession.Rotation[head, secret]{Secret: &secret{Refresh: rt}}, nil
					})
					if err != nil {
						errs <- err
					}
					if got == nil {
						ended.Add(1)
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if n := ended.Load(); n != 0 {
				t.Fatalf("%d concurrent refreshes ended the session", n)
			}
			if got, _ := s.Get(sess.ID); got == nil {
				t.Fatal("session gone after concurrent rotation")
			}
			// A caller that read the secret after a rotation rotates the
			// new token again, legitimately; what must hold is that the
			// stored token is the newest one issued, and with CAS that no
			// token was presented twice.
			newest := fmt.Sprintf("r%d", is.next.Load()+1)
			if sec, _ := s.Secret(sess.ID); sec == nil || sec.Refresh != newest {
				t.Fatalf("secret after rotation = %+v, want the newest token %s", sec, newest)
			}
			if name == "cas" && is.calls.Load() != is.next.Load() {
				t.Fatalf("issuer saw %d presentations for %d rotations; with CAS no token is presented twice", is.calls.Load(), is.next.Load())
			}
		})
	}
}

func TestRotationRejectedEndsSession(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			s, _ := mk(t)
			sess, _ := s.Create("u1", head{}, &secret{Refresh: "r1"}, time.Now().Add(time.Hour))
			got, err := s.Rotate(context.Background(), sess, refreshOf, func(context.Context, *secret) (kvsession.Rotation[head, secret], error) {
				return kvsession.Rotation[head, secret]{}, fmt.Errorf("%w: revoked upstream", kvsession.ErrRejected)
			})
			if err != nil || got != nil {
				t.Fatalf("rejected rotation = %+v, %v", got, err)
			}
			if cur, _ := s.Get(sess.ID); cur != nil {
				t.Fatal("session survived a rejected refresh token")
			}
			if list, _ := s.List("u1"); len(list) != 0 {
				t.Fatalf("index still lists %d sessions", len(list))
			}

			// An unreachable issuer keeps the session as it is.
			sess, _ = s.Create("u1", head{}, &secret{Refresh: "r1"}, time.Now().Add(time.Hour))
			down := errors.New("issuer down")
			if _, err := s.Rotate(context.Background(), sess, refreshOf, func(context.Context, *secret) (kvsession.Rotation[head, secret], error) {
				return kvsession.Rotation[head, secret]{}, down
			}); !errors.Is(err, down) {
				t.Fatalf("err = %v, want the issuer's", err)
			}
			if cur, _ := s.Get(sess.ID); cur == nil {
				t.Fatal("an unreachable issuer ended the session")
			}
			// The lock was released: the next rotation runs.
			got, err = s.Rotate(context.Background(), sess, refreshOf, func(context.Context, *secret) (kvsession.Rotation[head, secret], error) {
				return kvsession.Rotation[head, secret]{Secret: &secret{Refresh: "r9"}}, nil
			})
			if err != nil || got == nil {
				t.Fatalf("rotation after a failed one = %+v, %v", got, err)
			}
			// A session without a refresh token is left as it is.
			bare, _ := s.Create("u1", head{}, nil, time.Now().Add(time.Hour))
			if got, err := s.Rotate(context.Background(), bare, refreshOf, nil); err != nil || got == nil || got.ID != bare.ID {
				t.Fatalf("rotating a session without refresh token = %+v, %v", got, err)
			}
		})
	}
}

// TestConcurrentIndex: concurrent sign-ins of one user; with CAS no index
// entry is lost.
func TestConcurrentIndex(t *testing.T) {
	s, _ := backends(t)["cas"](t)
	var wg sync.WaitGroup
	ids := make(chan string, 40)
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sess, err := s.Create("u1", head{}, nil, time.Now().Add(time.Hour))
			if err != nil {
				t.Error(err)
				return
			}
			ids <- sess.ID
		}()
	}
	wg.Wait()
	close(ids)
	list, err := s.List("u1")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 40 {
		t.Fatalf("index lists %d of 40 concurrent sessions", len(list))
	}
	// Concurrent revocations leave the index empty.
	for id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Revoke(id); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if list, _ := s.List("u1"); len(list) != 0 {
		t.Fatalf("index lists %d sessions after revoking all", len(list))
	}
}

// TestUnindexed: without the index no session id is kept in KV at all,
// and List finds nothing.
func TestUnindexed(t *testing.T) {
	s, env := backends(t)["pdk.KV"](t)
	s.Unindexed = true
	sess, err := s.Create("u1", head{Name: "A"}, &secret{Refresh: "r1"}, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range env.KV() {
		if strings.Contains(k, sess.ID) || bytes.Contains(v, []byte(sess.ID)) {
			t.Fatalf("KV entry %q reveals the session id", k)
		}
	}
	if got, err := s.Get(sess.ID); err != nil || got == nil || got.ID != sess.ID {
		t.Fatalf("get = %+v, %v", got, err)
	}
	if list, _ := s.List("u1"); len(list) != 0 {
		t.Fatalf("unindexed list = %d sessions", len(list))
	}
	if _, err := s.Revoke(sess.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(sess.ID); got != nil {
		t.Fatal("revoked unindexed session still valid")
	}
}

func TestIndexBound(t *testing.T) {
	s, _ := backends(t)["pdk.KV"](t)
	s.MaxPerUser = 3
	var last string
	for range 5 {
		sess, err := s.Create("u1", head{}, nil, time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		last = sess.ID
	}
	list, _ := s.List("u1")
	if len(list) != 3 || list[2].ID != last {
		t.Fatalf("bounded index = %d sessions (want the newest 3)", len(list))
	}
}

// TestStaleWriteRestored: a request that read the session before a
// rotation writes the spent token back; the next rotation is rejected by
// the issuer and restores the remembered result, until the grace ends.
func TestStaleWriteRestored(t *testing.T) {
	s, env := backends(t)["pdk.KV"](t)
	is := &issuer{spent: map[string]bool{}}
	rotate := func(_ context.Context, sec *secret) (kvsession.Rotation[head, secret], error) {
		rt, err := is.refresh(sec.Refresh)
		if err != nil {
			return kvsession.Rotation[head, secret]{}, err
		}
		return kvsession.Rotation[head, secret]{Secret: &secret{Refresh: rt}}, nil
	}
	sess, _ := s.Create("u1", head{}, &secret{Refresh: "r1"}, time.Now().Add(time.Hour))
	if got, err := s.Rotate(context.Background(), sess, refreshOf, rotate); err != nil || got == nil {
		t.Fatalf("rotate = %+v, %v", got, err)
	}
	if err := s.Save(sess, &secret{Refresh: "r1"}); err != nil { // the stale write
		t.Fatal(err)
	}
	if got, err := s.Rotate(context.Background(), sess, refreshOf, rotate); err != nil || got == nil {
		t.Fatalf("rotate after a stale write = %+v, %v", got, err)
	}
	if sec, _ := s.Secret(sess.ID); sec == nil || sec.Refresh != "r2" {
		t.Fatalf("secret = %+v, want r2 restored", sec)
	}

	// An issuer that keeps the token leaves nothing to restore: a later
	// refusal of that token ends the session at once.
	kept, _ := s.Create("u2", head{}, &secret{Refresh: "k1"}, time.Now().Add(time.Hour))
	keep := func(context.Context, *secret) (kvsession.Rotation[head, secret], error) {
		return kvsession.Rotation[head, secret]{Secret: &secret{Refresh: "k1"}}, nil
	}
	if got, err := s.Rotate(context.Background(), kept, refreshOf, keep); err != nil || got == nil {
		t.Fatalf("rotate keeping the token = %+v, %v", got, err)
	}
	refuse := func(context.Context, *secret) (kvsession.Rotation[head, secret], error) {
		return kvsession.Rotation[head, secret]{}, kvsession.ErrRejected
	}
	if got, err := s.Rotate(context.Background(), kept, refreshOf, refuse); err != nil || got != nil {
		t.Fatalf("refused kept token = %+v, %v; want the session ended", got, err)
	}

	// Past the grace, the spent token is a replay: the session ends.
	if err := s.Save(sess, &secret{Refresh: "r1"}); err != nil {
		t.Fatal(err)
	}
	env.SetClock(func() time.Time { return time.Now().Add(2 * kvsession.DefaultRotationGrace) })
	if got, err := s.Rotate(context.Background(), sess, refreshOf, rotate); err != nil || got != nil {
		t.Fatalf("replayed token = %+v, %v; want the session ended", got, err)
	}
}
