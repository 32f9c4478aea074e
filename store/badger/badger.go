// Package badgerstore is the persistent store.Store, on badger v4: TTLs,
// ordered prefix scans and serialisable transactions retried on conflict.
// Options are tuned for a small server (small memtables and caches), and
// a background goroutine garbage-collects the value log until Close.
package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/authhost/authhost/store"
)

// Defaults of Options.
const (
	DefaultGCInterval = 10 * time.Minute
	DefaultMaxRetries = 32
)

// Options configures Open. The zero value is usable.
type Options struct {
	// Logger receives badger's warnings and errors; nil means slog.Default().
	// Badger's info and debug chatter is dropped.
	Logger *slog.Logger
	// InMemory keeps everything in memory (dir is ignored); for tests.
	InMemory bool
	// SyncWrites fsyncs every commit. Without it a commit survives a
	// process crash (the write-ahead log is memory-mapped) but not an OS
	// crash or power loss.
	SyncWrites bool
	// GCInterval is the period of value-log garbage collection; 0 means
	// DefaultGCInterval, negative disables it.
	GCInterval time.Duration
	// MaxRetries bounds how often Update re-runs its function after a
	// conflict before it returns store.ErrConflict; 0 means DefaultMaxRetries.
	MaxRetries int
	// MemTableSize overrides the memtable size (default 8 MiB). The
	// largest transaction is about 15% of it (1.2 MiB by default; a plugin
	// KV value is at most 256 KiB).
	MemTableSize int64
	// BlockCacheSize overrides the block cache size (default 8 MiB).
	BlockCacheSize int64
}

// Store is a store.Store on badger. It is safe for concurrent use.
type Store struct {
	db         *badger.DB
	maxRetries int

	calls store.CallGate // calls in flight; Close waits for them

	stopGC chan struct{}
	gcDone chan struct{}
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Counter = (*Store)(nil)
)

// Open opens (creating if needed) the badger database in dir.
func Open(dir string, opts Options) (*Store, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	// Sized for an auth workload: small records (sessions, users, roles,
	// audit events, plugin KV), read mostly by key; the whole working set
	// of a small deployment fits the caches. Each memtable is an arena of
	// its full size.
	memtable := opts.MemTableSize
	if memtable <= 0 {
		memtable = 8 << 20
	}
	blockCache := opts.BlockCacheSize
	if blockCache <= 0 {
		blockCache = 8 << 20
	}
	bo := badger.DefaultOptions(dir).
		WithInMemory(opts.InMemory).
		WithLogger(slogLogger{l: logger.With("component", "badger")}).
		WithLoggingLevel(badger.WARNING).
		WithSyncWrites(opts.SyncWrites).
		WithMetricsEnabled(false).
		WithMemTableSize(memtable).
		WithValueThreshold(min(1<<20, memtable/10)).
		WithNumMemtables(2).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(8).
		WithBlockCacheSize(blockCache).
		WithIndexCacheSize(4 << 20).
		WithValueLogFileSize(64 << 20).
		WithNumCompactors(2).
		WithNumGoroutines(4)
	if opts.InMemory {
		bo = bo.WithDir("").WithValueDir("")
	}
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("badgerstore: open %q: %w", dir, err)
	}
	s := &Store{db: db, maxRetries: opts.MaxRetries}
	if s.maxRetries <= 0 {
		s.maxRetries = DefaultMaxRetries
	}
	interval := opts.GCInterval
	if interval == 0 {
		interval = DefaultGCInterval
	}
	if interval > 0 && !opts.InMemory {
		s.stopGC = make(chan struct{})
		s.gcDone = make(chan struct{})
		go s.gcLoop(interval, logger)
	}
	return s, nil
}

// DB returns the underlying badger database, for backups and diagnostics.
func (s *Store) DB() *badger.DB { return s.db }

func (s *Store) gcLoop(interval time.Duration, logger *slog.Logger) {
	defer close(s.gcDone)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stopGC:
			return
		case <-t.C:
			for {
				err := s.db.RunValueLogGC(0.5)
				if err != nil {
					if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
						logger.Warn("badgerstore: value log gc", "err", err)
					}
					break
				}
				select {
				case <-s.stopGC:
					return
				default:
				}
			}
		}
	}
}

