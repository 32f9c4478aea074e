// Package kvsession keeps a provider's sessions in the plugin's KV store:
// session records under a hash of a random 256-bit id, the secrets of a
// session (upstream tokens) in a record of their own read only to rotate or
// end it, a per-user index for listing and revoking a user's sessions, and
// refresh-token rotation that stays correct when several requests find the
// same session due at once.
//
// # Atomicity
//
// The store works over KV, a small interface that pdk.KV satisfies. When
// the KV also implements Swapper (an atomic compare-and-swap, the host's
// kv_cas), the store uses it for the two read-modify-write steps:
//
//   - Rotation: exactly one caller wins the rotation lock for a refresh
//     token and calls the issuer; the others wait for its result (or, past
//     a short wait, keep using the session as it is), and a caller that
//     still holds the token after the rotation adopts its remembered
//     result. A single-use refresh token is presented upstream once while
//     its rotation is remembered (RotationGrace).
//   - The per-user index: entries are added and removed with a CAS loop, so
//     concurrent sign-ins of one user never lose an entry.
//
// pdk.KV is a Swapper (kv_cas, ABI 1.2). Without Swapper the same steps are a get-then-set: two callers may both
// win the rotation lock and both present the refresh token. The loser's
// rejection is then recognised (the winner's result is remembered for
// RotationGrace under the spent token, and the session re-read) so the
// session survives as long as the winner saves within the re-read window
// (about 200 ms); past that the session ends and the user signs in again.
// Index updates re-read after writing and retry, which narrows the lost
// entry race to writes interleaving within one round trip; a lost entry
// only means session listing misses that session until it expires.
package kvsession

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/authhost/authhost/pdk"
)

// KV is the key-value store a Store keeps its records in; pdk.KV is one.
type KV interface {
	Get(key string) ([]byte, bool, error)
	Set(key string, value []byte, ttl time.Duration) error
	Delete(key string) error
}

// Swapper is the optional atomic part of a KV, as pdk.KV offers it over
// the host's kv_cas: Create stores only when key is absent, CompareAndSwap
// only when key holds exactly expected. Both report whether they stored.
type Swapper interface {
	Create(key string, value []byte, ttl time.Duration) (bool, error)
	CompareAndSwap(key string, expected, value []byte, ttl time.Duration) (bool, []byte, error)
}

// swap sets key to value only when it holds old, old nil meaning absent.
func swap(sw Swapper, key string, old, value []byte, ttl time.Duration) (bool, error) {
	if old == nil {
		return sw.Create(key, value, ttl)
	}
	ok, _, err := sw.CompareAndSwap(key, old, value, ttl)
	return ok, err
}

// ErrRejected is what a rotation function wraps when the issuer refused the
// refresh token (as opposed to being unreachable).
var ErrRejected = errors.New("refresh token rejected")

// Defaults of a Store.
const (
	DefaultMaxPerUser    = 100
	DefaultRotationGrace = time.Minute
	// lockTTL bounds how long a crashed rotation holds the lock.
	lockTTL = 10 * time.Second
	// waits and waitStep: how long a caller that lost a rotation waits for
	// the winner's result, and a caller whose token was rejected re-reads.
	waits    = 5
	waitStep = 40 * time.Millisecond
	// casTries bounds a CAS loop on the index.
	casTries = 16
)

