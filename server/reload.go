package server

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/authhost/authhost/auth"
)

// state is one generation of what requests see: the composed provider and
// the readiness that goes with it. A request takes the current state once,
// when it starts, and uses it to the end, so a hot reload never mixes two
// generations in one request; the state counts the requests holding it,
// and a superseded state runs its release (closing the plugins only it
// used) once the last of them has finished.
type state struct {
	auth  *auth.Composed
	ready Readiness

	refs    atomic.Int64
	retired atomic.Bool
	once    sync.Once
	release func()
}

// done drops one reference; the last one of a retired state releases it.
func (st *state) done() {
	if st.refs.Add(-1) == 0 && st.retired.Load() {
		st.drain()
	}
}

// retire marks st superseded and releases it at once when no request
// holds it.
func (st *state) retire(release func()) {
	st.release = release
	st.retired.Store(true)
	if st.refs.Load() == 0 {
		st.drain()
	}
}

func (st *state) drain() {
	st.once.Do(func() {
		if st.release != nil {
			st.release()
		}
	})
}

type stateKey struct{}

// acquire returns the current state with one reference taken; done drops
// it. A state superseded between the load and the reference is never
// handed out: it may already be released.
func (s *Server) acquire() *state {
	for {
		st := s.state.Load()
		st.refs.Add(1)
		if s.state.Load() == st {
			return st
		}
		st.done()
	}
}

// stateOf returns the state the request took when it started, or the
// current one outside a request.
func (s *Server) stateOf(ctx context.Context) *state {
	if st, ok := ctx.Value(stateKey{}).(*state); ok {
		return st
	}
	return s.state.Load()
}

// composed returns the composed provider of the request's generation.
func (s *Server) composed(ctx context.Context) *auth.Composed { return s.stateOf(ctx).auth }

// Swap makes a and ready what every request starting from now on sees (a
// hot reload). Requests in flight finish with the previous provider;
// release, when not nil, runs once the last of them has finished (the
// caller closes there what only the previous provider used). Rate
// limiters, lockouts, the audit flood window and every other piece of
// server state are kept.
func (s *Server) Swap(a *auth.Composed, ready Readiness, release func()) error {
	if a == nil {
		return errors.New("server: swap: composed provider is nil")
	}
	if ready == nil {
		ready = func() (bool, []string) { return true, nil }
	}
	s.swapMu.Lock()
	defer s.swapMu.Unlock()
	old := s.state.Swap(&state{auth: a, ready: ready})
	old.retire(release)
	return nil
}

// currentAudit logs to the audit logger of the current generation, so the
// audit flood policy (and its pending counts) survives reloads.
type currentAudit struct{ s *Server }

func (c currentAudit) Log(ctx context.Context, e auth.AuditEvent) error {
	st := c.s.acquire()
	defer st.done()
	if st.auth.Audit == nil {
		return nil
	}
	return st.auth.Audit.Log(ctx, e)
}

// withState runs the request with the current state taken for its whole
// length.
func (s *Server) withState(w http.ResponseWriter, r *http.Request) {
	st := s.acquire()
	defer st.done()
	s.router.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), stateKey{}, st)))
}
