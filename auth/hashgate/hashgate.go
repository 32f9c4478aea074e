// Package hashgate bounds how many password hashes run at once, host-wide.
//
// A password hash (argon2id, bcrypt) is deliberately expensive: a flood of
// sign-ins or sign-ups that each hash would otherwise take every CPU and
// starve unrelated requests. A Gate lets a fixed number of hashes run, makes
// a few more wait briefly in a queue, and refuses the rest at once with
// ErrBusy, which callers answer as "rate limited, retry after RetryAfter".
// The server puts it around credentials provider calls, and the host around
// its password_hash and password_verify host functions; a call already
// holding a slot (a host function reached from a gated provider call, whose
// context Holding marked) takes no second one, so one sign-in uses one slot.
package hashgate

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// ErrBusy is returned by Acquire when no slot freed up within the wait or
// the queue was full.
var ErrBusy = errors.New("hashgate: too many password hashes in progress")

// DefaultSlots is the number of concurrent hashes when none is configured:
// half the CPUs Go may use, at least one, so hashing never takes them all.
func DefaultSlots() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// DefaultWait is how long a hash waits for a slot when none is configured.
const DefaultWait = time.Second

// Gate is a counting semaphore with a bounded, time-limited queue. The zero
// value is not usable; build one with New. A Gate is safe for concurrent use.
type Gate struct {
	slots chan struct{}
	queue chan struct{}
	wait  time.Duration
}

// New returns a gate letting slots hashes run at once and up to queue more
// wait at most wait for a slot. slots <= 0 takes DefaultSlots, queue < 0
// takes 4×slots, wait <= 0 takes DefaultWait.
func New(slots, queue int, wait time.Duration) *Gate {
	if slots <= 0 {
		slots = DefaultSlots()
	}
	if queue < 0 {
		queue = 4 * slots
	}
	if wait <= 0 {
		wait = DefaultWait
	}
	return &Gate{slots: make(chan struct{}, slots), queue: make(chan struct{}, queue), wait: wait}
}

// Slots is how many hashes may run at once.
func (g *Gate) Slots() int { return cap(g.slots) }

// RetryAfter is the delay to suggest to a client refused with ErrBusy.
func (g *Gate) RetryAfter() time.Duration { return time.Second }

// Acquire takes a slot, waiting in the queue for at most the gate's wait.
// On success the caller calls release when its hash is done (further
// calls do nothing). It returns ErrBusy when the queue is full or the wait ran out, and
// the context's error (wrapped) when ctx ends first.
//
// When ctx comes from Holding on this gate, the caller already holds a slot:
// Acquire returns at once with a release that does nothing.
func (g *Gate) Acquire(ctx context.Context) (release func(), err error) {
	if h, _ := ctx.Value(heldKey{}).(*Gate); h == g {
		return func() {}, nil
	}
	select {
	case g.slots <- struct{}{}:
		return g.held(), nil
	default:
	}
	select {
	case g.queue <- struct{}{}:
	default:
		return nil, ErrBusy
	}
	defer func() { <-g.queue }()
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return g.held(), nil
	case <-t.C:
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, fmt.Errorf("hashgate: waiting for a slot: %w", ctx.Err())
	}
}

// held returns the release function of a slot taken by Acquire; calling it
// more than once releases the slot once.
func (g *Gate) held() func() {
	var once sync.Once
	return func() { once.Do(func() { <-g.slots }) }
}

type heldKey struct{}

// Holding returns ctx marked as holding a slot of g, for the work done
// while the slot Acquire gave is held: an Acquire on g with that context
// (or one derived from it) takes no second slot.
func (g *Gate) Holding(ctx context.Context) context.Context {
	return context.WithValue(ctx, heldKey{}, g)
}
