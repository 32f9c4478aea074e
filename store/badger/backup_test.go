package badgerstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authhost/authhost/store"
)

func TestBackupRestoreRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	want := map[string]string{}
	for i := range 500 {
		k, v := fmt.Sprintf("sessions/%04d", i), strings.Repeat("v", i)
		want[k] = v
		if err := src.Put(ctx, k, []byte(v), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := src.Put(ctx, "ttl/live", []byte("x"), time.Hour); err != nil {
		t.Fatal(err)
	}
	want["ttl/live"] = "x"
	if err := src.Put(ctx, "gone", []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	if err := src.Delete(ctx, "gone"); err != nil {
		t.Fatal(err)
	}

	// Writers keep going while the backup runs: neither blocks the other.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := src.Put(ctx, fmt.Sprintf("during/%d", i), []byte("w"), 0); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var buf bytes.Buffer
	_, err = src.Backup(ctx, &buf)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}

	dst, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if err := dst.Restore(ctx, bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	if err := dst.Scan(ctx, "", store.ScanOptions{}, func(k string, v []byte) error {
		if !strings.HasPrefix(k, "during/") {
			got[k] = string(v)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("restored %d keys, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s = %d bytes, want %d", k, len(got[k]), len(v))
		}
	}

	// A second restore over live data, and garbage, are refused.
	if err := dst.Restore(ctx, bytes.NewReader(buf.Bytes())); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("restore over data: %v", err)
	}
	empty, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()
	if err := empty.Restore(ctx, strings.NewReader("PK\x03\x04 not a backup")); err == nil || !strings.Contains(err.Error(), "not an authhost backup") {
		t.Fatalf("garbage restore: %v", err)
	}
}
