package server

import (
	"sync"
	"time"
)

// limiter counts attempts per key in a fixed window and refuses a key for
// the rest of the window once it has used its limit. An attempt is counted
// before it is made (Reserve) and given back when it turns out not to be a
// failure (Refund), so concurrent attempts cannot all pass a check that
// only counts afterwards: at most limit attempts per key and window are
// ever let through. It bounds its memory by dropping stale keys when it
// grows.
type limiter struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	now    func() time.Time
	keys   map[string]*window
}

type window struct {
	start time.Time
	// used counts attempts reserved and not refunded: failures and
	// attempts still in flight.
	used int
	// announced is set once a lockout of this window was reported.
	announced bool
}

const maxLimiterKeys = 100_000

func newLimiter(limit int, win time.Duration, now func() time.Time) *limiter {
	return &limiter{limit: limit, window: win, now: now, keys: map[string]*window{}}
}

// reservation is one attempt counted by Reserve, to be settled by Commit
// or Refund.
type reservation struct {
	l   *limiter
	key string
	w   *window
}

// Reserve counts an attempt for key before it is made. When key has used
// its limit in the current window it counts nothing and returns nil with
// the time left until the window ends.
func (l *limiter) Reserve(key string) (*reservation, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	w, ok := l.keys[key]
	if !ok || now.Sub(w.start) >= l.window {
		if len(l.keys) >= maxLimiterKeys {
			l.sweep(now)
		}
		w = &window{start: now}
		l.keys[key] = w
	}
	if w.used >= l.limit {
		return nil, l.window - now.Sub(w.start)
	}
	w.used++
	return &reservation{l: l, key: key, w: w}, 0
}

// Blocked reports, without counting anything, whether key has used its
// limit and, if so, for how long it stays refused.
func (l *limiter) Blocked(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.keys[key]
	if !ok {
		return false, 0
	}
	now := l.now()
	if now.Sub(w.start) >= l.window {
		delete(l.keys, key)
		return false, 0
	}
	if w.used >= l.limit {
		return true, l.window - now.Sub(w.start)
	}
	return false, 0
}

// Commit keeps the reserved attempt counted (it failed, or it is a kind of
// attempt that always counts). It reports whether key is now locked out,
// once per window, so the caller can report the lockout once.
func (r *reservation) Commit() (lockedNow bool) {
	r.l.mu.Lock()
	defer r.l.mu.Unlock()
	if r.w.used >= r.l.limit && !r.w.announced && r.l.keys[r.key] == r.w {
		r.w.announced = true
		return true
	}
	return false
}

// Refund gives the reserved attempt back: it was not a failure. An
// attempt reserved in a window that has since ended is not given to the
// next one.
func (r *reservation) Refund() {
	r.l.mu.Lock()
	defer r.l.mu.Unlock()
	if r.l.keys[r.key] != r.w || r.w.used == 0 {
		return
	}
	if r.w.used--; r.w.used == 0 {
		delete(r.l.keys, r.key) // nothing left to remember
	}
}

func (l *limiter) sweep(now time.Time) {
	for k, w := range l.keys {
		if now.Sub(w.start) >= l.window {
			delete(l.keys, k)
		}
	}
	if len(l.keys) >= maxLimiterKeys { // under attack with fresh keys: start over rather than grow
		l.keys = map[string]*window{}
	}
}
