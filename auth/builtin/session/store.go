package session

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/store"
	"github.com/authhost/authhost/store/memory"
)

// Key layout of StoreSessions.
const (
	sessionPrefix = "session/"      // session/<sha256 hex of id> → record
	userPrefix    = "session-user/" // session-user/<escaped user id>/<sha256 hex> → ""
)

// HandlePrefix starts the session ids ListSessions returns: "sha256:" and
// the hex SHA-256 of the real id, which the store never keeps.
const HandlePrefix = "sha256:"

// Options configures the server-side session providers.
type Options struct {
	// Cookie shapes the session cookie.
	Cookie CookieConfig
	// TTL is how long a session lives after its creation or last refresh;
	// 0 means DefaultTTL (7 days).
	TTL time.Duration
	// MaxAge is the absolute lifetime from creation, which refreshes never
	// extend; 0 means DefaultMaxAge (30 days), or TTL when that is longer.
	MaxAge time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// StoreSessions is a server-side session provider on a store.Store. The
// store keeps only the SHA-256 of each session id, so a copy of the
// database yields no usable cookie. Sessions expire through store TTLs and
// are checked against their recorded expiry on every read.
type StoreSessions struct {
	cookies
	st   store.Store
	life lifetime
}

var (
	_ auth.SessionProvider = (*StoreSessions)(nil)
	_ auth.SessionLister   = (*StoreSessions)(nil)
)

// record is what the store keeps for one session.
type record struct {
	UserID    string         `json:"userId"`
	CreatedAt time.Time      `json:"createdAt"`
	ExpiresAt time.Time      `json:"expiresAt"`
	Metadata  map[string]any `json:"metadata,omitempty"`
}

// NewStore returns a session provider keeping its sessions in st, which the
// caller owns and closes.
func NewStore(st store.Store, opts Options) *StoreSessions {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &StoreSessions{
		cookies: cookies{cfg: opts.Cookie.withDefaults(), now: now},
		st:      st,
		life:    lifetime{TTL: opts.TTL, MaxAge: opts.MaxAge}.withDefaults(),
	}
}

// NewMemory returns a session provider that keeps its sessions in memory;
// they are lost when the process exits.
func NewMemory(opts Options) *StoreSessions {
	return NewStore(memory.New(memory.Options{Now: opts.Now}), opts)
}

func hashID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

func sessionKey(hash string) string { return sessionPrefix + hash }

func userIndexPrefix(userID string) string {
	return userPrefix + url.PathEscape(userID) + "/"
}

// ttlUntil is the store TTL for a key that must live until exp.
func (p *StoreSessions) ttlUntil(exp time.Time) time.Duration {
	return max(exp.Sub(p.now()), time.Second)
}

func (p *StoreSessions) put(ctx context.Context, tx store.Txn, hash string, rec record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("session: encode: %w", err)
	}
	ttl := p.ttlUntil(rec.ExpiresAt)
	if err := tx.Put(ctx, sessionKey(hash), b, ttl); err != nil {
		return err
	}
	return tx.Put(ctx, userIndexPrefix(rec.UserID)+hash, nil, ttl)
}

func (p *StoreSessions) del(ctx context.Context, tx store.Txn, hash, userID string) error {
	if err := tx.Delete(ctx, sessionKey(hash)); err != nil {
		return err
	}
	return tx.Delete(ctx, userIndexPrefix(userID)+hash)
}

func load(ctx context.Context, r store.Reader, hash string) (*record, error) {
	b, err := r.Get(ctx, sessionKey(hash))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("session: decode %s: %w", sessionKey(hash), err)
	}
	return &rec, nil
}

func (rec *record) session(id string) *auth.Session {
	return &auth.Session{
		ID:        id,
		UserID:    rec.UserID,
		CreatedAt: rec.CreatedAt,
		ExpiresAt: rec.ExpiresAt,
		Metadata:  rec.Metadata,
	}
}

// CreateSession implements auth.SessionProvider.
func (p *StoreSessions) CreateSession(ctx context.Context, userID string, metadata map[string]any) (*auth.Session, error) {
	if userID == "" {
		return nil, auth.Errorf(auth.CodeInvalidRequest, "session: user id is required")
	}
	now := p.now()
	id := newID()
	rec := record{
		UserID:    userID,
		CreatedAt: now,
		ExpiresAt: p.life.expiry(now, now),
		Metadata:  cloneMeta(metadata),
	}
	if err := p.st.Update(ctx, func(tx store.Txn) error {
		return p.put(ctx, tx, hashID(id), rec)
	}); err != nil {
		return nil, fmt.Errorf("session: create: %w", err)
	}
	return rec.session(id), nil
}

