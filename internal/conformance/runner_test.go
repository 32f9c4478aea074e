package conformance

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/authhost/authhost/auth/authtest"
)

// TestCaseRunner checks the authtest.T of the CLI: leaves are reported
// once each, Fatalf ends only its case, a failed sub-case fails its
// parent, Skipf reports a skip, and concurrent Errorf calls are all kept.
func TestCaseRunner(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []Result
	root := newCase(context.Background(), func(r Result) {
		mu.Lock()
		got = append(got, r)
		mu.Unlock()
	}, "")
	after := false
	okParent := root.Run("parent", func(t authtest.T) {
		t.Run("pass", func(authtest.T) {})
		t.Run("fatal", func(t authtest.T) {
			t.Fatalf("stop %d", 1)
			after = true
		})
		t.Run("skip", func(t authtest.T) { t.Skipf("no peer") })
		t.Run("many", func(t authtest.T) {
			var wg sync.WaitGroup
			for i := range 20 {
				wg.Go(func() { t.Errorf("e%d", i) })
			}
			wg.Wait()
		})
	})
	if okParent {
		t.Error("parent with failed sub-cases passed")
	}
	if after {
		t.Error("Fatalf did not end its case")
	}
	byName := map[string]Result{}
	for _, r := range got {
		byName[r.Case] = r
	}
	if len(got) != 4 || len(byName) != 4 {
		t.Fatalf("reported %d results %v, want the 4 leaves once each", len(got), got)
	}
	if r := byName["parent/pass"]; !r.Pass {
		t.Errorf("pass: %+v", r)
	}
	if r := byName["parent/fatal"]; r.Pass || !slices.Equal(r.Failures, []string{"stop 1"}) {
		t.Errorf("fatal: %+v", r)
	}
	if r := byName["parent/skip"]; !r.Pass || !r.Skipped || !slices.Equal(r.Notes, []string{"no peer"}) {
		t.Errorf("skip: %+v", r)
	}
	if r := byName["parent/many"]; r.Pass || len(r.Failures) != 20 {
		t.Errorf("many: %d failures, want 20", len(r.Failures))
	}
}
