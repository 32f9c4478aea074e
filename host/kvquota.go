package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/store"
)

// Default KV quota of a plugin (Limits.MaxKVBytes, Limits.MaxKVKeys).
const (
	defaultMaxKVBytes = 16 << 20
	defaultMaxKVKeys  = 10_000
)

// kvSweepInterval is the least time between two sweeps of a plugin's
// expired keys; a sweep runs only when a write would exceed the quota.
const kvSweepInterval = 5 * time.Second

// kvSweepBatch bounds the keys one sweep transaction removes.
const kvSweepBatch = 256

// errQuotaExceeded marks a kv_set refused by the plugin's KV quota.
var errQuotaExceeded = errors.New("quota exceeded")

// KVUsage is what a plugin's KV holds against its quota. Keys whose TTL
// has passed count until they are overwritten, deleted or swept (which
// happens when a write would otherwise exceed the quota).
type KVUsage struct {
	Bytes    int64 `json:"bytes"` // key plus value bytes
	Keys     int64 `json:"keys"`
	MaxBytes int64 `json:"maxBytes"`
	MaxKeys  int64 `json:"maxKeys"`
}

// kvCounter is the usage record kept in the store beside a plugin's KV.
type kvCounter struct {
	Bytes int64 `json:"bytes"`
	Keys  int64 `json:"keys"`
}

// kvMeta records what one key counts for. It has no TTL, so the size of a
// key the store has expired is still known when it is overwritten or swept.
type kvMeta struct {
	Size int64 `json:"s"`
	// Exp is the key's expiry in Unix nanoseconds; 0 for none, -1 when
	// unknown (a key written before accounting existed).
	Exp int64 `json:"e,omitempty"`
}

// kvLock serialises the KV writes of one plugin name within this process,
// across reloads, so its accounting transactions do not conflict with
// each other (conflicts with other processes sharing the store are
// retried by the store's Update).
type kvLock struct {
	mu        sync.Mutex
	lastSweep time.Time
}

// kvSpace is one plugin's KV: its keys under "plugin/<name>/kv/", one
// kvMeta per key under "plugin/<name>/kvmeta/" and the kvCounter at
// "plugin/<name>/kvusage". A write updates all three in one transaction,
// so the counter is exact under concurrent writes, overwrites and deletes,
// survives restarts, and a write past the quota is refused.
type kvSpace struct {
	st         store.Store
	prefix     string
	metaPrefix string
	usageKey   string
	maxBytes   int64
	maxKeys    int64
	lock       *kvLock
	now        func() time.Time
}

func newKVSpace(name string, l Limits, st store.Store, lock *kvLock, now func() time.Time) *kvSpace {
	return &kvSpace{
		st:         st,
		prefix:     "plugin/" + name + "/kv/",
		metaPrefix: "plugin/" + name + "/kvmeta/",
		usageKey:   "plugin/" + name + "/kvusage",
		maxBytes:   l.MaxKVBytes,
		maxKeys:    int64(l.MaxKVKeys),
		lock:       lock,
		now:        now,
	}
}

// get returns the value of key or store.ErrNotFound.
func (s *kvSpace) get(ctx context.Context, key string) ([]byte, error) {
	return s.st.Get(ctx, s.prefix+key)
}

// put stores key, or fails with errQuotaExceeded when it would take the
// plugin past its quota (expired keys are swept once before giving up).
func (s *kvSpace) put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	s.lock.mu.Lock()
	defer s.lock.mu.Unlock()
	err := s.tryPut(ctx, key, value, ttl)
	if errors.Is(err, errQuotaExceeded) && s.now().Sub(s.lock.lastSweep) >= kvSweepInterval {
		s.lock.lastSweep = s.now()
		if serr := s.sweep(ctx); serr != nil {
			return serr
		}
		err = s.tryPut(ctx, key, value, ttl)
	}
	return err
}

// casCond is the condition of a compare-and-set: the key must be absent
// (expected nil) or hold exactly expected.
type casCond struct{ expected []byte }

// cas writes value under key if cond holds, in the transaction that checks
// it and updates the accounting, so it is atomic against every other
// write to the store and counts against the quota like put.
func (s *kvSpace) cas(ctx context.Context, key string, cond casCond, value []byte, ttl time.Duration) (abi.KVCASResult, error) {
	s.lock.mu.Lock()
	defer s.lock.mu.Unlock()
	res, err := s.tryCAS(ctx, key, cond, value, ttl)
	if errors.Is(err, errQuotaExceeded) && s.now().Sub(s.lock.lastSweep) >= kvSweepInterval {
		s.lock.lastSweep = s.now()
		if serr := s.sweep(ctx); serr != nil {
			return res, serr
		}
		res, err = s.tryCAS(ctx, key, cond, value, ttl)
	}
	return res, err
}

