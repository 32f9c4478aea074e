package app

import (
	"testing"

	"github.com/authhost/authhost/auth/invalidation"
)

type fakeCache struct {
	hits, misses int64
	entries      int
}

func (fakeCache) InvalidateUser(string)        {}
func (fakeCache) Flush()                       {}
func (f fakeCache) Stats() (int64, int64, int) { return f.hits, f.misses, f.entries }

type noStats struct{}

func (noStats) InvalidateUser(string) {}
func (noStats) Flush()                {}

// TestSessionCacheStats sums the current generation's caches; a reload
// (set) replaces them, and invalidators without counters are skipped.
func TestSessionCacheStats(t *testing.T) {
	t.Parallel()
	var set sessionCacheSet
	if h, m, n := set.stats(); h != 0 || m != 0 || n != 0 {
		t.Fatalf("empty set = %d %d %d", h, m, n)
	}
	set.set([]invalidation.Sink{fakeCache{3, 1, 2}, noStats{}, fakeCache{4, 5, 6}})
	if h, m, n := set.stats(); h != 7 || m != 6 || n != 8 {
		t.Fatalf("stats = %d %d %d, want 7 6 8", h, m, n)
	}
	set.set([]invalidation.Sink{fakeCache{1, 0, 1}})
	if h, m, n := set.stats(); h != 1 || m != 0 || n != 1 {
		t.Fatalf("after a reload stats = %d %d %d, want 1 0 1", h, m, n)
	}
}
