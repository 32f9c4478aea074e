// Package memory is an in-memory store.Store: a map with a sorted key index
// for ordered prefix scans, TTLs and transactions serialised by one lock.
// It keeps nothing on disk; use it for tests and single-process setups that
// may lose their state on restart.
package memory

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/authhost/authhost/store"
)

// scanBatch is how many entries a scan copies out under the lock before it
// releases the lock and calls back. Callbacks therefore never run with the
// lock held and may use the store themselves.
const scanBatch = 256

// sweepEvery is how many writes pass between two sweeps of expired keys.
const sweepEvery = 1024

// Options configures a Store.
type Options struct {
	// Now returns the current time; nil means time.Now. Tests may inject
	// a clock to expire keys without sleeping.
	Now func() time.Time
}

type entry struct {
	value     []byte
	expiresAt time.Time // zero: never
}

func (e entry) live(now time.Time) bool {
	return e.expiresAt.IsZero() || now.Before(e.expiresAt)
}

// data is the state shared by a Store and the handles Reopen returns.
type data struct {
	mu     sync.RWMutex
	m      map[string]entry
	keys   []string // sorted keys of m
	writes int
	now    func() time.Time
}

// Store is an in-memory store.Store. The zero value is not usable; call
// New. Expired keys are invisible at once and removed by a sweep that runs
// every few writes, so the store starts no goroutine.
//
// Update runs its function under the store's write lock, so transactions
// never conflict; a function passed to Update must use only its Txn, not
// the Store, or it deadlocks.
type Store struct {
	d      *data
	mu     sync.RWMutex // guards closed
	closed bool
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Counter = (*Store)(nil)
)

// New returns an empty in-memory store.
func New(opts Options) *Store {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Store{d: &data{m: map[string]entry{}, now: now}}
}

// Reopen returns a new open handle over the same data, as reopening a
// persistent store would. It works on a closed Store too.
func (s *Store) Reopen() *Store {
	return &Store{d: s.d}
}

func (s *Store) check(ctx context.Context) error {
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return nil
}

// Get implements store.Reader.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	s.d.mu.RLock()
	defer s.d.mu.RUnlock()
	return s.d.get(key)
}

// Scan implements store.Reader. A scan is not one snapshot: it reads the
// keys in batches and releases the lock between them, so it sees writes
// made meanwhile to keys it has not reached yet.
func (s *Store) Scan(ctx context.Context, prefix string, opts store.ScanOptions, fn func(key string, value []byte) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	return s.d.scan(ctx, prefix, opts, fn, func(f func()) {
		s.d.mu.RLock()
		defer s.d.mu.RUnlock()
		f()
	}, s.check)
}

// Put implements store.Writer.
func (s *Store) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	s.d.put(key, value, ttl)
	return nil
}

// Delete implements store.Writer.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	s.d.del(key)
	return nil
}

// Update implements store.Store. Writes go to the data at once and are
// undone if fn fails, so reads and scans inside fn see them.
func (s *Store) Update(ctx context.Context, fn func(tx store.Txn) error) (err error) {
	if err := s.check(ctx); err != nil {
		return err
	}
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	tx := &txn{d: s.d, ctx: ctx, undo: map[string]*entry{}}
	defer func() {
		if r := recover(); r != nil {
			tx.rollback()
			panic(r)
		}
		if err != nil {
			tx.rollback()
		}
	}()
	tx.live = true
	err = fn(tx)
	tx.live = false
	return err
}

// Incr implements store.Counter.
func (s *Store) Incr(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	now := s.d.now()
	e, ok := s.d.m[key]
	var n int64
	if ok && e.live(now) {
		var err error
		if n, err = strconv.ParseInt(string(e.value), 10, 64); err != nil {
			return 0, fmt.Errorf("memory: incr %q: not a counter: %w", key, err)
		}
	} else {
		e = entry{}
		if ttl > 0 {
			e.expiresAt = now.Add(ttl)
		}
	}
	n += delta
	s.d.put(key, []byte(strconv.FormatInt(n, 10)), 0)
	s.d.m[key] = entry{value: s.d.m[key].value, expiresAt: e.expiresAt}
	return n, nil
}

// Close implements store.Store. The data stays reachable through Reopen.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	s.closed = true
	return nil
}

// --- data, called with d.mu held as noted ---

// get needs d.mu held for reading.
func (d *data) get(key string) ([]byte, error) {
	e, ok := d.m[key]
	if !ok || !e.live(d.now()) {
		return nil, store.ErrNotFound
	}
	return slices.Clone(e.value), nil
}

// put needs d.mu held for writing.
func (d *data) put(key string, value []byte, ttl time.Duration) {
	e := entry{value: slices.Clone(value)}
	if e.value == nil {
		e.value = []byte{}
	}
	if ttl > 0 {
		e.expiresAt = d.now().Add(ttl)
	}
	if _, ok := d.m[key]; !ok {
		i, _ := slices.BinarySearch(d.keys, key)
		d.keys = slices.Insert(d.keys, i, key)
	}
	d.m[key] = e
	d.writes++
	if d.writes%sweepEvery == 0 {
		d.sweep()
	}
}

