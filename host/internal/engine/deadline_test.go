package engine

import (
	"context"
	"testing"
	"time"
)

func TestCallDeadline(t *testing.T) {
	t.Parallel()
	now := time.Now()
	early, cancel := context.WithDeadline(context.Background(), now.Add(time.Second))
	defer cancel()
	for _, tc := range []struct {
		name   string
		parent context.Context
		d      time.Time
		want   time.Time
	}{
		{"no parent deadline", context.Background(), now.Add(time.Minute), now.Add(time.Minute)},
		{"parent earlier wins", early, now.Add(time.Minute), now.Add(time.Second)},
		{"ours earlier wins", early, now.Add(time.Millisecond), now.Add(time.Millisecond)},
		{"already past", context.Background(), now.Add(-time.Second), now.Add(-time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := CallDeadline(tc.parent, tc.d)
			got, ok := ctx.Deadline()
			if !ok || !got.Equal(tc.want) {
				t.Fatalf("Deadline() = %v, %v; want %v", got, ok, tc.want)
			}
			real, cancel := realDeadline(ctx)
			defer cancel()
			if got, _ := real.Deadline(); !got.Equal(tc.want) {
				t.Fatalf("real deadline %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("real deadline fires, CallDeadline ctx does not", func(t *testing.T) {
		ctx := CallDeadline(context.Background(), time.Now().Add(10*time.Millisecond))
		real, cancel := realDeadline(ctx)
		defer cancel()
		select {
		case <-real.Done():
		case <-time.After(2 * time.Second):
			t.Fatal("the real deadline context never expired")
		}
		if ctx.Err() != nil || ctx.Done() != nil {
			t.Fatal("the CallDeadline ctx took on a Done channel of its own")
		}
	})
	t.Run("parent cancel reaches both", func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		ctx := CallDeadline(parent, time.Now().Add(time.Hour))
		real, rcancel := realDeadline(ctx)
		defer rcancel()
		cancel()
		if ctx.Err() == nil || real.Err() == nil {
			t.Fatal("canceling the parent did not reach the call ctx")
		}
	})
}
