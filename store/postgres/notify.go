package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authhost/authhost/store"
)

// pgChannel is the one PostgreSQL channel every store.Notifier channel is
// multiplexed on; a notification's payload is "<channel>\n<payload>".
const pgChannel = "authhost"

// notifier is the store's LISTEN side: one dedicated connection, started
// with the first subscription, that dispatches notifications to the
// subscribers of their channel and reconnects when the connection drops
// (telling every subscriber to resync, since messages may have been lost).
type notifier struct {
	s         *Store
	mu        sync.Mutex
	subs      map[string]map[int]func(store.Message)
	next      int
	started   bool
	listening *start // the listener's first LISTEN
}

// start is the outcome of a listener's first LISTEN: done is closed once
// it took effect (err nil) or failed.
type start struct {
	done chan struct{}
	err  error
}

func (n *notifier) init(s *Store) {
	n.s = s
	n.subs = map[string]map[int]func(store.Message){}
	n.listening = &start{done: make(chan struct{})}
}

func checkChannel(channel string) error {
	if channel == "" || len(channel) > 64 || strings.ContainsAny(channel, "\n\x00") {
		return fmt.Errorf("pgstore: channel %q: want 1 to 64 bytes without a newline", channel)
	}
	return nil
}

// Publish implements store.Notifier with pg_notify.
func (s *Store) Publish(ctx context.Context, channel, payload string) error {
	if err := checkChannel(channel); err != nil {
		return err
	}
	if len(payload) > store.MaxPayload || strings.ContainsRune(payload, 0) {
		return fmt.Errorf("pgstore: publish on %q: payload of %d bytes is over %d or holds a NUL", channel, len(payload), store.MaxPayload)
	}
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.exit()
	if _, err := s.pool.Exec(ctx, "SELECT pg_notify($1, $2)", pgChannel, channel+"\n"+payload); err != nil {
		return fmt.Errorf("pgstore: publish on %q: %w", channel, err)
	}
	return nil
}

// Subscribe implements store.Notifier. The first subscription opens the
// listening connection and waits for it.
func (s *Store) Subscribe(ctx context.Context, channel string, fn func(store.Message)) (func(), error) {
	if err := checkChannel(channel); err != nil {
		return nil, err
	}
	if err := s.enter(ctx); err != nil {
		return nil, err
	}
	n := &s.notify
	n.mu.Lock()
	id := n.next
	n.next++
	if n.subs[channel] == nil {
		n.subs[channel] = map[int]func(store.Message){}
	}
	n.subs[channel][id] = fn
	if !n.started {
		n.started = true
		s.wg.Go(n.loop)
	}
	ready := n.listening
	n.mu.Unlock()
	s.exit()
	cancel := func() {
		n.mu.Lock()
		delete(n.subs[channel], id)
		n.mu.Unlock()
	}
	select {
	case <-ready.done:
	case <-ctx.Done():
		cancel()
		return nil, ctx.Err()
	}
	if ready.err != nil {
		cancel()
		return nil, ready.err
	}
	return cancel, nil
}

// loop keeps a LISTEN connection until the store closes.
func (n *notifier) loop() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-n.s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	first := true
	backoff := 50 * time.Millisecond
	for {
		listened, err := n.listen(ctx, first)
		if first && !listened && ctx.Err() == nil {
			// The first LISTEN failed: fail the waiting subscriptions
			// rather than leave them hanging, and let a later one retry.
			n.mu.Lock()
			n.listening.err = fmt.Errorf("pgstore: listen: %w", err)
			close(n.listening.done)
			n.listening = &start{done: make(chan struct{})}
			n.started = false
			n.mu.Unlock()
			return
		}
		first = false
		if ctx.Err() != nil {
			return
		}
		n.s.log.Warn("pgstore: notification listener lost its connection; reconnecting", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// listen opens a connection, LISTENs and dispatches until an error; it
// reports whether the LISTEN took effect.
func (n *notifier) listen(ctx context.Context, first bool) (bool, error) {
	conn, err := pgx.ConnectConfig(ctx, n.s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return false, err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+pgChannel); err != nil {
		return false, err
	}
	if first {
		n.mu.Lock()
		close(n.listening.done)
		n.mu.Unlock()
	} else {
		n.dispatchAll(store.Message{Resync: true})
	}
	for {
		note, err := conn.WaitForNotification(ctx)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return true, ctx.Err()
			}
			return true, err
		}
		channel, payload, ok := strings.Cut(note.Payload, "\n")
		if !ok {
			continue
		}
		n.dispatch(store.Message{Channel: channel, Payload: payload})
	}
}

func (n *notifier) dispatch(m store.Message) {
	n.mu.Lock()
	fns := make([]func(store.Message), 0, len(n.subs[m.Channel]))
	for _, fn := range n.subs[m.Channel] {
		fns = append(fns, fn)
	}
	n.mu.Unlock()
	for _, fn := range fns {
		fn(m)
	}
}

func (n *notifier) dispatchAll(m store.Message) {
	n.mu.Lock()
	var fns []func(store.Message)
	var chans []string
	for ch, subs := range n.subs {
		for _, fn := range subs {
			fns = append(fns, fn)
			chans = append(chans, ch)
		}
	}
	n.mu.Unlock()
	for i, fn := range fns {
		m.Channel = chans[i]
		fn(m)
	}
}
