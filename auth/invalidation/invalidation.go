// Package invalidation keeps the host-side caches of every process on one
// store in step. A Bus hands each invalidation (a session ended, a user's
// sessions or roles changed, everything) to the caches of this process
// (its sinks: the session caches of auth/sessioncache, a permission
// cache) and, when the store is a store.Notifier (PostgreSQL: LISTEN/
// NOTIFY), publishes it on one channel so every other process on the store
// applies it too. A logout on one replica thus takes effect on every
// replica on its next request.
//
// A session travels by the SHA-256 of its id, never the id (a bearer
// secret). A process that may have missed messages (its listening
// connection dropped) flushes every sink. A process skips its own
// messages (each carries the publisher's random origin id), but waits for
// each to come back before returning (at most echoWait): the store has
// then sent it to every listening process, so the response to a logout
// reaches the browser after the other replicas were told. An unreadable
// message flushes everything: dropping a cache is always safe.
package invalidation

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/store"
)

// Channel is the store.Notifier channel invalidations travel on.
const Channel = "authhost.invalidate"

// publishTimeout bounds one publish.
const publishTimeout = 5 * time.Second

// echoWait bounds how long a publish waits for its own message to come
// back from the store.
const echoWait = 250 * time.Millisecond

// Sink is a cache of this process that forgets on request: what it holds
// about one user, or everything.
type Sink interface {
	InvalidateUser(userID string)
	Flush()
}

// SessionSink is a Sink that also holds sessions by the SHA-256 of their
// id (auth/sessioncache does).
type SessionSink interface {
	Sink
	InvalidateHash(h [sha256.Size]byte) bool
}

// message is one invalidation on the wire: exactly one of S (a session
// hash, hex), U (a user id) or All.
type message struct {
	Origin string `json:"o"`
	Seq    uint64 `json:"n,omitempty"`
	S      string `json:"s,omitempty"`
	U      string `json:"u,omitempty"`
	All    bool   `json:"all,omitempty"`
}

// Bus delivers invalidations to this process's sinks and, through the
// store, to every other process's. Safe for concurrent use.
type Bus struct {
	sinks  func() []Sink
	pub    store.Notifier // nil: this process only
	origin string
	log    *slog.Logger
	cancel func()

	seq     atomic.Uint64
	mu      sync.Mutex
	pending map[uint64]chan struct{} // published, echo not seen yet
}

// Interface guard: role changes invalidate through a Bus.
var _ auth.SessionInvalidator = (*Bus)(nil)

// New returns a bus over the sinks that sinks returns at each
// invalidation (they change with hot reloads). When st is a
// store.Notifier the bus publishes on Channel and subscribes to it,
// waiting until the subscription is listening; Close ends it.
func New(ctx context.Context, st store.Store, sinks func() []Sink, log *slog.Logger) (*Bus, error) {
	b := &Bus{sinks: sinks, origin: rand.Text(), log: log, cancel: func() {}, pending: map[uint64]chan struct{}{}}
	n, ok := st.(store.Notifier)
	if !ok {
		return b, nil
	}
	cancel, err := n.Subscribe(ctx, Channel, b.receive)
	if err != nil {
		return nil, fmt.Errorf("invalidation: subscribe: %w", err)
	}
	b.pub, b.cancel = n, cancel
	return b, nil
}

// Close stops receiving other processes' invalidations.
func (b *Bus) Close() { b.cancel() }

// Shared reports whether invalidations reach other processes.
func (b *Bus) Shared() bool { return b.pub != nil }

// SessionHash is how a session id travels and how the sinks key it.
func SessionHash(id string) [sha256.Size]byte { return sha256.Sum256([]byte(id)) }

// InvalidateSession drops the session id from every sink, here and in the
// other processes.
func (b *Bus) InvalidateSession(ctx context.Context, id string) {
	h := SessionHash(id)
	b.dropHash(h)
	b.publish(ctx, message{S: hex.EncodeToString(h[:])})
}

// InvalidateUser drops what every sink holds about userID, here and in the
// other processes: its sessions were ended, its roles changed or it was
// deleted. An empty id names no user and does nothing.
func (b *Bus) InvalidateUser(userID string) {
	if userID == "" {
		return
	}
	for _, s := range b.sinks() {
		s.InvalidateUser(userID)
	}
	b.publish(context.Background(), message{U: userID})
}

// Flush empties every sink, here and in the other processes.
func (b *Bus) Flush(ctx context.Context) {
	b.flush()
	b.publish(ctx, message{All: true})
}

func (b *Bus) dropHash(h [sha256.Size]byte) {
	for _, s := range b.sinks() {
		if ss, ok := s.(SessionSink); ok {
			ss.InvalidateHash(h)
		}
	}
}

func (b *Bus) flush() {
	for _, s := range b.sinks() {
		s.Flush()
	}
}

