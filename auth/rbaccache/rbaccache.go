// Package rbaccache keeps an RBAC provider's answers (a plugin's
// rbac_roles and rbac_permissions) per user for a short, operator-capped
// time, so a request that needs a user's roles or permissions costs no
// provider call while nothing changed (abi/SPEC.md §5.5: the host MAY
// cache results per user for a short time).
//
// An answer is kept for the user as the host described them (the
// auth.User passed in, fingerprinted): a different snapshot of the same
// user (e.g. new roles from a revalidated session) asks the provider
// again. Role changes and user deletes that pass through the host drop the
// user's answers at once (InvalidateUser); a change made only at the
// identity service shows once the entry expires, within the cap.
package rbaccache

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/authhost/authhost/auth"
)

// DefaultMaxEntries bounds a cache when Options.MaxEntries is zero: one
// entry per user.
const DefaultMaxEntries = 10000

// Options tune a cache.
type Options struct {
	// TTL is how long an answer is reused. Zero or less disables the
	// cache.
	TTL time.Duration
	// MaxEntries bounds the cache in users (least recently used go
	// first); zero means DefaultMaxEntries.
	MaxEntries int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ByID says the provider's answers depend on the user's id alone
	// (e.g. roles looked up by id): entries are keyed by the id, and the
	// rest of the user value is neither hashed nor compared.
	ByID bool
}

// fingerprint identifies the user value a question was asked about.
type fingerprint [sha256.Size]byte

// answer is one cached answer and when it lapses.
type answer struct {
	list  []string
	until time.Time
}

// entry is what the cache holds about one user.
type entry struct {
	userID string
	fp     fingerprint
	roles  *answer
	perms  *answer
}

// Stats are a cache's counters.
type Stats struct {
	Hits, Misses int64
	Entries      int
}

// Cache is an auth.RBACProvider answering from memory while an answer is
// fresh. Safe for concurrent use.
type Cache struct {
	inner auth.RBACProvider
	ttl   time.Duration
	max   int
	now   func() time.Time
	byID  bool

	// flights makes concurrent misses of one question one provider call.
	flights singleflight.Group

	mu     sync.Mutex
	lru    *list.List // of *entry, most recent first
	byUser map[string]*list.Element
	hits   int64
	misses int64
	// gen counts invalidations: an answer asked for before one is not
	// cached, nor shared with a question asked after it.
	gen uint64
}

// Interface guard.
var _ auth.RBACProvider = (*Cache)(nil)

// Wrap returns rp with a cache in front, or rp itself when opts.TTL
// disables caching.
func Wrap(rp auth.RBACProvider, opts Options) auth.RBACProvider {
	if rp == nil || opts.TTL <= 0 {
		return rp
	}
	return New(rp, opts)
}

