//go:build linux

package engine

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"unsafe"
)

// TestMappedImageCopyFallback covers the path of an instance whose memory
// cannot be mapped: it gets a copy of the image read back from the memfd
// (the image is not kept in the Go heap as well), and when even that read
// fails, restore refuses the instance instead of running it on zeroes.
func TestMappedImageCopyFallback(t *testing.T) {
	t.Parallel()
	img := bytes.Repeat([]byte("snapshot"), 3*65536/8+5) // not a page multiple
	im, err := newMappedImage(img)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		im      *mappedImage
		want    []byte
		wantErr bool
	}{
		{"readable memfd", im, img, false},
		{"closed memfd", &mappedImage{fd: -1, size: len(img)}, make([]byte, len(img)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var busy atomic.Bool
			mm := tt.im.memory(&busy).(*mappedMemory)
			buf := mm.copied(0, 1<<20).Reallocate(uint64(len(img)))
			if !bytes.Equal(buf, tt.want) {
				t.Fatalf("copied memory differs from the image (%d bytes, want %d)", len(buf), len(tt.want))
			}
			if (mm.imageErr() != nil) != tt.wantErr {
				t.Fatalf("imageErr = %v, want an error: %v", mm.imageErr(), tt.wantErr)
			}
			if tt.wantErr {
				if err := (&snapPlan{}).restore(nil, &snapshot{size: len(img)}, mm); err == nil {
					t.Fatal("restore accepted an instance without its image")
				}
			}
		})
	}
}

// TestFirstInstanceSharesTheImage: the instance that initialised itself
// (its memory a private Go-heap buffer) makes the snapshot and is closed;
// the instance handed out, the first one included, maps the image
// copy-on-write.
func TestFirstInstanceSharesTheImage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := compileTest(t, stateModule(), Options{})
	for n := range 2 {
		inst, err := m.Instantiate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := inst.Call(ctx, "check", nil); err != nil {
			t.Fatalf("instance %d: state not restored: %v", n, err)
		}
		buf, ok := inst.(*wazeroInstance).mod.Memory().Read(0, 1)
		if !ok {
			t.Fatal("read memory")
		}
		if path := mappingOf(t, uintptr(unsafe.Pointer(unsafe.SliceData(buf)))); !strings.HasPrefix(path, "/memfd:authhost-snapshot") {
			t.Fatalf("instance %d: memory in %q, not the snapshot's memfd", n, path)
		}
		m.mu.Lock()
		live := len(m.live)
		m.mu.Unlock()
		if live != 1 {
			t.Fatalf("instance %d: %d live instances, want 1 (the initialising one closed)", n, live)
		}
		inst.Close(ctx)
	}
}

// mappingOf returns the path of the mapping of this process holding addr
// ("" for anonymous memory).
func mappingOf(t *testing.T, addr uintptr) string {
	t.Helper()
	raw, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		f := strings.Fields(l)
		if len(f) < 5 {
			continue
		}
		lo, hi, _ := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 == nil && err2 == nil && uint64(addr) >= start && uint64(addr) < end {
			return strings.Join(f[5:], " ")
		}
	}
	t.Fatalf("no mapping holds %#x", addr)
	return ""
}
