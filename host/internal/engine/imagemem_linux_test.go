//go:build linux

package engine

import (
	"bytes"
	"sync/atomic"
	"testing"
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
