package badgerstore_test

import (
	"log/slog"
	"sync"
	"testing"

	"github.com/authhost/authhost/store"
	badgerstore "github.com/authhost/authhost/store/badger"
	"github.com/authhost/authhost/store/storetest"
)

func open(t *testing.T, dir string) *badgerstore.Store {
	t.Helper()
	s, err := badgerstore.Open(dir, badgerstore.Options{
		Logger:       slog.New(slog.DiscardHandler),
		MemTableSize: 4 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	var dirs sync.Map // store.Store → its directory
	storetest.Run(t,
		func(t *testing.T) store.Store {
			dir := t.TempDir()
			s := open(t, dir)
			dirs.Store(s, dir)
			return s
		},
		func(t *testing.T, old store.Store) store.Store {
			dir, _ := dirs.Load(old)
			return open(t, dir.(string))
		},
	)
}

func TestConformanceInMemory(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := badgerstore.Open("", badgerstore.Options{InMemory: true, Logger: slog.New(slog.DiscardHandler), MemTableSize: 4 << 20})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, nil)
}
