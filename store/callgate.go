package store

import (
	"context"
	"sync"
)

// CallGate counts a store's calls in flight so that Close can refuse new
// calls and wait for the running ones before releasing the backend. The
// zero value is open. It is safe for concurrent use.
type CallGate struct {
	mu     sync.Mutex
	cond   *sync.Cond
	active int
	closed bool
}

// Enter registers a call; it fails with ErrClosed once Close has begun,
// and with ctx's error when ctx is done. Every nil return must be paired
// with one Exit.
func (g *CallGate) Enter(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	g.active++
	return nil
}

// Exit ends a call registered by Enter.
func (g *CallGate) Exit() {
	g.mu.Lock()
	g.active--
	if g.active == 0 && g.cond != nil {
		g.cond.Broadcast()
	}
	g.mu.Unlock()
}

// Close refuses new calls and waits for those in flight. It returns
// ErrClosed when the gate was already closed.
func (g *CallGate) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return ErrClosed
	}
	g.closed = true
	if g.cond == nil {
		g.cond = sync.NewCond(&g.mu)
	}
	for g.active > 0 {
		g.cond.Wait()
	}
	return nil
}
