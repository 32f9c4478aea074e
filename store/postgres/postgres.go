// Package pgstore is the store.Store on PostgreSQL (pgx v5), the backend
// that several authhost replicas share. Keys and values live in one table
// keyed by bytea (bytewise order, as every backend scans); expiry is
// checked against the database's clock, so replicas agree on it whatever
// their own clocks say; Update runs SERIALIZABLE transactions, retried on
// serialization failures. The schema is migrated at Open.
//
// Besides store.Store it implements store.Counter (one SQL call per
// increment) and store.Notifier (LISTEN/NOTIFY), which carry rate-limit
// counters and cache invalidations between replicas.
//
// Connection pool settings travel in the DSN (pool_max_conns,
// pool_max_conn_idle_time …, see pgxpool.ParseConfig).
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authhost/authhost/store"
)

// Defaults of Options.
const (
	DefaultMaxRetries    = 32
	DefaultSweepInterval = time.Minute
)

// scanBatch is how many rows a scan reads per query. Rows are read whole
// before the callback runs, so callbacks may use the store (or the
// transaction) themselves.
const scanBatch = 256

// sweepBatch bounds one delete of expired keys, so the sweeper never holds
// many row locks at once; rows a writer holds are skipped.
const sweepBatch = 5000

// Options configures Open. The zero value is usable.
type Options struct {
	// Logger receives the sweeper's and the listener's errors; nil means
	// slog.Default().
	Logger *slog.Logger
	// MaxRetries bounds how often Update re-runs its function after a
	// serialization failure before it returns store.ErrConflict; 0 means
	// DefaultMaxRetries.
	MaxRetries int
	// SweepInterval is the period of the deletion of expired keys (they
	// are invisible at once either way); 0 means DefaultSweepInterval,
	// negative disables it.
	SweepInterval time.Duration
}

// Store is a store.Store on PostgreSQL. It is safe for concurrent use.
type Store struct {
	pool       *pgxpool.Pool
	log        *slog.Logger
	maxRetries int

	calls store.CallGate // calls in flight; Close waits for them

	stop chan struct{} // closed by Close: background loops end
	wg   sync.WaitGroup

	notify notifier
}

var (
	_ store.Store    = (*Store)(nil)
	_ store.Counter  = (*Store)(nil)
	_ store.Notifier = (*Store)(nil)
)

// Open connects to the database at dsn (a postgres:// URL or key=value
// string), checks it is reachable and migrates its schema.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors quote the DSN, password included.
		return nil, errors.New("pgstore: cannot parse the DSN (want postgres://user:password@host:port/db?options or key=value pairs)")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: open pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: connect to %s: %w", cfg.ConnConfig.Host, err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: migrate: %w", err)
	}
	s := &Store{pool: pool, log: opts.Logger, maxRetries: opts.MaxRetries, stop: make(chan struct{})}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.maxRetries <= 0 {
		s.maxRetries = DefaultMaxRetries
	}
	s.notify.init(s)
	interval := opts.SweepInterval
	if interval == 0 {
		interval = DefaultSweepInterval
	}
	if interval > 0 {
		s.wg.Go(func() { s.sweepLoop(interval) })
	}
	return s, nil
}

// Pool returns the connection pool, for diagnostics and for packages that
// keep their own tables in the same database.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// enter registers a call in flight; it fails once Close has begun.
func (s *Store) enter(ctx context.Context) error { return s.calls.Enter(ctx) }

func (s *Store) exit() { s.calls.Exit() }

// Close implements store.Store: it waits for calls in flight, stops the
// sweeper and the listener and closes the pool.
func (s *Store) Close() error {
	if err := s.calls.Close(); err != nil {
		return err
	}
	close(s.stop)
	s.wg.Wait()
	s.pool.Close()
	return nil
}

func (s *Store) sweepLoop(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), interval)
		for {
			tag, err := s.pool.Exec(ctx, `DELETE FROM authhost_kv WHERE key IN (
				SELECT key FROM authhost_kv WHERE expires_at <= now() LIMIT $1 FOR UPDATE SKIP LOCKED)`, sweepBatch)
			if err != nil {
				s.log.Warn("pgstore: sweep expired keys", "err", err)
				break
			}
			if tag.RowsAffected() < sweepBatch {
				break
			}
		}
		cancel()
	}
}

// querier is what a pool and a transaction both run.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Get implements store.Reader.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	defer s.exit()
	return get(ctx, s.pool, key)
}

// Scan implements store.Reader. It reads in batches, each a consistent
// view of its own, so a long scan sees writes made meanwhile to keys it
// has not reached yet.
func (s *Store) Scan(ctx context.Context, prefix string, opts store.ScanOptions, fn func(key string, value []byte) error) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.exit()
	return scan(ctx, s.pool, prefix, opts, fn)
}

// Put implements store.Writer.
func (s *Store) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.exit()
	return put(ctx, s.pool, key, value, ttl)
}

// Delete implements store.Writer.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.exit()
	return del(ctx, s.pool, key)
}

