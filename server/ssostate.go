package server

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// ssoCookieName holds the sealed state of one SSO login attempt.
const ssoCookieName = "authhost_sso"

// ssoTTL bounds how long a login attempt may take at the identity provider.
const ssoTTL = 10 * time.Minute

// ssoState is what the browser-bound cookie carries between /sso/login and
// /sso/callback: the state, nonce and PKCE verifier sent to the provider
// and where to go afterwards.
type ssoState struct {
	State    string    `json:"s"`
	Nonce    string    `json:"n"`
	Verifier string    `json:"v"`
	Redirect string    `json:"r"`
	Expires  time.Time `json:"e"`
}

// sealer encrypts and authenticates small values with AES-256-GCM.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	if len(key) < 32 {
		return nil, fmt.Errorf("server: seal key must be at least 32 bytes, got %d", len(key))
	}
	k := sha256.Sum256(append([]byte("authhost sso state v1\x00"), key...))
	block, err := aes.NewCipher(k[:])
	if err != nil {
		return nil, fmt.Errorf("server: seal key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("server: seal key: %w", err)
	}
	return &sealer{aead: aead}, nil
}

func (s *sealer) seal(v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, []byte(ssoCookieName))), nil
}

var errBadState = errors.New("sso state cookie missing, expired or forged")

func (s *sealer) open(token string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) < s.aead.NonceSize()+s.aead.Overhead() {
		return errBadState
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(ssoCookieName))
	if err != nil {
		return errBadState
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return errBadState
	}
	return nil
}

// randomToken returns n random bytes, base64url.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never happens on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// pkceChallenge is the S256 challenge of verifier.
func pkceChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// readSSOState opens the state cookie and checks it against the state the
// provider echoed, in constant time, and its expiry.
func (s *Server) readSSOState(r *http.Request, echoed string, now time.Time) (*ssoState, error) {
	c, err := r.Cookie(ssoCookieName)
	if err != nil {
		return nil, errBadState
	}
	var st ssoState
	if err := s.sealer.open(c.Value, &st); err != nil {
		return nil, err
	}
	if !now.Before(st.Expires) {
		return nil, errBadState
	}
	if echoed == "" || subtle.ConstantTimeCompare([]byte(st.State), []byte(echoed)) != 1 {
		return nil, errors.New("sso state mismatch")
	}
	return &st, nil
}

func (s *Server) ssoCookie(value string, maxAge int) string {
	c := &http.Cookie{Name: ssoCookieName, Value: value, Path: s.cfg.APIPrefix + "/auth/sso", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.cfg.PublicURL.Scheme == "https"}
	if maxAge < 0 {
		c.MaxAge = -1
	}
	return c.String()
}
