package engine

import (
	"context"
	"encoding/binary"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"unicode/utf16"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// oneMemory instantiates a module that only exports two pages of memory.
func oneMemory(t *testing.T) api.Memory {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	t.Cleanup(func() { rt.Close(ctx) })
	wasm := []byte("\x00asm\x01\x00\x00\x00" +
		"\x05\x03\x01\x00\x02" + // memory section: one memory, min 2 pages
		"\x07\x0a\x01\x06memory\x02\x00") // export "memory"
	mod, err := rt.Instantiate(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	return mod.Memory()
}

// putASString writes s as an AssemblyScript string at ptr (length at ptr-4).
func putASString(mem api.Memory, ptr uint32, s string) {
	u := utf16.Encode([]rune(s))
	mem.WriteUint32Le(ptr-4, uint32(2*len(u)))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	mem.Write(ptr, b)
}

func TestASString(t *testing.T) {
	mem := oneMemory(t)
	for _, s := range []string{"", "plain", "Carol é 😀", "\x00\n\x1b[31m", "\u0435nv ｅｖｅ 127.0.0.1 null"} {
		putASString(mem, 64, s)
		if got := asString(mem, 64); got != s {
			t.Errorf("asString(%q) = %q", s, got)
		}
	}
	mem.WriteUint32Le(2*65536-100, 0xffffffff) // a length past memory
	mem.WriteUint32Le(200, 3)                  // an odd byte length
	mem.Write(204, []byte{'a', 0, 'b'})
	for _, tc := range []struct {
		ptr  uint32
		want string
	}{
		{0, "null"},
		{2, "<bad string pointer>"},
		{2*65536 + 8, "<bad string pointer>"},
		{204, "a"},
	} {
		if got := asString(mem, tc.ptr); got != tc.want {
			t.Errorf("asString(%d) = %q, want %q", tc.ptr, got, tc.want)
		}
	}
	if got := asString(mem, 2*65536-96); got != "<bad string pointer>" {
		t.Errorf("a length past memory read %d bytes", len(got))
	}
	mem.WriteUint32Le(300, 1<<20) // longer than maxASString, inside memory: capped
	if got := asString(mem, 304); got == "<bad string pointer>" || len(got) > maxASString {
		t.Errorf("a long string read as %d bytes, want at most %d", len(got), maxASString)
	}
	if got := asString(nil, 64); got != "<bad string pointer>" {
		t.Errorf("asString without memory = %q", got)
	}
}

// countHandler counts records.
type countHandler struct{ lines, warns atomic.Int64 }

func (h *countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level == slog.LevelWarn && strings.HasPrefix(r.Message, "guest log limit") {
		h.warns.Add(1)
	} else {
		h.lines.Add(1)
	}
	return nil
}
func (h *countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countHandler) WithGroup(string) slog.Handler      { return h }

// TestGuestLogBudgetConcurrent: many writers share one instance's budget
// and together log exactly maxLinesPerWindow lines and one warning.
func TestGuestLogBudgetConcurrent(t *testing.T) {
	h := &countHandler{}
	g := newGuestLog(slog.New(h), 16)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 500 {
				g.log(slog.LevelInfo, strings.Repeat("x", 100))
			}
		}()
	}
	wg.Wait()
	if n := h.lines.Load(); n != maxLinesPerWindow {
		t.Errorf("%d lines logged from 4000, want the budget %d", n, maxLinesPerWindow)
	}
	if n := h.warns.Load(); n != 1 {
		t.Errorf("%d limit warnings, want 1", n)
	}
	if g.dropped != 4000-maxLinesPerWindow {
		t.Errorf("dropped %d, want %d", g.dropped, 4000-maxLinesPerWindow)
	}
	var nilLog *guestLog
	nilLog.log(slog.LevelError, "discarded") // must not panic
}