// ValidateSession implements auth.SessionProvider. An expired session is
// deleted.
func (p *StoreSessions) ValidateSession(ctx context.Context, id string) (*auth.Session, error) {
	if id == "" || strings.HasPrefix(id, HandlePrefix) {
		return nil, nil
	}
	hash := hashID(id)
	rec, err := load(ctx, p.st, hash)
	if err != nil {
		return nil, fmt.Errorf("session: validate: %w", err)
	}
	if rec == nil {
		return nil, nil
	}
	if !p.now().Before(rec.ExpiresAt) {
		if err := p.st.Update(ctx, func(tx store.Txn) error { return p.del(ctx, tx, hash, rec.UserID) }); err != nil {
			return nil, fmt.Errorf("session: delete expired: %w", err)
		}
		return nil, nil
	}
	return rec.session(id), nil
}

// RefreshSession implements auth.SessionProvider: the expiry moves to
// now+TTL, capped at CreatedAt+MaxAge. The id stays the same.
func (p *StoreSessions) RefreshSession(ctx context.Context, id string) (*auth.Session, error) {
	if id == "" || strings.HasPrefix(id, HandlePrefix) {
		return nil, nil
	}
	hash := hashID(id)
	var out *auth.Session
	err := p.st.Update(ctx, func(tx store.Txn) error {
		out = nil
		rec, err := load(ctx, tx, hash)
		if err != nil || rec == nil {
			return err
		}
		now := p.now()
		if !now.Before(rec.ExpiresAt) {
			return p.del(ctx, tx, hash, rec.UserID)
		}
		rec.ExpiresAt = p.life.expiry(rec.CreatedAt, now)
		if !now.Before(rec.ExpiresAt) { // reached MaxAge
			return p.del(ctx, tx, hash, rec.UserID)
		}
		out = rec.session(id)
		return p.put(ctx, tx, hash, *rec)
	})
	if err != nil {
		return nil, fmt.Errorf("session: refresh: %w", err)
	}
	return out, nil
}

// DestroySession implements auth.SessionProvider. It accepts a session id
// or a handle returned by ListSessions; an unknown id is not an error.
func (p *StoreSessions) DestroySession(ctx context.Context, id string) error {
	if id == "" {
		return nil
	}
	hash, ok := strings.CutPrefix(id, HandlePrefix)
	if !ok {
		hash = hashID(id)
	}
	err := p.st.Update(ctx, func(tx store.Txn) error {
		rec, err := load(ctx, tx, hash)
		if err != nil || rec == nil {
			return err
		}
		return p.del(ctx, tx, hash, rec.UserID)
	})
	if err != nil {
		return fmt.Errorf("session: destroy: %w", err)
	}
	return nil
}

// ListSessions implements auth.SessionLister. The returned sessions carry
// handles ("sha256:<hex>") instead of ids: they identify a session for
// DestroySession but are not accepted by ValidateSession or as cookies.
func (p *StoreSessions) ListSessions(ctx context.Context, userID string) ([]auth.Session, error) {
	var hashes []string
	err := p.st.Scan(ctx, userIndexPrefix(userID), store.ScanOptions{KeysOnly: true}, func(k string, _ []byte) error {
		hashes = append(hashes, k[strings.LastIndexByte(k, '/')+1:])
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("session: list: %w", err)
	}
	now := p.now()
	out := []auth.Session{}
	for _, h := range hashes {
		rec, err := load(ctx, p.st, h)
		if err != nil {
			return nil, fmt.Errorf("session: list: %w", err)
		}
		if rec == nil || rec.UserID != userID || !now.Before(rec.ExpiresAt) {
			continue
		}
		out = append(out, *rec.session(HandlePrefix + h))
	}
	return out, nil
}

// DestroyUserSessions ends every session of userID ("sign out everywhere")
// and returns how many it ended.
func (p *StoreSessions) DestroyUserSessions(ctx context.Context, userID string) (int, error) {
	n := 0
	err := p.st.Update(ctx, func(tx store.Txn) error {
		n = 0
		var keys []string
		if err := tx.Scan(ctx, userIndexPrefix(userID), store.ScanOptions{KeysOnly: true}, func(k string, _ []byte) error {
			keys = append(keys, k)
			return nil
		}); err != nil {
			return err
		}
		for _, k := range keys {
			if err := tx.Delete(ctx, sessionKey(k[strings.LastIndexByte(k, '/')+1:])); err != nil {
				return err
			}
			if err := tx.Delete(ctx, k); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("session: destroy sessions of %q: %w", userID, err)
	}
	return n, nil
}

// SessionCookies implements auth.SessionProvider: one cookie carrying the
// session id with Max-Age up to its expiry.
func (p *StoreSessions) SessionCookies(_ context.Context, s *auth.Session) ([]string, error) {
	if s == nil || s.ID == "" || strings.HasPrefix(s.ID, HandlePrefix) {
		return nil, auth.Errorf(auth.CodeInvalidRequest, "session: no session id to put in a cookie")
	}
	return []string{p.cookie(s.ID, s.ExpiresAt)}, nil
}
