package server

import (
	"sync"
	"time"
)

// limiter counts failures per key in a fixed window and locks a key out for
// the rest of the window once it reaches the limit. It bounds its memory by
// dropping stale keys when it grows.
type limiter struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	now    func() time.Time
	keys   map[string]*window
}

type window struct {
	start    time.Time
	failures int
}

const maxLimiterKeys = 100_000

func newLimiter(limit int, win time.Duration, now func() time.Time) *limiter {
	return &limiter{limit: limit, window: win, now: now, keys: map[string]*window{}}
}

// Blocked reports whether key is locked out and, if so, for how long.
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
	if w.failures >= l.limit {
		return true, l.window - now.Sub(w.start)
	}
	return false, 0
}

// Fail records a failure and reports whether it caused a lockout.
func (l *limiter) Fail(key string) (lockedNow bool) {
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
	w.failures++
	return w.failures == l.limit
}

// Reset forgets key (after a successful sign-in).
func (l *limiter) Reset(key string) {
	l.mu.Lock()
	delete(l.keys, key)
	l.mu.Unlock()
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