// New returns a cache over rp; see Wrap.
func New(rp auth.RBACProvider, opts Options) *Cache {
	c := &Cache{inner: rp, ttl: opts.TTL, max: opts.MaxEntries, now: opts.Now, byID: opts.ByID,
		lru: list.New(), byUser: map[string]*list.Element{}}
	if c.max <= 0 {
		c.max = DefaultMaxEntries
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// kind selects one of the two answers of an entry.
type kind int

const (
	kindRoles kind = iota
	kindPerms
)

func (e *entry) slot(k kind) **answer {
	if k == kindRoles {
		return &e.roles
	}
	return &e.perms
}

// Roles answers the provider's roles of u from the cache while fresh.
func (c *Cache) Roles(ctx context.Context, u auth.User) ([]string, error) {
	return c.get(ctx, kindRoles, u, c.inner.Roles)
}

// Permissions answers the provider's permissions of u from the cache
// while fresh.
func (c *Cache) Permissions(ctx context.Context, u auth.User) ([]string, error) {
	return c.get(ctx, kindPerms, u, c.inner.Permissions)
}

// RoleDefinitions passes through when the provider lists role
// definitions, else answers auth.CodeNotSupported.
func (c *Cache) RoleDefinitions(ctx context.Context) ([]auth.RoleDefinition, error) {
	d, ok := c.inner.(interface {
		RoleDefinitions(context.Context) ([]auth.RoleDefinition, error)
	})
	if !ok {
		return nil, auth.Errorf(auth.CodeNotSupported, "rbac: the provider does not list role definitions")
	}
	return d.RoleDefinitions(ctx)
}

func (c *Cache) get(ctx context.Context, k kind, u auth.User, ask func(context.Context, auth.User) ([]string, error)) ([]string, error) {
	var fp fingerprint // zero when keyed by id alone
	if !c.byID {
		var err error
		if fp, err = fingerprintOf(u); err != nil { // metadata that does not encode: never cached
			return ask(ctx, u)
		}
	}
	now := c.now()
	c.mu.Lock()
	if el, ok := c.byUser[u.ID]; ok {
		e := el.Value.(*entry)
		if a := *e.slot(k); e.fp == fp && a != nil && now.Before(a.until) {
			c.lru.MoveToFront(el)
			c.hits++
			c.mu.Unlock()
			return slices.Clone(a.list), nil
		}
	}
	c.misses++
	gen := c.gen
	c.mu.Unlock()
	// One provider call per question and generation; it runs without the
	// first caller's cancellation (the plugin call has its own deadline),
	// so one client going away does not fail the others, and every caller
	// stops waiting when its own context ends.
	key := strconv.Itoa(int(k)) + "\x00" + strconv.FormatUint(gen, 10) + "\x00" + hex.EncodeToString(fp[:]) + "\x00" + u.ID
	ch := c.flights.DoChan(key, func() (any, error) {
		list, err := ask(context.WithoutCancel(ctx), u)
		if err == nil {
			c.put(k, u.ID, fp, list, now.Add(c.ttl), gen)
		}
		return list, err
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return slices.Clone(res.Val.([]string)), nil
	case <-ctx.Done():
		return nil, &auth.Error{Code: auth.CodeUnavailable, Message: "rbac: gave up waiting for the provider", Err: ctx.Err()}
	}
}

// Generation returns the count of invalidations so far: pass it to Prime,
// taken before the provider is asked for the answers to prime.
func (c *Cache) Generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// Prime keeps roles and perms as the provider's answers about u, given
// now by the provider without being asked (e.g. with the session of an
// SSO callback), for the cache's TTL as if it had been asked: the first
// request of a new session needs no provider call for them. Nothing is
// kept when an invalidation of any user happened since gen, taken with
// Generation before the provider was asked, or when u does not encode.
func (c *Cache) Prime(u auth.User, roles, perms []string, gen uint64) {
	var fp fingerprint
	if !c.byID {
		var err error
		if fp, err = fingerprintOf(u); err != nil {
			return
		}
	}
	until := c.now().Add(c.ttl)
	c.put(kindRoles, u.ID, fp, nonNil(roles), until, gen)
	c.put(kindPerms, u.ID, fp, nonNil(perms), until, gen)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// put stores one answer unless an invalidation happened since gen.
func (c *Cache) put(k kind, userID string, fp fingerprint, list []string, until time.Time, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	el, ok := c.byUser[userID]
	if ok && el.Value.(*entry).fp != fp {
		c.remove(el) // another snapshot of the user: start over
		ok = false
	}
	if !ok {
		el = c.lru.PushFront(&entry{userID: userID, fp: fp})
		c.byUser[userID] = el
	}
	*el.Value.(*entry).slot(k) = &answer{list: slices.Clone(list), until: until}
	c.lru.MoveToFront(el)
	for c.lru.Len() > c.max {
		c.remove(c.lru.Back())
	}
}

// remove drops one element; c.mu is held.
func (c *Cache) remove(el *list.Element) {
	delete(c.byUser, c.lru.Remove(el).(*entry).userID)
}

// InvalidateUser drops the cached answers about userID: its roles changed
// or it was deleted.
func (c *Cache) InvalidateUser(userID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if el, ok := c.byUser[userID]; ok {
		c.remove(el)
	}
}

// Flush drops every entry.
func (c *Cache) Flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.lru.Init()
	clear(c.byUser)
}

// Stats reports the hits and misses so far and the users held.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{Hits: c.hits, Misses: c.misses, Entries: c.lru.Len()}
}

// fingerprintOf hashes the user value (JSON encodes map keys sorted, so
// equal users hash equal).
func fingerprintOf(u auth.User) (fingerprint, error) {
	b, err := json.Marshal(u)
	if err != nil {
		return fingerprint{}, err
	}
	return sha256.Sum256(b), nil
}