// publish sends m to the other processes and waits for it to come back
// (at most echoWait). A message too long for the channel (a huge user id)
// becomes a flush of everything. A failure is logged: the other
// processes' caches then keep the entry until it expires (their cap).
func (b *Bus) publish(ctx context.Context, m message) {
	if b.pub == nil {
		return
	}
	m.Origin, m.Seq = b.origin, b.seq.Add(1)
	payload, err := json.Marshal(m)
	if err == nil && len(payload) > store.MaxPayload {
		payload, err = json.Marshal(message{Origin: b.origin, Seq: m.Seq, All: true})
	}
	if err != nil {
		b.log.Error("invalidation: encode", "error", err)
		return
	}
	echo := make(chan struct{})
	b.mu.Lock()
	b.pending[m.Seq] = echo
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.pending, m.Seq)
		b.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	if err := b.pub.Publish(ctx, Channel, string(payload)); err != nil {
		b.log.Error("invalidation: publishing to the other replicas failed; their caches keep the entry until it expires", "error", err)
		return
	}
	t := time.NewTimer(echoWait)
	defer t.Stop()
	select {
	case <-echo:
	case <-t.C:
		b.log.Debug("invalidation: own message not back yet", "wait", echoWait)
	}
}

// receive applies another process's invalidation.
func (b *Bus) receive(n store.Message) {
	if n.Resync {
		b.log.Warn("invalidation: messages from other replicas may have been lost; flushing every cache")
		b.flush()
		return
	}
	var m message
	if err := json.Unmarshal([]byte(n.Payload), &m); err != nil {
		b.log.Warn("invalidation: unreadable message; flushing every cache", "error", err)
		b.flush()
		return
	}
	if m.Origin == b.origin { // applied when published
		b.mu.Lock()
		if echo, ok := b.pending[m.Seq]; ok {
			close(echo)
			delete(b.pending, m.Seq)
		}
		b.mu.Unlock()
		return
	}
	switch {
	case m.All:
		b.flush()
	case m.U != "":
		for _, s := range b.sinks() {
			s.InvalidateUser(m.U)
		}
	default:
		var h [sha256.Size]byte
		if raw, err := hex.DecodeString(m.S); err == nil && len(raw) == len(h) {
			copy(h[:], raw)
			b.dropHash(h)
			return
		}
		b.log.Warn("invalidation: message names nothing; flushing every cache")
		b.flush()
	}
}

// WrapSession returns sp (a session provider with a cache in front, a
// SessionSink) whose session-ending calls also reach the other
// processes: a destroy, a refresh that ended or replaced the session, and
// InvalidateUser (auth.EndUserSessions calls it). The result is an
// auth.SessionLister exactly when sp is. Without other processes it
// returns sp.
func (b *Bus) WrapSession(sp auth.SessionProvider) auth.SessionProvider {
	if b.pub == nil || sp == nil {
		return sp
	}
	w := &sessions{SessionProvider: sp, bus: b}
	if l, ok := sp.(auth.SessionLister); ok {
		return &listingSessions{sessions: w, lister: l}
	}
	return w
}

// sessions publishes a session provider's session-ending calls.
type sessions struct {
	auth.SessionProvider
	bus *Bus
}

// Interface guards.
var (
	_ auth.SessionInvalidator = (*sessions)(nil)
	_ auth.SessionLister      = (*listingSessions)(nil)
)

// DestroySession destroys the session, then drops it everywhere.
func (s *sessions) DestroySession(ctx context.Context, id string) error {
	err := s.SessionProvider.DestroySession(ctx, id)
	s.bus.InvalidateSession(ctx, id)
	return err
}

// RefreshSession refreshes the session; one that is no longer valid under
// its id (ended, rotated to a new id, or the refresh failed) is dropped
// everywhere. A refresh that only extended it changes nothing the other
// processes hold: their entries expire no later than before.
func (s *sessions) RefreshSession(ctx context.Context, id string) (*auth.Session, error) {
	fresh, err := s.SessionProvider.RefreshSession(ctx, id)
	if err != nil || fresh == nil || fresh.ID != id {
		s.bus.InvalidateSession(ctx, id)
	}
	return fresh, err
}

// InvalidateUser drops the user's cached sessions everywhere.
func (s *sessions) InvalidateUser(userID string) {
	if inv, ok := s.SessionProvider.(auth.SessionInvalidator); ok {
		inv.InvalidateUser(userID)
	}
	s.bus.InvalidateUser(userID)
}

// listingSessions is sessions over a provider that can list them.
type listingSessions struct {
	*sessions
	lister auth.SessionLister
}

// ListSessions passes through.
func (l *listingSessions) ListSessions(ctx context.Context, userID string) ([]auth.Session, error) {
	return l.lister.ListSessions(ctx, userID)
}