// Incr implements store.Counter with one call of authhost_kv_incr.
func (s *Store) Incr(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error) {
	if err := s.enter(ctx); err != nil {
		return 0, err
	}
	defer s.exit()
	var n int64
	if err := s.pool.QueryRow(ctx, "SELECT authhost_kv_incr($1, $2, $3)", []byte(key), delta, ttl.Microseconds()).Scan(&n); err != nil {
		return 0, fmt.Errorf("pgstore: incr %q: %w", key, err)
	}
	return n, nil
}

// Update implements store.Store with a SERIALIZABLE transaction. On a
// serialization failure or deadlock fn runs again (up to
// Options.MaxRetries times, with a short random backoff), so fn must not
// have effects outside tx.
func (s *Store) Update(ctx context.Context, fn func(tx store.Txn) error) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.exit()
	for attempt := 0; ; attempt++ {
		err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.Serializable}, func(ptx pgx.Tx) error {
			tx := &txn{q: ptx, live: true}
			defer func() { tx.live = false }()
			return fn(tx)
		})
		if err == nil || !retryable(err) {
			return err
		}
		if attempt >= s.maxRetries {
			return fmt.Errorf("pgstore: update after %d attempts: %w", attempt+1, store.ErrConflict)
		}
		backoff := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 6)))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
	}
}

// retryable reports a serialization failure or a deadlock, which a
// re-run of the transaction resolves.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

type txn struct {
	q    pgx.Tx
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
	return get(ctx, t.q, key)
}

// Scan implements store.Reader; it sees the transaction's own writes.
func (t *txn) Scan(ctx context.Context, prefix string, opts store.ScanOptions, fn func(string, []byte) error) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	return scan(ctx, t.q, prefix, opts, fn)
}

// Put implements store.Writer.
func (t *txn) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	return put(ctx, t.q, key, value, ttl)
}

// Delete implements store.Writer.
func (t *txn) Delete(ctx context.Context, key string) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	return del(ctx, t.q, key)
}

const live = "(expires_at IS NULL OR expires_at > now())"

func get(ctx context.Context, q querier, key string) ([]byte, error) {
	var v []byte
	err := q.QueryRow(ctx, "SELECT value FROM authhost_kv WHERE key = $1 AND "+live, []byte(key)).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: get %q: %w", key, err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

func put(ctx context.Context, q querier, key string, value []byte, ttl time.Duration) error {
	if value == nil {
		value = []byte{}
	}
	_, err := q.Exec(ctx, `INSERT INTO authhost_kv (key, value, expires_at)
		VALUES ($1, $2, CASE WHEN $3::bigint > 0 THEN now() + $3::bigint * interval '1 microsecond' END)
		ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at`,
		[]byte(key), value, ttlMicros(ttl))
	if err != nil {
		return fmt.Errorf("pgstore: put %q: %w", key, err)
	}
	return nil
}

// ttlMicros rounds ttl up to whole microseconds, so a key lives at least
// ttl; 0 means no expiry.
func ttlMicros(ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	return int64((ttl + time.Microsecond - 1) / time.Microsecond)
}

func del(ctx context.Context, q querier, key string) error {
	if _, err := q.Exec(ctx, "DELETE FROM authhost_kv WHERE key = $1", []byte(key)); err != nil {
		return fmt.Errorf("pgstore: delete %q: %w", key, err)
	}
	return nil
}

type row struct {
	key   []byte
	value []byte
}

func scan(ctx context.Context, q querier, prefix string, opts store.ScanOptions, fn func(string, []byte) error) error {
	cols := "key, value"
	if opts.KeysOnly {
		cols = "key, NULL::bytea"
	}
	order, after := "ASC", ">"
	if opts.Reverse {
		order, after = "DESC", "<"
	}
	var where strings.Builder
	args := []any{[]byte(prefix)}
	where.WriteString("key >= $1 AND " + live)
	if succ, ok := successor(prefix); ok {
		args = append(args, []byte(succ))
		fmt.Fprintf(&where, " AND key < $%d", len(args))
	}
	from := opts.After
	seen := 0
	for {
		n := scanBatch
		if opts.Limit > 0 && opts.Limit-seen < n {
			n = opts.Limit - seen
		}
		qargs := args
		w := where.String()
		if from != "" {
			qargs = append(slices.Clone(args), []byte(from))
			w += fmt.Sprintf(" AND key %s $%d", after, len(qargs))
		}
		sql := fmt.Sprintf("SELECT %s FROM authhost_kv WHERE %s ORDER BY key %s LIMIT %d", cols, w, order, n)
		rows, err := q.Query(ctx, sql, qargs...)
		if err != nil {
			return fmt.Errorf("pgstore: scan %q: %w", prefix, err)
		}
		batch, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var it row
			err := r.Scan(&it.key, &it.value)
			return it, err
		})
		if err != nil {
			return fmt.Errorf("pgstore: scan %q: %w", prefix, err)
		}
		for _, it := range batch {
			v := it.value
			if !opts.KeysOnly && v == nil {
				v = []byte{}
			}
			if err := fn(string(it.key), v); err != nil {
				if errors.Is(err, store.ErrStopScan) {
					return nil
				}
				return err
			}
		}
		seen += len(batch)
		if len(batch) < n || (opts.Limit > 0 && seen >= opts.Limit) {
			return nil
		}
		from = string(batch[len(batch)-1].key)
		if err := ctx.Err(); err != nil {
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
