package engine_test

import (
	"testing"

	"github.com/authhost/authhost/host/internal/engine"
	"github.com/authhost/authhost/host/internal/engine/enginetest"
)

func TestExtismConformance(t *testing.T) {
	enginetest.Run(t, func(t testing.TB) engine.Engine {
		e, err := engine.NewExtism(engine.ExtismConfig{})
		if err != nil {
			t.Fatal(err)
		}
		return e
	})
}

func TestWazeroConformance(t *testing.T) {
	enginetest.Run(t, func(t testing.TB) engine.Engine {
		e, err := engine.NewWazero(engine.WazeroConfig{})
		if err != nil {
			t.Fatal(err)
		}
		return e
	})
}

func TestWazeroNoSnapshotsConformance(t *testing.T) {
	enginetest.Run(t, func(t testing.TB) engine.Engine {
		e, err := engine.NewWazero(engine.WazeroConfig{NoSnapshots: true})
		if err != nil {
			t.Fatal(err)
		}
		return e
	})
}

func TestWazeroCloseOnDoneConformance(t *testing.T) {
	enginetest.Run(t, func(t testing.TB) engine.Engine {
		e, err := engine.NewWazeroCloseOnDone()
		if err != nil {
			t.Fatal(err)
		}
		return e
	})
}

// TestGoGuestIsInstrumented checks that a Go guest takes the fast paths
// (loop instrumentation, not the close-on-done fallback; a snapshot, not a
// fresh initialisation per instance).
func TestGoGuestIsInstrumented(t *testing.T) {
	_, why, err := engine.InstrumentLoops(enginetest.GuestWasm(t))
	if err != nil {
		t.Fatalf("the Go test guest cannot be instrumented: %v", err)
	}
	if why != "" {
		t.Fatalf("the Go test guest cannot be snapshotted: %s", why)
	}
}