// del needs d.mu held for writing.
func (d *data) del(key string) {
	if _, ok := d.m[key]; !ok {
		return
	}
	delete(d.m, key)
	if i, found := slices.BinarySearch(d.keys, key); found {
		d.keys = slices.Delete(d.keys, i, i+1)
	}
}

// sweep removes expired keys; it needs d.mu held for writing.
func (d *data) sweep() {
	now := d.now()
	kept := d.keys[:0]
	for _, k := range d.keys {
		if d.m[k].live(now) {
			kept = append(kept, k)
		} else {
			delete(d.m, k)
		}
	}
	clear(d.keys[len(kept):])
	d.keys = kept
}

type kv struct {
	key   string
	value []byte
}

// batch collects up to n live entries of prefix that come strictly after
// from (strictly before it when reverse; "" means the start). It needs d.mu
// held for reading.
func (d *data) batch(prefix, from string, reverse, keysOnly bool, n int) []kv {
	now := d.now()
	var out []kv
	add := func(k string) bool {
		e := d.m[k]
		if !e.live(now) {
			return true
		}
		item := kv{key: k}
		if !keysOnly {
			item.value = slices.Clone(e.value)
		}
		out = append(out, item)
		return len(out) < n
	}
	if !reverse {
		start := prefix
		if from >= start {
			start = from + "\x00" // the smallest key after from
		}
		i := sort.SearchStrings(d.keys, start)
		for ; i < len(d.keys) && strings.HasPrefix(d.keys[i], prefix); i++ {
			if !add(d.keys[i]) {
				break
			}
		}
		return out
	}
	// Reverse: start below the first key past the prefix, or below from.
	end := len(d.keys)
	if succ, ok := successor(prefix); ok {
		end = sort.SearchStrings(d.keys, succ)
	}
	if from != "" {
		if j := sort.SearchStrings(d.keys, from); j < end {
			end = j
		}
	}
	for i := end - 1; i >= 0 && strings.HasPrefix(d.keys[i], prefix); i-- {
		if !add(d.keys[i]) {
			break
		}
	}
	return out
}

// scan drives batch: locked runs a function under the right lock, check
// is re-run before each batch so a closed store or cancelled context ends
// the scan.
func (d *data) scan(ctx context.Context, prefix string, opts store.ScanOptions, fn func(string, []byte) error, locked func(func()), check func(context.Context) error) error {
	from := opts.After
	seen := 0
	for {
		n := scanBatch
		if opts.Limit > 0 && opts.Limit-seen < n {
			n = opts.Limit - seen
		}
		var items []kv
		locked(func() { items = d.batch(prefix, from, opts.Reverse, opts.KeysOnly, n) })
		for _, it := range items {
			if err := fn(it.key, it.value); err != nil {
				if err == store.ErrStopScan {
					return nil
				}
				return err
			}
		}
		seen += len(items)
		if len(items) < n || (opts.Limit > 0 && seen >= opts.Limit) {
			return nil
		}
		from = items[len(items)-1].key
		if err := check(ctx); err != nil {
			return err
		}
	}
}

// successor returns the smallest string greater than every string with
// the given prefix, or false when there is none.
func successor(prefix string) (string, bool) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

// txn is a transaction of Update; it runs with d.mu held for writing and
// records the previous state of every key it changes.
type txn struct {
	d    *data
	ctx  context.Context
	undo map[string]*entry // nil value: the key did not exist
	live bool
}

var _ store.Txn = (*txn)(nil)

func (t *txn) check(ctx context.Context) error {
	if !t.live {
		return store.ErrClosed
	}
	return ctx.Err()
}

func (t *txn) remember(key string) {
	if _, ok := t.undo[key]; ok {
		return
	}
	if e, ok := t.d.m[key]; ok {
		t.undo[key] = &e
	} else {
		t.undo[key] = nil
	}
}

func (t *txn) rollback() {
	for k, e := range t.undo {
		if e == nil {
			t.d.del(k)
			continue
		}
		if _, ok := t.d.m[k]; !ok {
			i, _ := slices.BinarySearch(t.d.keys, k)
			t.d.keys = slices.Insert(t.d.keys, i, k)
		}
		t.d.m[k] = *e
	}
}

// Get implements store.Reader.
func (t *txn) Get(ctx context.Context, key string) ([]byte, error) {
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	return t.d.get(key)
}

// Scan implements store.Reader.
func (t *txn) Scan(ctx context.Context, prefix string, opts store.ScanOptions, fn func(string, []byte) error) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	return t.d.scan(ctx, prefix, opts, fn, func(f func()) { f() }, t.check)
}

// Put implements store.Writer.
func (t *txn) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	t.remember(key)
	t.d.put(key, value, ttl)
	return nil
}

// Delete implements store.Writer.
func (t *txn) Delete(ctx context.Context, key string) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	t.remember(key)
	t.d.del(key)
	return nil
}