func (s *kvSpace) tryCAS(ctx context.Context, key string, cond casCond, value []byte, ttl time.Duration) (abi.KVCASResult, error) {
	var res abi.KVCASResult
	err := s.st.Update(ctx, func(tx store.Txn) error {
		res = abi.KVCASResult{}
		cur, err := tx.Get(ctx, s.prefix+key)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		default:
			res.Found = true
		}
		if res.Found == (cond.expected == nil) || res.Found && !bytes.Equal(cur, cond.expected) {
			if res.Found {
				res.Current = bytes.Clone(cur)
			}
			return nil
		}
		res.Swapped = true
		return s.putTx(ctx, tx, key, value, ttl)
	})
	if err != nil {
		return abi.KVCASResult{}, err
	}
	return res, nil
}

func (s *kvSpace) tryPut(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return s.st.Update(ctx, func(tx store.Txn) error { return s.putTx(ctx, tx, key, value, ttl) })
}

// putTx writes key within tx with its accounting, or fails with
// errQuotaExceeded.
func (s *kvSpace) putTx(ctx context.Context, tx store.Txn, key string, value []byte, ttl time.Duration) error {
	u, err := s.counter(ctx, tx)
	if err != nil {
		return err
	}
	old, had, err := s.meta(ctx, tx, key)
	if err != nil {
		return err
	}
	next := u
	if had {
		next.Bytes -= old.Size
		next.Keys--
	}
	size := int64(len(key) + len(value))
	next.Bytes += size
	next.Keys++
	// A write that does not grow the usage is allowed even over a
	// quota the operator has since lowered.
	if next.Bytes > s.maxBytes && next.Bytes > u.Bytes || next.Keys > s.maxKeys && next.Keys > u.Keys {
		return fmt.Errorf("%w: %d bytes in %d keys, limit %d bytes in %d keys", errQuotaExceeded, next.Bytes, next.Keys, s.maxBytes, s.maxKeys)
	}
	m := kvMeta{Size: size}
	if ttl > 0 {
		m.Exp = s.now().Add(ttl).UnixNano()
	}
	if err := tx.Put(ctx, s.prefix+key, value, ttl); err != nil {
		return err
	}
	if err := putJSON(ctx, tx, s.metaPrefix+key, m); err != nil {
		return err
	}
	return putJSON(ctx, tx, s.usageKey, next)
}

// delete removes key and its accounting.
func (s *kvSpace) delete(ctx context.Context, key string) error {
	s.lock.mu.Lock()
	defer s.lock.mu.Unlock()
	return s.st.Update(ctx, func(tx store.Txn) error {
		old, had, err := s.meta(ctx, tx, key)
		if err != nil {
			return err
		}
		if had {
			u, err := s.counter(ctx, tx)
			if err != nil {
				return err
			}
			u.Bytes -= old.Size
			u.Keys--
			if err := tx.Delete(ctx, s.metaPrefix+key); err != nil {
				return err
			}
			if err := putJSON(ctx, tx, s.usageKey, u); err != nil {
				return err
			}
		}
		return tx.Delete(ctx, s.prefix+key)
	})
}

// KVUsage reports the KV usage and quota of provider name.
func (m *Manager) KVUsage(ctx context.Context, name string) (KVUsage, error) {
	if m.cfg.Store == nil {
		return KVUsage{}, errors.New("host: kv usage: no store configured")
	}
	m.mu.RLock() // SetPluginConfigs may replace the configs
	limits := m.cfg.pluginConfig(name).Limits
	m.mu.RUnlock()
	return newKVSpace(name, limits, m.cfg.Store, nil, m.now).usage(ctx)
}

// usage returns the plugin's usage without writing anything.
func (s *kvSpace) usage(ctx context.Context) (KVUsage, error) {
	u, _, err := s.readCounter(ctx, s.st)
	if err != nil {
		return KVUsage{}, fmt.Errorf("host: kv usage: %w", err)
	}
	return KVUsage{Bytes: u.Bytes, Keys: u.Keys, MaxBytes: s.maxBytes, MaxKeys: s.maxKeys}, nil
}

