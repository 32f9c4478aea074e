package pgstore_test

import (
	"strings"
	"testing"
	"time"

	pgtest "github.com/authhost/authhost/internal/testenv/postgres"
	"github.com/authhost/authhost/store"
)

// TestNotify publishes on one store and receives on another over the same
// database, as one replica tells the others to drop a cached session.
func TestNotify(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	a, b := open(t, dsn), open(t, dsn)
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
	ctx := t.Context()

	got := make(chan store.Message, 10)
	cancel, err := b.Subscribe(ctx, "sessions", func(m store.Message) { got <- m })
	if err != nil {
		t.Fatal(err)
	}
	other := make(chan store.Message, 10)
	if _, err := b.Subscribe(ctx, "roles", func(m store.Message) { other <- m }); err != nil {
		t.Fatal(err)
	}
	payloads := []string{"sess-1", "", "with\nnewline", "ünïcødé ‮", strings.Repeat("x", store.MaxPayload)}
	for _, p := range payloads {
		if err := a.Publish(ctx, "sessions", p); err != nil {
			t.Fatalf("Publish(%.20q): %v", p, err)
		}
	}
	for _, want := range payloads {
		select {
		case m := <-got:
			if m.Channel != "sessions" || m.Payload != want || m.Resync {
				t.Fatalf("got %+.40v, want payload %.20q on sessions", m, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no notification for %.20q", want)
		}
	}
	select {
	case m := <-other:
		t.Fatalf("subscriber of roles got %+v", m)
	default:
	}

	// After cancel nothing more arrives.
	cancel()
	if err := a.Publish(ctx, "sessions", "late"); err != nil {
		t.Fatal(err)
	}
	if err := a.Publish(ctx, "roles", "marker"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-other: // delivered in order, so "late" was processed before
	case <-time.After(10 * time.Second):
		t.Fatal("no marker")
	}
	select {
	case m := <-got:
		t.Fatalf("cancelled subscriber got %+v", m)
	default:
	}
}

func TestNotifyRejects(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.NewDatabase(t))
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	tests := []struct{ channel, payload string }{
		{"", "x"},
		{"a\nb", "x"},
		{strings.Repeat("c", 65), "x"},
		{"ok", strings.Repeat("x", store.MaxPayload+1)},
		{"ok", "nul\x00byte"},
	}
	for _, tc := range tests {
		if err := s.Publish(ctx, tc.channel, tc.payload); err == nil {
			t.Errorf("Publish(%.20q, %.20q) succeeded", tc.channel, tc.payload)
		}
	}
	if _, err := s.Subscribe(ctx, "a\nb", func(store.Message) {}); err == nil {
		t.Error("Subscribe on a channel with a newline succeeded")
	}
}

// TestNotifyResync kills the listener's connection: the subscriber is
// told to resync and receives messages again after the reconnect.
func TestNotifyResync(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.NewDatabase(t))
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	got := make(chan store.Message, 10)
	if _, err := s.Subscribe(ctx, "c", func(m store.Message) { got <- m }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool().Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN authhost' AND datname = current_database()"); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if !m.Resync || m.Channel != "c" {
			t.Fatalf("after the listener's connection died: %+v, want a resync on c", m)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no resync after the listener's connection died")
	}
	if err := s.Publish(ctx, "c", "again"); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if m.Payload != "again" {
			t.Fatalf("got %+v", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery after the reconnect")
	}
}

// BenchmarkNotifyLatency measures one cross-store round trip: publish on
// one store, delivery to a subscriber of another store on the database.
func BenchmarkNotifyLatency(b *testing.B) {
	dsn := pgtest.NewDatabase(b)
	pub, sub := open(b, dsn), open(b, dsn)
	b.Cleanup(func() { _ = pub.Close(); _ = sub.Close() })
	got := make(chan struct{}, 1)
	if _, err := sub.Subscribe(b.Context(), "bench", func(store.Message) { got <- struct{}{} }); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := pub.Publish(b.Context(), "bench", "x"); err != nil {
			b.Fatal(err)
		}
		<-got
	}
}

// BenchmarkGetRoundTrip is BenchmarkNotifyLatency's baseline: one Get, the
// cheapest query round trip to the same database.
func BenchmarkGetRoundTrip(b *testing.B) {
	s := open(b, pgtest.NewDatabase(b))
	b.Cleanup(func() { _ = s.Close() })
	if err := s.Put(b.Context(), "k", []byte("v"), 0); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Get(b.Context(), "k"); err != nil {
			b.Fatal(err)
		}
	}
}
