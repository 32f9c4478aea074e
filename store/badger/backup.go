package badgerstore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"

	"github.com/dgraph-io/badger/v4"
)

// backupHeader opens every backup file, so that Restore refuses anything
// else (a truncated copy, a badger stream from another program) up front.
const backupHeader = "authhost-backup v1 badger\n"

// ErrNotEmpty is returned by Restore into a store that already holds keys.
var ErrNotEmpty = errors.New("badgerstore: restore target is not empty")

// Backup writes a consistent snapshot of every live key (values, TTLs and
// versions as badger's backup stream) to w and returns the version it
// covers. It runs beside normal traffic: writers are not blocked.
func (s *Store) Backup(ctx context.Context, w io.Writer) (uint64, error) {
	if err := s.enter(ctx); err != nil {
		return 0, err
	}
	defer s.exit()
	bw := bufio.NewWriterSize(w, 1<<20)
	if _, err := io.WriteString(bw, backupHeader); err != nil {
		return 0, fmt.Errorf("badgerstore: backup: %w", err)
	}
	stream := s.db.NewStream()
	stream.LogPrefix = "authhost.Backup"
	stream.Prefix = nil
	since, err := stream.Backup(bw, 0)
	if err != nil {
		return 0, fmt.Errorf("badgerstore: backup: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return 0, fmt.Errorf("badgerstore: backup: %w", err)
	}
	return since, nil
}

// Restore loads a stream written by Backup into this store, which must be
// empty (restoring over live data would mix two histories).
func (s *Store) Restore(ctx context.Context, r io.Reader) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.exit()
	empty := true
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: false})
		defer it.Close()
		it.Rewind()
		empty = !it.Valid()
		return nil
	})
	if err != nil {
		return fmt.Errorf("badgerstore: restore: %w", err)
	}
	if !empty {
		return ErrNotEmpty
	}
	br := bufio.NewReaderSize(r, 1<<20)
	head := make([]byte, len(backupHeader))
	if _, err := io.ReadFull(br, head); err != nil || string(head) != backupHeader {
		return errors.New("badgerstore: restore: not an authhost backup (header missing)")
	}
	if err := s.db.Load(br, 4*runtime.GOMAXPROCS(0)); err != nil {
		return fmt.Errorf("badgerstore: restore: %w", err)
	}
	return nil
}
