// Package sessioncache keeps validated sessions of a provider for as long
// as the provider vouches for them (auth.Session.CacheSeconds, capped by
// the operator), so a request carrying a provider's session costs no
// provider call while nothing changed. It wraps an auth.SessionProvider:
// every change that passes through it (destroy, refresh) and every event
// the host reports (InvalidateUser: sign-out everywhere, role changes,
// user deletes) drops the affected entries at once. A revocation made
// directly at the identity service is seen once the entry expires, within
// the cap.
package sessioncache

import (
	"container/list"
	"context"
	"crypto/sha256"
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/authhost/authhost/auth"
)

// DefaultMaxEntries bounds a cache when Options.MaxEntries is zero.
const DefaultMaxEntries = 10000

// Options tune a cache.
type Options struct {
	// Cap is the longest a session is trusted without asking the provider,
	// whatever its CacheSeconds says. Zero or less disables the cache.
	Cap time.Duration
	// MaxEntries bounds the cache (least recently used entries go first);
	// zero means DefaultMaxEntries.
	MaxEntries int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// key is the SHA-256 of a session id: the cache never holds the ids
// (bearer secrets) themselves.
type key [sha256.Size]byte

type entry struct {
	key     key
	session auth.Session
	until   time.Time
}

// Cache is an auth.SessionProvider that answers ValidateSession from
// memory while the provider's vouching lasts. Safe for concurrent use.
type Cache struct {
	inner auth.SessionProvider
	cap   time.Duration
	max   int
	now   func() time.Time

	mu     sync.Mutex
	lru    *list.List // of *entry, most recent first
	byKey  map[key]*list.Element
	byUser map[string]map[key]struct{}
	// invalid holds ids the provider recently called invalid (at most
	// max): destroying one (a logout with a stale cookie) needs no flush.
	invalid map[key]struct{}
	hits    int64
	misses  int64
	// gen counts invalidations: an answer the provider gave while one
	// happened may predate it, so it is not cached.
	gen uint64
}

// Interface guards.
var (
	_ auth.SessionProvider = (*Cache)(nil)
	_ auth.SessionLister   = (*listerCache)(nil)
)

// Wrap returns sp with a cache in front of ValidateSession, or sp itself
// when opts.Cap disables caching. The result is an auth.SessionLister
// exactly when sp is, and has InvalidateUser (auth.EndUserSessions calls
// it).
func Wrap(sp auth.SessionProvider, opts Options) auth.SessionProvider {
	if sp == nil || opts.Cap <= 0 {
		return sp
	}
	c := New(sp, opts)
	if l, ok := sp.(auth.SessionLister); ok {
		return &listerCache{Cache: c, lister: l}
	}
	return c
}

// New returns a cache over sp; see Wrap.
func New(sp auth.SessionProvider, opts Options) *Cache {
	c := &Cache{inner: sp, cap: opts.Cap, max: opts.MaxEntries, now: opts.Now,
		lru: list.New(), byKey: map[key]*list.Element{}, byUser: map[string]map[key]struct{}{}, invalid: map[key]struct{}{}}
	if c.max <= 0 {
		c.max = DefaultMaxEntries
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

func hash(id string) key { return sha256.Sum256([]byte(id)) }

// ValidateSession answers from the cache while the entry is fresh, else
// asks the provider and keeps a valid answer for min(CacheSeconds, cap),
// never past the session's expiry. Invalid sessions are not cached.
func (c *Cache) ValidateSession(ctx context.Context, id string) (*auth.Session, error) {
	k := hash(id)
	now := c.now()
	c.mu.Lock()
	if el, ok := c.byKey[k]; ok {
		e := el.Value.(*entry)
		if now.Before(e.until) {
			c.lru.MoveToFront(el)
			c.hits++
			s := e.session
			c.mu.Unlock()
			s.Metadata = maps.Clone(s.Metadata)
			return &s, nil
		}
		c.remove(el)
	}
	c.misses++
	gen := c.gen
	c.mu.Unlock()
	s, err := c.inner.ValidateSession(ctx, id)
	if err == nil && s == nil {
		c.noteInvalid(k)
	}
	if err != nil || s == nil {
		return s, err
	}
	c.keep(k, s, now, gen)
	return s, nil
}

// keep caches s, validated at now, for min(CacheSeconds, cap), never past
// its expiry, unless an invalidation happened since generation gen.
func (c *Cache) keep(k key, s *auth.Session, now time.Time, gen uint64) {
	if s.CacheSeconds <= 0 {
		return
	}
	until := now.Add(min(time.Duration(s.CacheSeconds)*time.Second, c.cap))
	if !s.ExpiresAt.IsZero() && s.ExpiresAt.Before(until) {
		until = s.ExpiresAt
	}
	if now.Before(until) {
		c.put(k, *s, until, gen)
	}
}

// Generation returns the count of invalidations so far: pass it to Prime,
// taken before the provider is asked for the session to prime.
func (c *Cache) Generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// Prime caches s, a session the provider just started and vouches for
// as session_validate would (its CacheSeconds; e.g. the session of an SSO
// callback), as if it had been validated now: the first requests that
// carry it need no provider call. Like a validation, nothing is kept
// when s is not vouched for or when an invalidation (a logout, sign-out
// everywhere, another replica's notice) happened since gen, taken with
// Generation before the provider was asked.
func (c *Cache) Prime(s *auth.Session, gen uint64) {
	if s == nil || s.ID == "" {
		return
	}
	c.keep(hash(s.ID), s, c.now(), gen)
}

// put stores s unless an invalidation happened since generation gen.
func (c *Cache) put(k key, s auth.Session, until time.Time, gen uint64) {
	s.Metadata = maps.Clone(s.Metadata)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if el, ok := c.byKey[k]; ok {
		c.remove(el)
	}
	c.byKey[k] = c.lru.PushFront(&entry{key: k, session: s, until: until})
	if c.byUser[s.UserID] == nil {
		c.byUser[s.UserID] = map[key]struct{}{}
	}
	c.byUser[s.UserID][k] = struct{}{}
	for c.lru.Len() > c.max {
		c.remove(c.lru.Back())
	}
}

// remove drops one element; c.mu is held.
func (c *Cache) remove(el *list.Element) {
	e := c.lru.Remove(el).(*entry)
	delete(c.byKey, e.key)
	if ks := c.byUser[e.session.UserID]; ks != nil {
		delete(ks, e.key)
		if len(ks) == 0 {
			delete(c.byUser, e.session.UserID)
		}
	}
}

// noteInvalid remembers that the provider called k invalid.
func (c *Cache) noteInvalid(k key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.invalid) >= c.max {
		clear(c.invalid)
	}
	c.invalid[k] = struct{}{}
}

// Invalidate drops the cached session id and reports whether it was held.
func (c *Cache) Invalidate(id string) bool { return c.InvalidateHash(hash(id)) }

// InvalidateHash drops the cached session whose id has the SHA-256 h and
// reports whether it was held: another process ended the session and
// names it by hash, never by id (auth/invalidation).
func (c *Cache) InvalidateHash(h [sha256.Size]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	el, ok := c.byKey[key(h)]
	if ok {
		c.remove(el)
	}
	return ok
}

// InvalidateUser drops every cached session of userID: its sessions were
// ended, its roles changed or it was deleted.
func (c *Cache) InvalidateUser(userID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for k := range c.byUser[userID] {
		c.remove(c.byKey[k])
	}
}

// Stats reports the hits and misses so far and the entries held.
func (c *Cache) Stats() (hits, misses int64, entries int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses, c.lru.Len()
}

// DestroySession drops the cached entry, then destroys the session. An id
// the cache neither holds nor saw the provider call invalid may name a
// cached session differently (a provider's session_list may give other ids
// than its cookies carry), so then the whole cache is dropped: a destroy
// must never leave a session valid here. (A logout with a stale cookie
// validated it first, so it does not flush.)
func (c *Cache) DestroySession(ctx context.Context, id string) error {
	if !c.Invalidate(id) && !c.knownInvalid(id) {
		c.Flush()
	}
	err := c.inner.DestroySession(ctx, id)
	c.Invalidate(id) // a validation answered during the destroy is stale
	return err
}

func (c *Cache) knownInvalid(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.invalid[hash(id)]
	return ok
}

// Flush drops every entry.
func (c *Cache) Flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.lru.Init()
	clear(c.byKey)
	clear(c.byUser)
}

// RefreshSession drops the cached entry and refreshes the session; the
// next validation asks the provider.
func (c *Cache) RefreshSession(ctx context.Context, id string) (*auth.Session, error) {
	c.Invalidate(id)
	s, err := c.inner.RefreshSession(ctx, id)
	c.Invalidate(id)
	if s != nil && s.ID != id {
		c.Invalidate(s.ID)
	}
	return s, err
}

// CreateSession passes through.
func (c *Cache) CreateSession(ctx context.Context, userID string, metadata map[string]any) (*auth.Session, error) {
	return c.inner.CreateSession(ctx, userID, metadata)
}

// SessionIDFromRequest passes through.
func (c *Cache) SessionIDFromRequest(ctx context.Context, r *http.Request) (string, error) {
	return c.inner.SessionIDFromRequest(ctx, r)
}

// SessionCookies passes through.
func (c *Cache) SessionCookies(ctx context.Context, s *auth.Session) ([]string, error) {
	return c.inner.SessionCookies(ctx, s)
}

// ClearCookies passes through.
func (c *Cache) ClearCookies(ctx context.Context) ([]string, error) {
	return c.inner.ClearCookies(ctx)
}

// listerCache is a Cache over a provider that can list sessions.
type listerCache struct {
	*Cache
	lister auth.SessionLister
}

// ListSessions passes through.
func (l *listerCache) ListSessions(ctx context.Context, userID string) ([]auth.Session, error) {
	return l.lister.ListSessions(ctx, userID)
}
