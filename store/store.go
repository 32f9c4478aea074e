// Package store is authhost's key-value storage: a small interface with a
// badger implementation (persistent, the default) and an in-memory one. Every
// implementation passes the conformance suite in store/storetest.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by Get for a missing or expired key.
var ErrNotFound = errors.New("store: key not found")

// ErrConflict is returned by Update when a concurrent transaction changed
// keys it read; the caller may retry.
var ErrConflict = errors.New("store: transaction conflict")

// ErrClosed is returned by every call after Close.
var ErrClosed = errors.New("store: closed")

// ScanOptions shapes a prefix scan.
type ScanOptions struct {
	// Reverse scans from the highest key down.
	Reverse bool
	// After starts the scan strictly after this key (strictly before it
	// when Reverse). Empty starts at the beginning of the prefix.
	After string
	// Limit stops after this many entries; 0 means no limit.
	Limit int
	// KeysOnly skips reading values (fn receives a nil value).
	KeysOnly bool
}

// Reader reads keys.
type Reader interface {
	// Get returns the value of key or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Scan calls fn for every live key with prefix, in key order (or
	// reverse). Returning ErrStopScan from fn ends the scan without error.
	Scan(ctx context.Context, prefix string, opts ScanOptions, fn func(key string, value []byte) error) error
}

// Writer changes keys.
type Writer interface {
	// Put stores value under key. A ttl > 0 makes the key expire.
	Put(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// Txn is a read-write transaction.
type Txn interface {
	Reader
	Writer
}

// Store is a key-value store with TTLs, ordered prefix scans and
// serialisable read-write transactions. Implementations are safe for
// concurrent use.
type Store interface {
	Reader
	Writer
	// Update runs fn in one transaction: all of its writes apply or none
	// do. It returns ErrConflict (possibly after internal retries) when a
	// concurrent transaction invalidated what fn read.
	Update(ctx context.Context, fn func(tx Txn) error) error
	// Close flushes and releases the store.
	Close() error
}

// ErrStopScan ends a Scan early without error when returned by its callback.
var ErrStopScan = errors.New("store: stop scan")

// Counter is implemented by stores that count atomically: rate-limit and
// lockout counters shared by every process on one store use it. All of
// authhost's backends implement it.
type Counter interface {
	// Incr adds delta to the counter under key and returns its new value
	// in one atomic step. A missing (or expired) counter starts from zero;
	// ttl > 0 makes it expire ttl after that first increment, and later
	// increments keep that expiry, so it counts over a fixed window. The
	// value is stored under key as a decimal string (Get reads it, Delete
	// resets it); a key holding anything else is an error.
	Incr(ctx context.Context, key string, delta int64, ttl time.Duration) (int64, error)
}

// Notifier is implemented by stores that several processes share: a
// message published on a channel reaches the subscribers of every process
// on the same store, the publisher's own included. A channel name is
// 1 to 64 bytes without a newline. Caches of state held in
// the store (validated sessions, permissions) subscribe to drop entries
// another process changed. Delivery is at most once and only to processes
// connected at the time; a subscriber that may have missed messages (its
// connection dropped) is told so with a call of fn with Resync = true.
type Notifier interface {
	// Publish sends payload (at most MaxPayload bytes) on channel.
	Publish(ctx context.Context, channel, payload string) error
	// Subscribe calls fn for every message on channel published after
	// Subscribe returns, until the returned cancel is called. fn runs on
	// one goroutine per store and must not block for long.
	Subscribe(ctx context.Context, channel string, fn func(Message)) (cancel func(), err error)
}

// MaxPayload bounds a Notifier message (PostgreSQL's NOTIFY limit, less a
// margin for the channel name).
const MaxPayload = 7000

// Message is one notification.
type Message struct {
	// Channel is the channel the message was published on.
	Channel string
	// Payload is what the publisher sent; empty when Resync.
	Payload string
	// Resync reports that messages may have been lost: the subscriber
	// should drop everything it caches.
	Resync bool
}