// enter registers a call in flight; it fails once Close has begun.
func (s *Store) enter(ctx context.Context) error { return s.calls.Enter(ctx) }

func (s *Store) exit() { s.calls.Exit() }

// Close implements store.Store: it waits for calls in flight, stops the
// garbage collector and closes badger.
func (s *Store) Close() error {
	if err := s.calls.Close(); err != nil {
		return err
	}
	if s.stopGC != nil {
		close(s.stopGC)
		<-s.gcDone
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("badgerstore: close: %w", err)
	}
	return nil
}

// Get implements store.Reader.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	defer s.exit()
	var v []byte
	err := s.db.View(func(t *badger.Txn) error {
		var err error
		v, err = get(t, key)
		return err
	})
	return v, err
}

// Scan implements store.Reader. The scan reads one consistent snapshot.
func (s *Store) Scan(ctx context.Context, prefix string, opts store.ScanOptions, fn func(key string, value []byte) error) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.exit()
	return s.db.View(func(t *badger.Txn) error {
		return scan(ctx, t, prefix, opts, fn)
	})
}

// Put implements store.Writer. Badger's TTLs have one-second granularity;
// expiries are rounded up, so a key lives at least ttl.
func (s *Store) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return s.Update(ctx, func(tx store.Txn) error { return tx.Put(ctx, key, value, ttl) })
}

// Delete implements store.Writer.
func (s *Store) Delete(ctx context.Context, key string) error {
	return s.Update(ctx, func(tx store.Txn) error { return tx.Delete(ctx, key) })
}

// Update implements store.Store. On a conflict fn runs again (up to
// Options.MaxRetries times, with a short random backoff), so fn must not
// have effects outside tx.
func (s *Store) Update(ctx context.Context, fn func(tx store.Txn) error) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.exit()
	for attempt := 0; ; attempt++ {
		err := s.db.Update(func(t *badger.Txn) error {
			tx := &txn{t: t, live: true}
			defer func() { tx.live = false }()
			return fn(tx)
		})
		switch {
		case err == nil:
			return nil
		case errors.Is(err, badger.ErrConflict):
			if attempt >= s.maxRetries {
				return fmt.Errorf("badgerstore: update after %d attempts: %w", attempt+1, store.ErrConflict)
			}
			backoff := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 5)))
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(backoff):
			}
		case errors.Is(err, badger.ErrTxnTooBig):
			return fmt.Errorf("badgerstore: update: %w", err)
		default:
			return err
		}
	}
}

// Incr implements store.Counter in one transaction (retried on conflict),
// keeping the counter's expiry when it rewrites the value.
func (s *Store) Incr(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error) {
	var n int64
	err := s.Update(ctx, func(tx store.Txn) error {
		t := tx.(*txn).t
		n = 0
		e := badger.NewEntry([]byte(key), nil)
		item, err := t.Get([]byte(key))
		switch {
		case errors.Is(err, badger.ErrKeyNotFound):
			if ttl > 0 {
				e.ExpiresAt = expiresAt(time.Now(), ttl)
			}
		case err != nil:
			return err
		default:
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			if n, err = strconv.ParseInt(string(v), 10, 64); err != nil {
				return fmt.Errorf("not a counter: %w", err)
			}
			e.ExpiresAt = item.ExpiresAt()
		}
		n += delta
		e.Value = []byte(strconv.FormatInt(n, 10))
		return t.SetEntry(e)
	})
	if err != nil {
		return 0, fmt.Errorf("badgerstore: incr %q: %w", key, err)
	}
	return n, nil
}

type txn struct {
	t    *badger.Txn
	live bool
}

var _ store.Txn = (*txn)(nil)

func (t *txn) check(ctx context.Context) error {
	if !t.live {
		return store.ErrClosed
	}
	return ctx.Err()
}

// Get implements store.Reader.
func (t *txn) Get(ctx context.Context, key string) ([]byte, error) {
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	return get(t.t, key)
}

