// Package logbuf is the output buffer of the test peers and servers: a
// process or logger writes to it while the test reads it, and it stops
// growing at 1 MiB (the start of a log is what explains a failure).
package logbuf

import (
	"bytes"
	"sync"
)

// limit is the most a Buffer keeps; later writes are dropped.
const limit = 1 << 20

// Buffer is a bytes.Buffer safe for concurrent writers and readers.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer; past the limit it drops p but reports it
// written, so a writer never fails.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > limit {
		return len(p), nil
	}
	return b.buf.Write(p)
}

// String returns what was kept so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
