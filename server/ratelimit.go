package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/authhost/authhost/store"
)

// CounterStore is where the sign-in and sign-up limiters count: a store
// that also counts atomically (store.Counter). Every authhost backend is
// one; replicas sharing one store share their counts, so a lockout is
// counted across all of them.
type CounterStore interface {
	store.Store
	store.Counter
}

// limiterPrefix is the store namespace of the limiters' keys.
const limiterPrefix = "server/limits/"

// limiterOpTimeout bounds a refund or commit, which run even when the
// request that reserved was cancelled.
const limiterOpTimeout = 5 * time.Second

// limiter counts attempts per key in a fixed window and refuses a key for
// the rest of the window once it has used its limit. An attempt is counted
// before it is made (Reserve) and given back when it turns out not to be a
// failure (Refund), so concurrent attempts cannot all pass a check that
// only counts afterwards: at most limit attempts per key and window are
// ever let through, by every process counting on the same store together.
//
// The counts live in the store. A key's window opens at its first attempt:
// the window's start is stored under the key's base (expiring with the
// window, written in a transaction so concurrent openers agree on one
// start), and the attempts are counted with store.Counter under a name
// that includes that start. So the time left is start+window-now, and a
// refund of an attempt reserved in an ended window decrements that
// window's counter, never the next one's. Keys are stored as an HMAC of
// the limited key (an email, an address), never in clear.
//
// Within one process the store calls of one key run one at a time (the
// key's stripe of locks): they would only conflict in a transactional
// store (badger retries an Incr that a concurrent one invalidated, and
// gives up under a burst of guesses at one account). This only orders
// calls; it never lets an attempt through.
type limiter struct {
	kind   string // names the limit in store keys
	limit  int64
	window time.Duration
	now    func() time.Time
	store  CounterStore
	mac    []byte
	log    *slog.Logger
	stripe [64]sync.Mutex
}

// newLimiter returns a limiter counting in st under kind; mac keys the
// hash of the limited keys (every process sharing st must use the same).
func newLimiter(st CounterStore, kind string, limit int, win time.Duration, now func() time.Time, mac []byte, log *slog.Logger) *limiter {
	return &limiter{kind: kind, limit: int64(limit), window: win, now: now, store: st, mac: mac, log: log}
}

// reservation is one attempt counted by Reserve, to be settled by Commit
// or Refund.
type reservation struct {
	l       *limiter
	lock    *sync.Mutex
	counter string
	start   time.Time
}

// base is the store key of key's window start; its counters are named
// after it.
func (l *limiter) base(key string) (string, *sync.Mutex) {
	m := hmac.New(sha256.New, l.mac)
	m.Write([]byte(key))
	sum := m.Sum(nil)
	return limiterPrefix + l.kind + "/" + hex.EncodeToString(sum[:16]), &l.stripe[int(sum[0])%len(l.stripe)]
}

func counterKey(base string, start time.Time) string {
	return base + "/" + strconv.FormatInt(start.UnixNano(), 10)
}

// current returns the start of the window of base open at now; with open
// it opens one when none is (ok false otherwise).
func (l *limiter) current(ctx context.Context, base string, now time.Time, open bool) (start time.Time, ok bool, err error) {
	start, ok, err = l.readStart(ctx, l.store, base, now)
	if err != nil || ok || !open {
		return start, ok, err
	}
	err = l.store.Update(ctx, func(tx store.Txn) error {
		var err error
		if start, ok, err = l.readStart(ctx, tx, base, now); err != nil || ok {
			return err
		}
		start, ok = now, true
		return tx.Put(ctx, base, []byte(strconv.FormatInt(now.UnixNano(), 10)), l.window)
	})
	if err != nil {
		// A concurrent opener may have won the transaction: take its start.
		if start, ok, rerr := l.readStart(ctx, l.store, base, now); rerr == nil && ok {
			return start, true, nil
		}
		return time.Time{}, false, fmt.Errorf("limiter %s: open window: %w", l.kind, err)
	}
	return start, true, nil
}

// readStart reads the start of base's window and whether it is still
// open at now.
func (l *limiter) readStart(ctx context.Context, r store.Reader, base string, now time.Time) (time.Time, bool, error) {
	v, err := r.Get(ctx, base)
	if errors.Is(err, store.ErrNotFound) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("limiter %s: read window: %w", l.kind, err)
	}
	ns, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("limiter %s: window start %q: %w", l.kind, v, err)
	}
	start := time.Unix(0, ns)
	// The store expires the key by its own clock; this process's clock
	// decides too, so a window never lasts longer than window here.
	if now.Sub(start) >= l.window {
		return time.Time{}, false, nil
	}
	return start, true, nil
}