// Scan implements store.Reader; it sees the transaction's own writes made
// before the scan started.
func (t *txn) Scan(ctx context.Context, prefix string, opts store.ScanOptions, fn func(string, []byte) error) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	return scan(ctx, t.t, prefix, opts, fn)
}

// Put implements store.Writer.
func (t *txn) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	if value == nil {
		value = []byte{}
	}
	e := badger.NewEntry([]byte(key), value)
	if ttl > 0 {
		e.ExpiresAt = expiresAt(time.Now(), ttl)
	}
	if err := t.t.SetEntry(e); err != nil {
		return fmt.Errorf("badgerstore: put %q: %w", key, err)
	}
	return nil
}

// Delete implements store.Writer.
func (t *txn) Delete(ctx context.Context, key string) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	if err := t.t.Delete([]byte(key)); err != nil {
		return fmt.Errorf("badgerstore: delete %q: %w", key, err)
	}
	return nil
}

// expiresAt is badger's ExpiresAt (unix seconds) for ttl from now, rounded
// up: Entry.WithTTL truncates, which would make a sub-second TTL expire at
// once.
func expiresAt(now time.Time, ttl time.Duration) uint64 {
	at := now.Add(ttl)
	secs := at.Unix()
	if at.Nanosecond() > 0 {
		secs++
	}
	return uint64(secs)
}

func get(t *badger.Txn, key string) ([]byte, error) {
	item, err := t.Get([]byte(key))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("badgerstore: get %q: %w", key, err)
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return nil, fmt.Errorf("badgerstore: get %q: %w", key, err)
	}
	return v, nil
}

func scan(ctx context.Context, t *badger.Txn, prefix string, opts store.ScanOptions, fn func(string, []byte) error) error {
	io := badger.DefaultIteratorOptions
	if !opts.Reverse {
		// Reverse scans start past the prefix (at its successor), where an
		// iterator bound to the prefix would already be invalid.
		io.Prefix = []byte(prefix)
	}
	io.Reverse = opts.Reverse
	io.PrefetchValues = !opts.KeysOnly
	if opts.Limit > 0 && opts.Limit < io.PrefetchSize {
		io.PrefetchSize = opts.Limit
	}
	it := t.NewIterator(io)
	defer it.Close()

	var seek string
	var skip string // a seek target that is itself excluded
	if !opts.Reverse {
		seek = prefix
		if opts.After >= prefix {
			seek, skip = opts.After, opts.After
		}
	} else {
		succ, ok := successor(prefix)
		if ok {
			seek, skip = succ, succ
		}
		if opts.After != "" && (!ok || opts.After < succ) {
			seek, skip = opts.After, opts.After
		}
	}
	if seek == "" {
		it.Rewind() // the first key, or the last one when reverse
	} else {
		it.Seek([]byte(seek))
	}
	n := 0
	for ; it.Valid(); it.Next() {
		item := it.Item()
		key := string(item.Key())
		if skip != "" && key == skip {
			continue
		}
		if !strings.HasPrefix(key, prefix) {
			break
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		var v []byte
		if !opts.KeysOnly {
			var err error
			if v, err = item.ValueCopy(nil); err != nil {
				return fmt.Errorf("badgerstore: scan %q: %w", key, err)
			}
		}
		if err := fn(key, v); err != nil {
			if errors.Is(err, store.ErrStopScan) {
				return nil
			}
			return err
		}
		n++
		if opts.Limit > 0 && n >= opts.Limit {
			return nil
		}
	}
	return nil
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

// slogLogger routes badger's log to slog, keeping warnings and errors.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Errorf(f string, a ...any)   { s.l.Error(trim(fmt.Sprintf(f, a...))) }
func (s slogLogger) Warningf(f string, a ...any) { s.l.Warn(trim(fmt.Sprintf(f, a...))) }
func (s slogLogger) Infof(string, ...any)        {}
func (s slogLogger) Debugf(string, ...any)       {}

func trim(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == ' ') {
		s = s[:len(s)-1]
	}
	return s
}
