package engine

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

type msgs struct {
	mu  sync.Mutex
	got []string
}

func (m *msgs) Enabled(context.Context, slog.Level) bool { return true }
func (m *msgs) Handle(_ context.Context, r slog.Record) error {
	m.mu.Lock()
	m.got = append(m.got, r.Message)
	m.mu.Unlock()
	return nil
}
func (m *msgs) WithAttrs([]slog.Attr) slog.Handler { return m }
func (m *msgs) WithGroup(string) slog.Handler      { return m }

func TestLineWriter(t *testing.T) {
	t.Parallel()
	h := &msgs{}
	w := newLineWriter(slog.New(h), "stdout", 8)
	w.Write([]byte("hello\nwor"))
	w.Write([]byte("ld\n" + strings.Repeat("x", 100) + "\npartial"))
	w.Flush()
	want := []string{"hello", "world", "xxxxxxxx…(truncated)", "partial"}
	if strings.Join(h.got, "|") != strings.Join(want, "|") {
		t.Fatalf("lines = %q, want %q", h.got, want)
	}
	h.got = nil
	for range maxLinesPerWindow + 10 {
		w.Write([]byte("l\n"))
	}
	if n := len(h.got); n != maxLinesPerWindow-4+1 { // 4 lines used above, plus one warning
		t.Fatalf("logged %d lines, want the budget to cap them", n)
	}
}
