package jose_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk"
	"github.com/authhost/authhost/pdk/jose"
	"github.com/authhost/authhost/pdk/pdktest"
)

const issuer = "https://issuer.test"

type nobody struct{}

func (nobody) CurrentUser(context.Context, abi.Request) (*abi.User, error) { return nil, nil }
func (nobody) GetUser(context.Context, string) (*abi.User, error)          { return nil, nil }

// signer holds one key of each type and serves them as a JWKS.
type signer struct {
	rsa     *rsa.PrivateKey
	ec      *ecdsa.PrivateKey
	ed      ed25519.PrivateKey
	fetches atomic.Int32
	down    atomic.Bool
	extra   atomic.Pointer[jose.JWK] // a key published after rotation
	env     *pdktest.Env
	url     string
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func newSigner(t *testing.T) *signer {
	t.Helper()
	s := &signer{}
	var err error
	if s.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if s.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if _, s.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.fetches.Add(1)
		if s.down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		_ = json.NewEncoder(w).Encode(s.jwks())
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL + "/jwks"
	s.env = pdktest.New(t, pdktest.WithProvider(&pdk.Provider{Name: "jose-test", Version: "0.0.1", User: nobody{}}),
		pdktest.WithTransport(srv.Client().Transport))
	return s
}

func (s *signer) jwks() jose.JWKS {
	ecx, ecy := make([]byte, 32), make([]byte, 32)
	s.ec.X.FillBytes(ecx)
	s.ec.Y.FillBytes(ecy)
	set := jose.JWKS{Keys: []jose.JWK{
		{Kty: "RSA", Kid: "rsa", N: b64(s.rsa.N.Bytes()), E: b64(big.NewInt(int64(s.rsa.E)).Bytes())},
		{Kty: "EC", Kid: "ec", Crv: "P-256", X: b64(ecx), Y: b64(ecy)},
		{Kty: "OKP", Kid: "ed", Crv: "Ed25519", X: b64(s.ed.Public().(ed25519.PublicKey))},
	}}
	if k := s.extra.Load(); k != nil {
		set.Keys = append(set.Keys, *k)
	}
	return set
}

// sign makes a compact JWS of claims with header hdr, signed by the key of
// hdr's alg (or an HMAC over the RSA modulus for HS256).
func (s *signer) sign(t *testing.T, hdr map[string]any, claims any) string {
	t.Helper()
	hb, _ := json.Marshal(hdr)
	cb, _ := json.Marshal(claims)
	in := b64(hb) + "." + b64(cb)
	var sig []byte
	var err error
	switch hdr["alg"] {
	case "RS256":
		sum := sha256.Sum256([]byte(in))
		sig, err = rsa.SignPKCS1v15(rand.Reader, s.rsa, crypto.SHA256, sum[:])
	case "ES256":
		sum := sha256.Sum256([]byte(in))
		r, ss, e := ecdsa.Sign(rand.Reader, s.ec, sum[:])
		err = e
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		ss.FillBytes(sig[32:])
	case "EdDSA":
		sig = ed25519.Sign(s.ed, []byte(in))
	case "HS256":
		m := hmac.New(sha256.New, []byte(b64(s.rsa.N.Bytes())))
		m.Write([]byte(in))
		sig = m.Sum(nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + b64(sig)
}

func claims(mod func(map[string]any)) map[string]any {
	now := time.Now().Unix()
	c := map[string]any{"iss": issuer, "sub": "u1", "aud": "client", "exp": now + 300, "iat": now, "nonce": "n-1"}
	if mod != nil {
		mod(c)
	}
	return c
}

func (s *signer) verifier() jose.Verifier {
	return jose.Verifier{Keys: &jose.KeySet{URL: s.url, MinRefresh: time.Minute}, Issuers: []string{issuer}, Audience: "client", Nonce: "n-1"}
}

// TestVerify runs the verifier's table with the host's jws_verify and
// with the guest's own check (the host answering not_supported).
func TestVerify(t *testing.T) {
	for _, path := range []struct {
		name    string
		hostErr *abi.Error
	}{{"host", nil}, {"guest", &abi.Error{Code: abi.CodeNotSupported, Message: "unknown host function"}}} {
		t.Run(path.name, func(t *testing.T) {
			s := newSigner(t)
			s.env.FailHost(abi.HostJWSVerify, path.hostErr)
			testVerify(t, s)
		})
	}
}

func testVerify(t *testing.T, s *signer) {
	rs := map[string]any{"alg": "RS256", "kid": "rsa"}
	cases := []struct {
		name    string
		token   func() string
		mod     func(*jose.Verifier)
		wantErr string // "" valid; else a substring of the error
		expired bool
	}{
		{name: "rs256", token: func() string { return s.sign(t, rs, claims(nil)) }},
		{name: "es256", token: func() string { return s.sign(t, map[string]any{"alg": "ES256", "kid": "ec"}, claims(nil)) }},
		{name: "eddsa", token: func() string { return s.sign(t, map[string]any{"alg": "EdDSA", "kid": "ed"}, claims(nil)) }},
		{name: "no kid picks the only fitting key", token: func() string { return s.sign(t, map[string]any{"alg": "EdDSA"}, claims(nil)) }},
		{name: "aud array", token: func() string {
			return s.sign(t, rs, claims(func(c map[string]any) { c["aud"] = []string{"other", "client"} }))
		}},
		{name: "alg none", token: func() string {
			tok := s.sign(t, rs, claims(nil))
			p := strings.Split(tok, ".")
			return b64([]byte(`{"alg":"none","kid":"rsa"}`)) + "." + p[1] + "."
		}, wantErr: `algorithm "none" is not allowed`},
		{name: "alg none even when allowed", token: func() string {
			p := strings.Split(s.sign(t, rs, claims(nil)), ".")
			return b64([]byte(`{"alg":"none"}`)) + "." + p[1] + "."
		}, mod: func(v *jose.Verifier) { v.Algorithms = []string{"none", "RS256"} }, wantErr: "unsupported algorithm"},
		{name: "HS256 keyed with the public key", token: func() string { return s.sign(t, map[string]any{"alg": "HS256", "kid": "rsa"}, claims(nil)) },
			mod: func(v *jose.Verifier) { v.Algorithms = []string{"HS256", "RS256"} }, wantErr: "unsupported algorithm"},
		{name: "alg outside the allow-list", token: func() string { return s.sign(t, map[string]any{"alg": "EdDSA", "kid": "ed"}, claims(nil)) },
			mod: func(v *jose.Verifier) { v.Algorithms = []string{"RS256"} }, wantErr: `algorithm "EdDSA" is not allowed`},
		{name: "alg of another key type", token: func() string {
			p := strings.Split(s.sign(t, rs, claims(nil)), ".")
			return b64([]byte(`{"alg":"ES256","kid":"rsa"}`)) + "." + p[1] + "." + p[2]
		}, wantErr: "unknown signing key"},
		{name: "tampered payload", token: func() string {
			p := strings.Split(s.sign(t, rs, claims(nil)), ".")
			cb, _ := json.Marshal(claims(func(c map[string]any) { c["sub"] = "admin" }))
			return p[0] + "." + b64(cb) + "." + p[2]
		}, wantErr: "verification"},
		{name: "crit header", token: func() string {
			return s.sign(t, map[string]any{"alg": "RS256", "kid": "rsa", "crit": []string{"x"}}, claims(nil))
		},
			wantErr: "critical header"},
		{name: "issuer look-alike (Cyrillic e)", token: func() string {
			return s.sign(t, rs, claims(func(c map[string]any) { c["iss"] = "https://issu\u0435r.test" }))
		}, wantErr: "issuer"},
		{name: "issuer with trailing NUL", token: func() string {
			return s.sign(t, rs, claims(func(c map[string]any) { c["iss"] = issuer + "\x00" }))
		}, wantErr: "issuer"},
		{name: "issuer IP literal", token: func() string {
			return s.sign(t, rs, claims(func(c map[string]any) { c["iss"] = "https://127.0.0.1" }))
		}, wantErr: "issuer"},
		{name: "issuer null", token: func() string { return s.sign(t, rs, claims(func(c map[string]any) { c["iss"] = nil })) }, wantErr: "issuer"},
		{name: "no sub", token: func() string { return s.sign(t, rs, claims(func(c map[string]any) { delete(c, "sub") })) }, wantErr: "no sub"},
		{name: "wrong audience", token: func() string { return s.sign(t, rs, claims(func(c map[string]any) { c["aud"] = "other" })) }, wantErr: "audience"},
		{name: "no audience", token: func() string { return s.sign(t, rs, claims(func(c map[string]any) { delete(c, "aud") })) }, wantErr: "audience"},
		{name: "nonce mismatch", token: func() string { return s.sign(t, rs, claims(func(c map[string]any) { c["nonce"] = "n-2" })) }, wantErr: "nonce mismatch"},
		{name: "nonce missing", token: func() string { return s.sign(t, rs, claims(func(c map[string]any) { delete(c, "nonce") })) }, wantErr: "nonce missing"},
		{name: "no exp", token: func() string { return s.sign(t, rs, claims(func(c map[string]any) { delete(c, "exp") })) }, wantErr: "exp"},
		{name: "exp as string", token: func() string { return s.sign(t, rs, claims(func(c map[string]any) { c["exp"] = "9999999999" })) }, wantErr: "exp"},
		{name: "exp null", token: func() string { return s.sign(t, rs, claims(func(c map[string]any) { c["exp"] = nil })) }, wantErr: "exp"},
		{name: "expired", token: func() string {
			return s.sign(t, rs, claims(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }))
		}, wantErr: "expired", expired: true},
		{name: "expired within skew", token: func() string {
			return s.sign(t, rs, claims(func(c map[string]any) { c["exp"] = time.Now().Add(-10 * time.Second).Unix() }))
		}},
		{name: "not valid yet", token: func() string {
			return s.sign(t, rs, claims(func(c map[string]any) { c["nbf"] = time.Now().Add(time.Minute).Unix() }))
		}, wantErr: "not valid before"},
		{name: "issued in the future", token: func() string {
			return s.sign(t, rs, claims(func(c map[string]any) { c["iat"] = time.Now().Add(time.Minute).Unix() }))
		}, wantErr: "issued in the future"},
		{name: "no skew", token: func() string {
			return s.sign(t, rs, claims(func(c map[string]any) { c["exp"] = time.Now().Add(-2 * time.Second).Unix() }))
		}, mod: func(v *jose.Verifier) { v.ClockSkew = -1 }, wantErr: "expired", expired: true},
		{name: "two parts", token: func() string { return "a.b" }, wantErr: "malformed"},
		{name: "unicode full stops", token: func() string {
			return strings.ReplaceAll(s.sign(t, rs, claims(nil)), ".", "\u3002")
		}, wantErr: "malformed"},
		{name: "payload null", token: func() string { return s.sign(t, rs, nil) }, wantErr: "exp"},
		{name: "empty", token: func() string { return "" }, wantErr: "malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := s.verifier()
			if tc.mod != nil {
				tc.mod(&v)
			}
			c, err := v.Verify(context.Background(), tc.token())
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if c.Subject != "u1" || c.Issuer != issuer {
					t.Fatalf("claims = %+v", c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if !errors.Is(err, jose.ErrInvalid) {
				t.Fatalf("err %v does not wrap ErrInvalid", err)
			}
			if got := errors.Is(err, jose.ErrExpired); got != tc.expired {
				t.Fatalf("expired = %v, want %v (%v)", got, tc.expired, err)
			}
			if tc.expired && (c == nil || c.Subject != "u1") {
				t.Fatalf("expired token without its claims: %+v", c)
			}
			if !tc.expired && c != nil {
				t.Fatalf("claims returned with %v", err)
			}
		})
	}
}

func TestVerifierNeedsIssuer(t *testing.T) {
	s := newSigner(t)
	v := s.verifier()
	v.Issuers = nil
	if _, err := v.Verify(context.Background(), s.sign(t, map[string]any{"alg": "RS256", "kid": "rsa"}, claims(nil))); err == nil {
		t.Fatal("a verifier without issuer accepted a token")
	}
}

func TestKeySetCacheAndRefetch(t *testing.T) {
	s := newSigner(t)
	clock := time.Now()
	ks := &jose.KeySet{URL: s.url, MinRefresh: time.Minute, Now: func() time.Time { return clock }}
	v := jose.Verifier{Keys: ks, Issuers: []string{issuer}, Now: func() time.Time { return clock }}
	ctx := context.Background()
	good := s.sign(t, map[string]any{"alg": "RS256", "kid": "rsa"}, claims(nil))
	for range 3 {
		if _, err := v.Verify(ctx, good); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.fetches.Load(); n != 1 {
		t.Fatalf("fetches = %d for three tokens, want 1 (KV cache)", n)
	}

	// A rotated-in key id works at once, however recent the cached set.
	rotated, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s.extra.Store(&jose.JWK{Kty: "RSA", Kid: "new", N: b64(rotated.N.Bytes()), E: b64(big.NewInt(int64(rotated.E)).Bytes())})
	old := s.rsa
	s.rsa = rotated
	if _, err := v.Verify(ctx, s.sign(t, map[string]any{"alg": "RS256", "kid": "new"}, claims(nil))); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	s.rsa = old
	if n := s.fetches.Load(); n != 2 {
		t.Fatalf("fetches = %d after rotation, want 2", n)
	}

	// Made-up key ids: each new one re-fetches until the missing list is
	// full, then none does within MinRefresh; a repeated one never does.
	for i := range 100 {
		tok := s.sign(t, map[string]any{"alg": "RS256", "kid": fmt.Sprintf("fake-%d", i%50)}, claims(nil))
		if _, err := v.Verify(ctx, tok); !errors.Is(err, jose.ErrUnknownKey) || !errors.Is(err, jose.ErrInvalid) {
			t.Fatalf("made-up kid: %v", err)
		}
	}
	burst := s.fetches.Load() - 2
	if burst < 1 || burst > 33 {
		t.Fatalf("made-up key ids caused %d fetches within MinRefresh, want 1..33", burst)
	}
	clock = clock.Add(2 * time.Minute)
	before := s.fetches.Load()
	if _, err := v.Verify(ctx, s.sign(t, map[string]any{"alg": "RS256", "kid": "fake-1"}, claims(func(c map[string]any) { c["exp"] = clock.Unix() + 60 }))); !errors.Is(err, jose.ErrUnknownKey) {
		t.Fatal(err)
	}
	if s.fetches.Load() != before+1 {
		t.Fatalf("a missing kid was not re-fetched after MinRefresh")
	}

	// The issuer down: a cached set keeps verifying; without one the error
	// is unavailable, not an invalid token.
	s.down.Store(true)
	if _, err := v.Verify(ctx, s.sign(t, map[string]any{"alg": "RS256", "kid": "rsa"}, claims(func(c map[string]any) { c["exp"] = clock.Unix() + 60 }))); err != nil {
		t.Fatalf("cached key with the issuer down: %v", err)
	}
	clock = clock.Add(2 * time.Hour) // past the set's TTL
	_, err = v.Verify(ctx, s.sign(t, map[string]any{"alg": "RS256", "kid": "rsa"}, claims(func(c map[string]any) { c["exp"] = clock.Unix() + 60 })))
	if err == nil || errors.Is(err, jose.ErrInvalid) || !abi.IsCode(err, abi.CodeUnavailable) {
		t.Fatalf("no key set: err = %v, want unavailable and not ErrInvalid", err)
	}
}

// TestColdCacheUnknownKid: on an empty cache, the fetch that fills it
// counts as the re-fetch for an unknown key id.
func TestColdCacheUnknownKid(t *testing.T) {
	s := newSigner(t)
	tok := s.sign(t, map[string]any{"alg": "RS256", "kid": "nope"}, claims(nil))
	if _, err := s.verifier().Verify(context.Background(), tok); !errors.Is(err, jose.ErrUnknownKey) {
		t.Fatalf("err = %v, want ErrUnknownKey", err)
	}
	if n := s.fetches.Load(); n != 1 {
		t.Fatalf("fetches = %d, want 1", n)
	}
}

func TestKeySetURLChange(t *testing.T) {
	s := newSigner(t)
	v := s.verifier()
	tok := s.sign(t, map[string]any{"alg": "RS256", "kid": "rsa"}, claims(nil))
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	// A cached set from another URL is not used.
	v.Keys = &jose.KeySet{URL: s.url + "?other"}
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if n := s.fetches.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2 (a set is cached for its URL)", n)
	}
}

// TestConcurrentVerify verifies from many goroutines against one cache
// (run with -race).
func TestConcurrentVerify(t *testing.T) {
	s := newSigner(t)
	tok := s.sign(t, map[string]any{"alg": "ES256", "kid": "ec"}, claims(nil))
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.verifier().Verify(context.Background(), tok); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestTokenHash(t *testing.T) {
	// OIDC Core example: at_hash of "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y" with RS256.
	got, err := jose.TokenHash("RS256", "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y")
	if err != nil {
		t.Fatal(err)
	}
	if got != "77QmUPtjPfzWtF2AnpK9RQ" {
		t.Fatalf("at_hash = %s", got)
	}
	if _, err := jose.TokenHash("HS256", "x"); err == nil {
		t.Fatal("TokenHash accepted HS256")
	}
}

// TestKeySetInstanceMemory: a warm instance verifies from the set it
// remembers, without reading KV (here: with kv_get failing) or fetching;
// a key id it lacks still goes to KV and the issuer.
func TestKeySetInstanceMemory(t *testing.T) {
	s := newSigner(t)
	v := s.verifier()
	ctx := context.Background()
	if _, err := v.Verify(ctx, s.sign(t, map[string]any{"alg": "RS256", "kid": "rsa"}, claims(nil))); err != nil {
		t.Fatal(err)
	}
	s.env.FailHost(abi.HostKVGet, &abi.Error{Code: abi.CodeUnavailable, Message: "store down"})
	for range 3 {
		if _, err := v.Verify(ctx, s.sign(t, map[string]any{"alg": "ES256", "kid": "ec"}, claims(nil))); err != nil {
			t.Fatalf("warm verify without KV: %v", err)
		}
	}
	if n := s.fetches.Load(); n != 1 {
		t.Fatalf("fetches = %d, want 1", n)
	}
	s.env.FailHost(abi.HostKVGet, nil)
	if _, err := v.Verify(ctx, s.sign(t, map[string]any{"alg": "RS256", "kid": "unknown"}, claims(nil))); !errors.Is(err, jose.ErrUnknownKey) {
		t.Fatalf("unknown kid: %v", err)
	}
	if n := s.fetches.Load(); n != 2 {
		t.Fatalf("fetches = %d after an unknown kid, want 2", n)
	}
}
