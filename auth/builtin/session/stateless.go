package session

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/store"
)

// MinSecretBytes is the shortest secret CookieSessions accepts.
const MinSecretBytes = 32

// revokedPrefix keys the optional revocation list: session-revoked/<inner id>.
const revokedPrefix = "session-revoked/"

// hkdfInfo binds the derived key to this use and format version.
const hkdfInfo = "authhost cookie session v1 aes-256-gcm"

// CookieOptions configures CookieSessions.
type CookieOptions struct {
	// Secret is the key material, at least MinSecretBytes bytes of high
	// entropy. The AES-256 key is derived from it with HKDF-SHA256.
	Secret []byte
	// Cookie shapes the session cookie.
	Cookie CookieConfig
	// TTL is how long a session lives after its creation or last refresh;
	// 0 means DefaultTTL (7 days).
	TTL time.Duration
	// MaxAge is the absolute lifetime from creation, which refreshes never
	// extend; 0 means DefaultMaxAge (30 days), or TTL when that is longer.
	MaxAge time.Duration
	// Revocations, when set, records destroyed sessions so DestroySession
	// takes effect before expiry; entries expire with the session's
	// absolute lifetime. Without it DestroySession is a no-op.
	Revocations store.Store
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// CookieSessions are stateless sessions: the whole session is the cookie,
// AES-256-GCM encrypted and authenticated, token =
// base64url(nonce ‖ ciphertext ‖ tag). The session's ID is that token, so
// RefreshSession returns a session with a new ID that the caller must
// re-issue with SessionCookies.
//
// Stateless sessions cannot be revoked before they expire unless
// CookieOptions.Revocations is set: without it DestroySession only lets
// the caller clear the cookie, and a copied token stays valid until its
// expiry.
type CookieSessions struct {
	cookies
	aead    cipher.AEAD
	life    lifetime
	revoked store.Store
}

var _ auth.SessionProvider = (*CookieSessions)(nil)

// payload is the encrypted JSON; ID is a random inner id (used for
// revocation), not the token.
type payload struct {
	ID        string         `json:"id"`
	UserID    string         `json:"userId"`
	ExpiresAt time.Time      `json:"expiresAt"`
	CreatedAt time.Time      `json:"createdAt"`
	Metadata  map[string]any `json:"metadata,omitempty"`
}

// NewCookie returns a stateless cookie session provider. It fails when the
// secret is shorter than MinSecretBytes.
func NewCookie(opts CookieOptions) (*CookieSessions, error) {
	if len(opts.Secret) < MinSecretBytes {
		return nil, auth.Errorf(auth.CodeInvalidRequest,
			"session: cookie session secret must be at least %d bytes (256 bits) for AES-256-GCM encryption, got %d",
			MinSecretBytes, len(opts.Secret))
	}
	key, err := hkdf.Key(sha256.New, opts.Secret, nil, hkdfInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("session: derive cookie key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("session: cookie cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("session: cookie cipher: %w", err)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &CookieSessions{
		cookies: cookies{cfg: opts.Cookie.withDefaults(), now: now},
		aead:    aead,
		life:    lifetime{TTL: opts.TTL, MaxAge: opts.MaxAge}.withDefaults(),
		revoked: opts.Revocations,
	}, nil
}

// additional data binds tokens to this provider's cookie name.
func (p *CookieSessions) ad() []byte { return []byte("authhost-session:" + p.cfg.Name) }

func (p *CookieSessions) seal(pl payload) (string, error) {
	plain, err := json.Marshal(pl)
	if err != nil {
		return "", fmt.Errorf("session: encode cookie: %w", err)
	}
	nonce := make([]byte, p.aead.NonceSize(), p.aead.NonceSize()+len(plain)+p.aead.Overhead())
	_, _ = rand.Read(nonce)
	token := base64.RawURLEncoding.EncodeToString(p.aead.Seal(nonce, nonce, plain, p.ad()))
	if n := len(p.cfg.Name) + 1 + len(token); n > maxCookieBytes-200 {
		return "", auth.Errorf(auth.CodeInvalidRequest, "session: cookie session is %d bytes, too large for a cookie; keep session metadata small", n)
	}
	return token, nil
}

// open decrypts and checks a token; nil means invalid, tampered or expired.
func (p *CookieSessions) open(ctx context.Context, token string) (*payload, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) < p.aead.NonceSize()+p.aead.Overhead() {
		return nil, nil
	}
	ns := p.aead.NonceSize()
	plain, err := p.aead.Open(nil, raw[:ns], raw[ns:], p.ad()) // constant-time tag check
	if err != nil {
		return nil, nil
	}
	var pl payload
	if err := json.Unmarshal(plain, &pl); err != nil || pl.ID == "" || pl.UserID == "" {
		return nil, nil
	}
	if !p.now().Before(pl.ExpiresAt) {
		return nil, nil
	}
	if p.revoked != nil {
		_, err := p.revoked.Get(ctx, revokedPrefix+url.PathEscape(pl.ID))
		switch {
		case err == nil:
			return nil, nil
		case !errors.Is(err, store.ErrNotFound):
			return nil, fmt.Errorf("session: check revocation: %w", err)
		}
	}
	return &pl, nil
}

func (pl *payload) session(token string) *auth.Session {
	return &auth.Session{ID: token, UserID: pl.UserID, ExpiresAt: pl.ExpiresAt, CreatedAt: pl.CreatedAt, Metadata: pl.Metadata}
}

// CreateSession implements auth.SessionProvider.
func (p *CookieSessions) CreateSession(_ context.Context, userID string, metadata map[string]any) (*auth.Session, error) {
	if userID == "" {
		return nil, auth.Errorf(auth.CodeInvalidRequest, "session: user id is required")
	}
	now := p.now()
	pl := payload{ID: newID(), UserID: userID, CreatedAt: now, ExpiresAt: p.life.expiry(now, now), Metadata: cloneMeta(metadata)}
	token, err := p.seal(pl)
	if err != nil {
		return nil, err
	}
	return pl.session(token), nil
}

// ValidateSession implements auth.SessionProvider; id is the token.
func (p *CookieSessions) ValidateSession(ctx context.Context, id string) (*auth.Session, error) {
	pl, err := p.open(ctx, id)
	if err != nil || pl == nil {
		return nil, err
	}
	return pl.session(id), nil
}

// RefreshSession implements auth.SessionProvider. It returns a session
// with a new token (ID) and a later expiry, capped at CreatedAt+MaxAge;
// the old token stays valid until its own expiry.
func (p *CookieSessions) RefreshSession(ctx context.Context, id string) (*auth.Session, error) {
	pl, err := p.open(ctx, id)
	if err != nil || pl == nil {
		return nil, err
	}
	now := p.now()
	pl.ExpiresAt = p.life.expiry(pl.CreatedAt, now)
	if !now.Before(pl.ExpiresAt) {
		return nil, nil
	}
	token, err := p.seal(*pl)
	if err != nil {
		return nil, err
	}
	return pl.session(token), nil
}

// DestroySession implements auth.SessionProvider. Without a revocation
// store it is a no-op (see CookieSessions); with one, the session and every
// token refreshed from it are rejected from now on.
func (p *CookieSessions) DestroySession(ctx context.Context, id string) error {
	if p.revoked == nil {
		return nil
	}
	pl, err := p.open(ctx, id)
	if err != nil || pl == nil {
		return err
	}
	ttl := max(pl.CreatedAt.Add(p.life.MaxAge).Sub(p.now()), time.Second)
	if err := p.revoked.Put(ctx, revokedPrefix+url.PathEscape(pl.ID), nil, ttl); err != nil {
		return fmt.Errorf("session: revoke: %w", err)
	}
	return nil
}

// SessionCookies implements auth.SessionProvider.
func (p *CookieSessions) SessionCookies(_ context.Context, s *auth.Session) ([]string, error) {
	if s == nil || s.ID == "" {
		return nil, auth.Errorf(auth.CodeInvalidRequest, "session: no session token to put in a cookie")
	}
	return []string{p.cookie(s.ID, s.ExpiresAt)}, nil
}