// Session is the head record of a session: what every request reads.
type Session[H any] struct {
	// ID is the session id (the cookie value); it is not stored in the
	// record, whose key is a hash of it.
	ID        string    `json:"-"`
	UserID    string    `json:"user_id"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Head is the provider's own per-request data (user snapshot, …).
	Head H `json:"head"`
}

// Store keeps sessions with head data H and secrets S. Its fields are
// configuration; a Store holds no state and may be built per call.
type Store[H, S any] struct {
	// Prefix starts every key the store writes.
	Prefix string
	// KV is the store; nil means pdk.KV.
	KV KV
	// MaxPerUser bounds a user's index (oldest dropped); 0 means
	// DefaultMaxPerUser.
	MaxPerUser int
	// Unindexed skips the per-user index: List and RevokeUser then find
	// nothing, and no session id (cookie value) is kept in KV at all.
	Unindexed bool
	// RotationGrace is how long a rotation is remembered under the spent
	// refresh token; 0 means DefaultRotationGrace.
	RotationGrace time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (s *Store[H, S]) kv() KV {
	if s.KV != nil {
		return s.KV
	}
	return pdk.KV
}

func (s *Store[H, S]) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func hash(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

// key keeps a session under a hash of its id, so KV keys do not reveal
// cookie values.
func (s *Store[H, S]) key(id string) string       { return s.Prefix + "session/" + hash(id) }
func (s *Store[H, S]) secretKey(id string) string { return s.key(id) + "/secret" }
func (s *Store[H, S]) userKey(uid string) string  { return s.Prefix + "user/" + hash(uid) }
func (s *Store[H, S]) lockKey(tok string) string  { return s.Prefix + "rotating/" + hash(tok) }
func (s *Store[H, S]) memoKey(tok string) string  { return s.Prefix + "rotated/" + hash(tok) }

// NewID returns a random 256-bit session id, base64url (43 characters).
func NewID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("kvsession: id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func (s *Store[H, S]) setJSON(key string, v any, expires time.Time) error {
	ttl := expires.Sub(s.now())
	if ttl <= 0 {
		return errors.New("kvsession: session already expired")
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("kvsession: encode: %w", err)
	}
	if err := s.kv().Set(key, raw, ttl); err != nil {
		return fmt.Errorf("kvsession: save: %w", err)
	}
	return nil
}

func (s *Store[H, S]) getJSON(key string, v any) (bool, error) {
	raw, ok, err := s.kv().Get(key)
	if err != nil || !ok {
		return false, err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("kvsession: decode %s: %w", key, err)
	}
	return true, nil
}

// Create starts a session of userID with a new id, expiring at expires,
// and indexes it under its user.
func (s *Store[H, S]) Create(userID string, head H, secret *S, expires time.Time) (*Session[H], error) {
	if userID == "" {
		return nil, errors.New("kvsession: create: empty user id")
	}
	id, err := NewID()
	if err != nil {
		return nil, err
	}
	sess := &Session[H]{ID: id, UserID: userID, CreatedAt: s.now().UTC(), ExpiresAt: expires.UTC(), Head: head}
	if err := s.Save(sess, secret); err != nil {
		return nil, err
	}
	if !s.Unindexed {
		if err := s.index(userID, id, sess.ExpiresAt); err != nil {
			return nil, err
		}
	}
	return sess, nil
}

// Save writes the session (and its secret when not nil): the secret first,
// then the head, so a session is never valid without its secret. Both
// expire with the session.
func (s *Store[H, S]) Save(sess *Session[H], secret *S) error {
	if secret != nil {
		if err := s.setJSON(s.secretKey(sess.ID), secret, sess.ExpiresAt); err != nil {
			return err
		}
	}
	return s.setJSON(s.key(sess.ID), sess, sess.ExpiresAt)
}

// Extend moves the session's expiry to expires, the secret's with it.
func (s *Store[H, S]) Extend(sess *Session[H], expires time.Time) error {
	sec, err := s.Secret(sess.ID)
	if err != nil {
		return err
	}
	sess.ExpiresAt = expires.UTC()
	return s.Save(sess, sec)
}

// Get returns session id, or nil when it is unknown or expired.
func (s *Store[H, S]) Get(id string) (*Session[H], error) {
	if id == "" {
		return nil, nil
	}
	var sess Session[H]
	ok, err := s.getJSON(s.key(id), &sess)
	if err != nil {
		return nil, err
	}
	if !ok || !s.now().Before(sess.ExpiresAt) {
		return nil, nil
	}
	sess.ID = id
	return &sess, nil
}

// Secret returns the secret of session id, or nil when there is none.
func (s *Store[H, S]) Secret(id string) (*S, error) {
	var sec S
	ok, err := s.getJSON(s.secretKey(id), &sec)
	if err != nil || !ok {
		return nil, err
	}
	return &sec, nil
}

// Revoke ends session id: the head goes first (it stops working at once),
// then the secret, then the index entry. It returns the secret (nil when
// none) so the caller can revoke upstream tokens. An unknown id is no
// error.
func (s *Store[H, S]) Revoke(id string) (*S, error) {
	if id == "" {
		return nil, nil
	}
	sess, _ := s.Get(id)
	sec, secErr := s.Secret(id)
	if err := s.kv().Delete(s.key(id)); err != nil {
		return nil, fmt.Errorf("kvsession: revoke: %w", err)
	}
	if err := s.kv().Delete(s.secretKey(id)); err != nil {
		pdk.Log.Warn("session secret not deleted", "error", err)
	}
	if sess != nil && !s.Unindexed {
		if err := s.index(sess.UserID, id, time.Time{}); err != nil {
			pdk.Log.Warn("session index not updated", "error", err)
		}
	}
	if secErr != nil {
		pdk.Log.Warn("session secret unreadable", "error", secErr)
	}
	return sec, nil
}

// List returns the live sessions of userID.
func (s *Store[H, S]) List(userID string) ([]*Session[H], error) {
	var ids []string
	if _, err := s.getJSON(s.userKey(userID), &ids); err != nil {
		return nil, err
	}
	out := []*Session[H]{}
	for _, id := range ids {
		sess, err := s.Get(id)
		if err != nil {
			return nil, err
		}
		if sess != nil && sess.UserID == userID {
			out = append(out, sess)
		}
	}
	return out, nil
}

// RevokeUser ends every session of userID and returns how many it ended.
func (s *Store[H, S]) RevokeUser(userID string) (int, error) {
	list, err := s.List(userID)
	if err != nil {
		return 0, err
	}
	for _, sess := range list {
		if _, err := s.Revoke(sess.ID); err != nil {
			return 0, err
		}
	}
	return len(list), nil
}

// index adds id to userID's index (until it expires at expires) or, with
// zero expires, removes it, pruning ids of sessions that are gone. The
// index expires with the last of its sessions. See the package doc for its
// atomicity.
func (s *Store[H, S]) index(userID, id string, expires time.Time) error {
	key := s.userKey(userID)
	max := s.MaxPerUser
	if max <= 0 {
		max = DefaultMaxPerUser
	}
	add := !expires.IsZero()
	sw, atomic := s.kv().(Swapper)
	for range casTries {
		old, _, err := s.kv().Get(key)
		if err != nil {
			return fmt.Errorf("kvsession: index: %w", err)
		}
		var ids []string
		if len(old) > 0 {
			if err := json.Unmarshal(old, &ids); err != nil {
				return fmt.Errorf("kvsession: index: %w", err)
			}
		}
		keep := make([]string, 0, len(ids)+1)
		last := expires
		for _, x := range ids {
			if x == id {
				continue
			}
			if sess, err := s.Get(x); err == nil && sess != nil {
				keep = append(keep, x)
				if sess.ExpiresAt.After(last) {
					last = sess.ExpiresAt
				}
			}
		}
		if add {
			keep = append(keep, id)
		}
		if len(keep) > max {
			keep = keep[len(keep)-max:]
		}
		raw, err := json.Marshal(keep)
		if err != nil {
			return fmt.Errorf("kvsession: index: %w", err)
		}
		ttl := last.Sub(s.now())
		if len(keep) == 0 || ttl <= 0 {
			ttl = time.Second // an empty index goes away
		}
		if atomic {
			ok, err := swap(sw, key, old, raw, ttl)
			if err != nil {
				return fmt.Errorf("kvsession: index: %w", err)
			}
			if ok {
				return nil
			}
			continue
		}
		if err := s.kv().Set(key, raw, ttl); err != nil {
			return fmt.Errorf("kvsession: index: %w", err)
		}
		var now []string
		if _, err := s.getJSON(key, &now); err != nil {
			return err
		}
		if slices.Contains(now, id) == add {
			return nil
		}
	}
	return errors.New("kvsession: index: too much contention")
}

// Rotation is the outcome of a rotation function: the session and secret
// to save, or nil Secret when nothing changed (the issuer was unreachable
// and the session stays as it is).
type Rotation[H, S any] struct {
	Session *Session[H]
	Secret  *S
}

// Rotate presents the session's refresh token (tokenOf of its secret) to
// the issuer through fn at most once per token across concurrent callers
// (see the package doc) and saves fn's result; the result is also
// remembered for RotationGrace under the spent token. A session without
// a refresh token is returned as it is.
//
// fn returning an error wrapping ErrRejected ends the session (nil, nil)
// unless a concurrent rotation spent the token: then the session as that
// rotation left it is returned (restored from the remembered result when a
// stale write put the spent token back). Another error of fn is returned
// as is. A caller that finds the rotation under way waits briefly for it
// and returns the session as it then is.
func (s *Store[H, S]) Rotate(ctx context.Context, sess *Session[H], tokenOf func(*S) string, fn func(context.Context, *S) (Rotation[H, S], error)) (*Session[H], error) {
	sec, err := s.Secret(sess.ID)
	if err != nil {
		return nil, err
	}
	if sec == nil || tokenOf(sec) == "" {
		return sess, nil
	}
	token := tokenOf(sec)
	won, err := s.lock(token)
	if err != nil {
		return nil, err
	}
	if !won {
		for i := range waits {
			if i > 0 {
				time.Sleep(waitStep)
			}
			if _, ok, _ := s.kv().Get(s.memoKey(token)); ok {
				break
			}
		}
		return s.Get(sess.ID)
	}
	defer func() { _ = s.kv().Delete(s.lockKey(token)) }()
	// A caller that read the secret before an earlier rotation finished
	// holds a spent token: adopt that rotation's result, never present it.
	if _, spent, _ := s.kv().Get(s.memoKey(token)); spent {
		if cur, err := s.adopt(sess, token, tokenOf); cur != nil || err != nil {
			return cur, err
		}
	}
	r, err := fn(ctx, sec)
	if errors.Is(err, ErrRejected) {
		if cur, err := s.adopt(sess, token, tokenOf); cur != nil || err != nil {
			return cur, err
		}
		pdk.Log.Info("session ended: refresh rejected", "user_id", sess.UserID, "error", err)
		_, _ = s.Revoke(sess.ID)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if r.Secret == nil {
		return sess, nil
	}
	if r.Session == nil {
		r.Session = sess
	}
	if err := s.Save(r.Session, r.Secret); err != nil {
		return nil, err
	}
	if tokenOf(r.Secret) == token {
		return r.Session, nil // the issuer kept the token: nothing was spent
	}
	grace := s.RotationGrace
	if grace <= 0 {
		grace = DefaultRotationGrace
	}
	if raw, err := json.Marshal(r); err != nil {
		pdk.Log.Warn("session rotation not remembered", "error", err)
	} else if err := s.kv().Set(s.memoKey(token), raw, grace); err != nil {
		pdk.Log.Warn("session rotation not remembered", "error", err)
	}
	return r.Session, nil
}

// adopt looks, after the issuer rejected token, for a concurrent rotation
// that spent it: the stored secret holds another token (that rotation
// saved: use the session as stored), or its result was remembered while the
// stored secret still holds the spent token (a stale write: restore the
// result). It waits briefly for the other rotation; (nil, nil) means the
// token was really rejected.
func (s *Store[H, S]) adopt(sess *Session[H], token string, tokenOf func(*S) string) (*Session[H], error) {
	for i := range waits {
		if i > 0 {
			time.Sleep(waitStep)
		}
		cur, err := s.Get(sess.ID)
		if err != nil || cur == nil {
			return nil, err // ended meanwhile
		}
		sec, err := s.Secret(sess.ID)
		if err != nil {
			return nil, err
		}
		if sec != nil && tokenOf(sec) != token {
			return cur, nil
		}
		var memo Rotation[H, S]
		ok, err := s.getJSON(s.memoKey(token), &memo)
		if err != nil {
			return nil, err
		}
		if ok && memo.Session != nil && memo.Secret != nil {
			memo.Session.ID = sess.ID // not part of the record
			if cur.ExpiresAt.After(memo.Session.ExpiresAt) {
				memo.Session.ExpiresAt = cur.ExpiresAt
			}
			if err := s.Save(memo.Session, memo.Secret); err != nil {
				return nil, err
			}
			return memo.Session, nil
		}
	}
	return nil, nil
}

// lock takes the rotation lock of token: atomically with Swapper, else
// get-then-set.
func (s *Store[H, S]) lock(token string) (bool, error) {
	key := s.lockKey(token)
	if sw, ok := s.kv().(Swapper); ok {
		won, err := sw.Create(key, []byte{1}, lockTTL)
		if err != nil {
			return false, fmt.Errorf("kvsession: rotation lock: %w", err)
		}
		return won, nil
	}
	if _, busy, err := s.kv().Get(key); err == nil && busy {
		return false, nil
	}
	if err := s.kv().Set(key, []byte{1}, lockTTL); err != nil {
		pdk.Log.Warn("session rotation lock not set", "error", err)
	}
	return true, nil
}
