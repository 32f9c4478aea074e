package audit_test

import (
	"bytes"
	"encoding/json"
	"github.com/authhost/authhost/internal/testenv/stores"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/auth/authtest"
	"github.com/authhost/authhost/auth/builtin/audit"
	"github.com/authhost/authhost/store/memory"
)

func TestStoreConformance(t *testing.T) {
	t.Parallel()
	for name, open := range stores.Backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			authtest.TestAuditStore(t, func(t *testing.T) auth.AuditStore { return audit.NewStore(open(t), audit.StoreOptions{}) })
			authtest.TestAuditLogger(t, func(t *testing.T) auth.AuditLogger { return audit.NewStore(open(t), audit.StoreOptions{}) })
		})
	}
}

func TestConsoleConformance(t *testing.T) {
	t.Parallel()
	authtest.TestAuditLogger(t, func(*testing.T) auth.AuditLogger { return audit.NewConsole(&syncBuffer{}, audit.ConsoleOptions{}) })
	authtest.TestAuditLogger(t, func(*testing.T) auth.AuditLogger {
		return audit.NewConsole(&syncBuffer{}, audit.ConsoleOptions{JSON: true})
	})
}

// syncBuffer is a bytes.Buffer safe for the logger's serialised writes
// and the test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestConsoleText(t *testing.T) {
	t.Parallel()
	ts := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		e    auth.AuditEvent
		want string
	}{
		{"success with email, resource and duration", auth.AuditEvent{Timestamp: ts, Actor: auth.AuditActor{Type: "user", ID: "u1", Email: "a@example.com"}, Action: "agents.execute", Resource: &auth.AuditResource{Type: "agent", ID: "a1"}, Outcome: "success", DurationMS: 12},
			"[audit] 2026-01-02T15:04:05Z ✓ user:a@example.com agents.execute on agent:a1 (12ms)\n"},
		{"failure falls back to id", auth.AuditEvent{Timestamp: ts, Actor: auth.AuditActor{Type: "user", ID: "u1"}, Action: "auth.sign-in", Outcome: "failure"},
			"[audit] 2026-01-02T15:04:05Z ✗ user:u1 auth.sign-in\n"},
		{"denied", auth.AuditEvent{Timestamp: ts, Actor: auth.AuditActor{Type: "apikey", ID: "k"}, Action: "audit.read", Outcome: "denied"},
			"[audit] 2026-01-02T15:04:05Z ⊘ apikey:k audit.read\n"},
		{"newlines stay on one line", auth.AuditEvent{Timestamp: ts, Actor: auth.AuditActor{Type: "user", ID: "evil\n[audit] fake"}, Action: "x", Outcome: "success"},
			"[audit] 2026-01-02T15:04:05Z ✓ user:evil\\n[audit] fake x\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf syncBuffer
			if err := audit.NewConsole(&buf, audit.ConsoleOptions{}).Log(t.Context(), tc.e); err != nil {
				t.Fatal(err)
			}
			if buf.String() != tc.want {
				t.Fatalf("got  %q\nwant %q", buf.String(), tc.want)
			}
		})
	}
}

func TestConsoleFilters(t *testing.T) {
	t.Parallel()
	events := []auth.AuditEvent{
		{Actor: auth.AuditActor{Type: "user", ID: "u"}, Action: "auth.sign-in", Outcome: "success"},
		{Actor: auth.AuditActor{Type: "user", ID: "u"}, Action: "auth.sign-in", Outcome: "failure"},
		{Actor: auth.AuditActor{Type: "user", ID: "u"}, Action: "agents.delete", Outcome: "denied"},
		{Actor: auth.AuditActor{Type: "user", ID: "u"}, Action: "authXsign-in", Outcome: "failure"},
	}
	tests := []struct {
		name string
		opts audit.ConsoleOptions
		want int
	}{
		{"none", audit.ConsoleOptions{}, 4},
		{"outcomes", audit.ConsoleOptions{Outcomes: []string{"failure", "denied"}}, 3},
		{"pattern", audit.ConsoleOptions{ActionPatterns: []string{"auth.*"}}, 2},
		{"patterns", audit.ConsoleOptions{ActionPatterns: []string{"auth.*", "*.delete"}}, 3},
		{"both", audit.ConsoleOptions{Outcomes: []string{"failure"}, ActionPatterns: []string{"auth.*"}}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf syncBuffer
			tc.opts.JSON = true
			l := audit.NewConsole(&buf, tc.opts)
			for _, e := range events {
				if err := l.Log(t.Context(), e); err != nil {
					t.Fatal(err)
				}
			}
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if buf.String() == "" {
				lines = nil
			}
			if len(lines) != tc.want {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), tc.want, buf.String())
			}
			for _, l := range lines {
				var e auth.AuditEvent
				if err := json.Unmarshal([]byte(l), &e); err != nil || e.ID == "" || e.Timestamp.IsZero() {
					t.Fatalf("line %q: %+v, %v", l, e, err)
				}
			}
		})
	}
}

func TestGuardFormula(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"": "", "=1": "'=1", "+1": "'+1", "-1": "'-1", "@a": "'@a", "\tx": "'\tx", "\rx": "'\rx",
		"a=1": "a=1", "1-2": "1-2", " =1": " =1",
	} {
		if got := audit.GuardFormula(in); got != want {
			t.Errorf("GuardFormula(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestQueryLimitsAndCursor(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := audit.NewStore(memory.New(memory.Options{}), audit.StoreOptions{})
	if _, err := s.Query(ctx, auth.AuditFilter{}, auth.AuditPage{Cursor: "djF8YXVkaXQvaWQveA"}); auth.CodeOf(err) != auth.CodeInvalidRequest { // "v1|audit/id/x"
		t.Fatalf("cursor outside the event range: %v", err)
	}
	if _, err := s.DeleteOlderThan(ctx, 0); auth.CodeOf(err) != auth.CodeInvalidRequest {
		t.Fatalf("DeleteOlderThan(0) = %v", err)
	}
	if err := s.Log(ctx, auth.AuditEvent{Outcome: "success"}); auth.CodeOf(err) != auth.CodeInvalidRequest {
		t.Fatalf("Log without action = %v", err)
	}
	if err := s.Log(ctx, auth.AuditEvent{Action: "x", Timestamp: time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC)}); auth.CodeOf(err) != auth.CodeInvalidRequest {
		t.Fatalf("Log before 1970 = %v", err)
	}
}
