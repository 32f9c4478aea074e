package logbuf

import (
	"strings"
	"sync"
	"testing"
)

// TestBufferBounded: concurrent writers lose nothing below the limit, and
// past it writes are dropped yet reported written (a process's output
// copier must never fail).
func TestBufferBounded(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				b.Write([]byte("x"))
			}
		}()
	}
	wg.Wait()
	if got := len(b.String()); got != 400 {
		t.Fatalf("kept %d bytes, want 400", got)
	}
	big := []byte(strings.Repeat("y", limit))
	if n, err := b.Write(big); n != len(big) || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if n, err := b.Write([]byte("dropped")); n != 7 || err != nil || strings.Contains(b.String(), "dropped") {
		t.Fatalf("write past the limit = %d, %v; kept it: %v", n, err, strings.Contains(b.String(), "dropped"))
	}
}