// counter reads the usage record within tx. Where there is none yet (a
// new plugin, or keys written before accounting existed) it computes it
// and stores it with a kvMeta for every key lacking one.
func (s *kvSpace) counter(ctx context.Context, tx store.Txn) (kvCounter, error) {
	u, missing, err := s.readCounter(ctx, tx)
	if err != nil || missing == nil {
		return u, err
	}
	for _, e := range *missing {
		if err := putJSON(ctx, tx, s.metaPrefix+e.key, e.meta); err != nil {
			return u, err
		}
	}
	return u, putJSON(ctx, tx, s.usageKey, u)
}

// readCounter returns the usage record, or when there is none, the usage
// computed from the kvMeta records and the keys, with the metas to create
// for keys that have none (missing is nil when the record exists).
func (s *kvSpace) readCounter(ctx context.Context, r store.Reader) (u kvCounter, missing *[]kvMetaEntry, err error) {
	raw, err := r.Get(ctx, s.usageKey)
	if err == nil {
		if err := json.Unmarshal(raw, &u); err != nil {
			return u, nil, fmt.Errorf("kv usage record: %w", err)
		}
		return u, nil, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return u, nil, err
	}
	metas := map[string]bool{}
	err = r.Scan(ctx, s.metaPrefix, store.ScanOptions{}, func(k string, v []byte) error {
		var m kvMeta
		if err := json.Unmarshal(v, &m); err != nil {
			return fmt.Errorf("kv meta %q: %w", k, err)
		}
		metas[strings.TrimPrefix(k, s.metaPrefix)] = true
		u.Bytes += m.Size
		u.Keys++
		return nil
	})
	if err != nil {
		return u, nil, err
	}
	add := []kvMetaEntry{}
	err = r.Scan(ctx, s.prefix, store.ScanOptions{}, func(k string, v []byte) error {
		key := strings.TrimPrefix(k, s.prefix)
		if !metas[key] {
			m := kvMeta{Size: int64(len(key) + len(v)), Exp: -1}
			add = append(add, kvMetaEntry{key, m})
			u.Bytes += m.Size
			u.Keys++
		}
		return nil
	})
	return u, &add, err
}

type kvMetaEntry struct {
	key  string
	meta kvMeta
}

func (s *kvSpace) meta(ctx context.Context, tx store.Txn, key string) (kvMeta, bool, error) {
	var m kvMeta
	raw, err := tx.Get(ctx, s.metaPrefix+key)
	if errors.Is(err, store.ErrNotFound) {
		return m, false, nil
	}
	if err != nil {
		return m, false, err
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return m, false, fmt.Errorf("kv meta %q: %w", key, err)
	}
	return m, true, nil
}

// sweep releases the accounting of keys the store has expired. Candidates
// are keys whose recorded expiry has passed (or is unknown); each is
// released only if the store no longer has it, checked in the same
// transaction that releases it.
func (s *kvSpace) sweep(ctx context.Context) error {
	now := s.now().UnixNano()
	var cands []string
	err := s.st.Scan(ctx, s.metaPrefix, store.ScanOptions{}, func(k string, v []byte) error {
		var m kvMeta
		if json.Unmarshal(v, &m) == nil && (m.Exp < 0 || m.Exp > 0 && m.Exp <= now) {
			cands = append(cands, strings.TrimPrefix(k, s.metaPrefix))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("kv sweep: %w", err)
	}
	for len(cands) > 0 {
		batch := cands[:min(len(cands), kvSweepBatch)]
		cands = cands[len(batch):]
		err := s.st.Update(ctx, func(tx store.Txn) error {
			u, err := s.counter(ctx, tx)
			if err != nil {
				return err
			}
			for _, key := range batch {
				m, had, err := s.meta(ctx, tx, key)
				if err != nil {
					return err
				}
				if !had {
					continue // deleted meanwhile
				}
				if _, err := tx.Get(ctx, s.prefix+key); !errors.Is(err, store.ErrNotFound) {
					if err != nil {
						return err
					}
					continue // still live
				}
				if err := tx.Delete(ctx, s.metaPrefix+key); err != nil {
					return err
				}
				u.Bytes -= m.Size
				u.Keys--
			}
			return putJSON(ctx, tx, s.usageKey, u)
		})
		if err != nil {
			return fmt.Errorf("kv sweep: %w", err)
		}
	}
	return nil
}

func putJSON(ctx context.Context, tx store.Txn, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Put(ctx, key, raw, 0)
}
