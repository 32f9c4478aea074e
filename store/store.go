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
