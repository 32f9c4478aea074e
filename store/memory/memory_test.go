package memory_test

import (
	"testing"

	"github.com/authhost/authhost/store"
	"github.com/authhost/authhost/store/memory"
	"github.com/authhost/authhost/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t,
		func(*testing.T) store.Store { return memory.New(memory.Options{}) },
		func(_ *testing.T, old store.Store) store.Store { return old.(*memory.Store).Reopen() },
	)
}