// left is the time left in the window that started at start.
func (l *limiter) left(start, now time.Time) time.Duration {
	return max(l.window-now.Sub(start), 0)
}

// Reserve counts an attempt for key before it is made. When key has used
// its limit in the current window it counts nothing and returns nil with
// the time left until the window ends. A store failure is returned (the
// caller refuses the attempt: a limit that cannot count fails closed).
func (l *limiter) Reserve(ctx context.Context, key string) (*reservation, time.Duration, error) {
	base, lock := l.base(key)
	lock.Lock()
	defer lock.Unlock()
	now := l.now()
	start, _, err := l.current(ctx, base, now, true)
	if err != nil {
		return nil, 0, err
	}
	ck := counterKey(base, start)
	// The counter outlives its window (it is named after the start, so a
	// later window never reads it): a refund after a store clock ran
	// ahead of ours must still find it.
	n, err := l.store.Incr(ctx, ck, 1, 2*l.window)
	if err != nil {
		return nil, 0, fmt.Errorf("limiter %s: reserve: %w", l.kind, err)
	}
	if n > l.limit {
		l.incr(ctx, ck, -1)
		return nil, l.left(start, now), nil
	}
	return &reservation{l: l, lock: lock, counter: ck, start: start}, 0, nil
}

// Blocked reports, without counting anything, whether key has used its
// limit and, if so, for how long it stays refused.
func (l *limiter) Blocked(ctx context.Context, key string) (bool, time.Duration, error) {
	now := l.now()
	base, _ := l.base(key)
	start, ok, err := l.current(ctx, base, now, false)
	if err != nil || !ok {
		return false, 0, err
	}
	n, err := l.count(ctx, counterKey(base, start))
	if err != nil {
		return false, 0, err
	}
	if n >= l.limit {
		return true, l.left(start, now), nil
	}
	return false, 0, nil
}

// count reads a counter (zero when missing).
func (l *limiter) count(ctx context.Context, ck string) (int64, error) {
	v, err := l.store.Get(ctx, ck)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("limiter %s: read count: %w", l.kind, err)
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("limiter %s: count %q: %w", l.kind, v, err)
	}
	return n, nil
}

// incr adds delta to a counter, even when ctx was cancelled (a refund
// must not be lost with the client's connection); a failure is logged,
// and leaves the count higher, never lower, than the attempts made.
func (l *limiter) incr(ctx context.Context, ck string, delta int64) (int64, bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), limiterOpTimeout)
	defer cancel()
	n, err := l.store.Incr(ctx, ck, delta, 2*l.window)
	if err != nil {
		l.log.Warn("rate limiter: counting failed", "limit", l.kind, "error", err)
		return 0, false
	}
	return n, true
}

// Commit keeps the reserved attempt counted (it failed, or it is a kind of
// attempt that always counts). It reports whether key is now locked out,
// once per window across every process on the store, so the caller can
// report the lockout once.
func (r *reservation) Commit(ctx context.Context) (lockedNow bool) {
	l := r.l
	if l.now().Sub(r.start) >= l.window {
		return false
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), limiterOpTimeout)
	defer cancel()
	r.lock.Lock()
	defer r.lock.Unlock()
	n, err := l.count(ctx, r.counter)
	if err != nil {
		l.log.Warn("rate limiter: reading the count failed", "limit", l.kind, "error", err)
		return false
	}
	if n < l.limit {
		return false
	}
	announced, ok := l.incr(ctx, r.counter+"/locked", 1)
	return ok && announced == 1
}

// Refund gives the reserved attempt back: it was not a failure. An
// attempt reserved in a window that has since ended is given back to that
// window, not to the next one.
func (r *reservation) Refund(ctx context.Context) {
	r.lock.Lock()
	defer r.lock.Unlock()
	r.l.incr(ctx, r.counter, -1)
}

// limiterMAC derives the key that hashes limited keys from the server's
// seal key, which every replica on one store shares.
func limiterMAC(sealKey []byte) []byte {
	k := sha256.Sum256(append([]byte("authhost limiter keys v1\x00"), sealKey...))
	return k[:]
}
