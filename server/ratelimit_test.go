package server

import (
	"fmt"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	now := time.Unix(0, 0)
	l := newLimiter(3, time.Minute, func() time.Time { return now })
	for i := 1; i <= 3; i++ {
		if blocked, _ := l.Blocked("a"); blocked {
			t.Fatalf("blocked before failure %d", i)
		}
		if locked := l.Fail("a"); locked != (i == 3) {
			t.Fatalf("failure %d: lockedNow = %v", i, locked)
		}
	}
	if blocked, wait := l.Blocked("a"); !blocked || wait != time.Minute {
		t.Fatalf("after 3 failures: blocked=%v wait=%v", blocked, wait)
	}
	if blocked, _ := l.Blocked("b"); blocked {
		t.Fatal("keys must be independent")
	}
	now = now.Add(40 * time.Second)
	if _, wait := l.Blocked("a"); wait != 20*time.Second {
		t.Fatalf("remaining lockout = %v", wait)
	}
	now = now.Add(20 * time.Second)
	if blocked, _ := l.Blocked("a"); blocked {
		t.Fatal("lockout must end with the window")
	}
	l.Fail("c")
	l.Reset("c")
	if len(l.keys) != 0 {
		t.Fatalf("reset and expired keys must be dropped, have %v", l.keys)
	}
}

func TestLimiterMemoryIsBounded(t *testing.T) {
	t.Parallel()
	now := time.Unix(0, 0)
	l := newLimiter(3, time.Minute, func() time.Time { return now })
	for i := 0; i < maxLimiterKeys+10; i++ {
		l.Fail(fmt.Sprint("ip-", i))
	}
	if len(l.keys) > maxLimiterKeys {
		t.Fatalf("limiter grew to %d keys", len(l.keys))
	}
}
