package engine

import (
	"bytes"
	"testing"
)

func TestKernelBlocks(t *testing.T) {
	t.Parallel()
	k := newKernel(1 << 10)
	a := k.alloc(5)
	b := k.alloc(0)
	c := k.alloc(16)
	if a == 0 || b == 0 || c == 0 || a == b || b == c {
		t.Fatalf("alloc returned %d %d %d", a, b, c)
	}
	for _, tc := range []struct {
		off, want uint64
	}{{a, 5}, {b, 0}, {c, 16}, {0, 0}, {a + 1, 0}, {1 << 40, 0}} {
		if got := k.length(tc.off); got != tc.want {
			t.Errorf("length(%d) = %d, want %d", tc.off, got, tc.want)
		}
	}
	if !k.storeU64(c, 0x0102030405060708) {
		t.Fatal("storeU64 inside a block failed")
	}
	if v, ok := k.loadU64(c); !ok || v != 0x0102030405060708 {
		t.Fatalf("loadU64 = %x, %v", v, ok)
	}
	// Out of bounds and wrap-around are refused, not panics.
	for _, off := range []uint64{0, 7, uint64(len(k.mem)) - 7, uint64(len(k.mem)), 1<<64 - 4} {
		if _, ok := k.loadU64(off); ok {
			t.Errorf("loadU64(%d) accepted outside memory (top %d)", off, len(k.mem))
		}
		if k.storeU8(off+8, 1) && off+8 >= uint64(len(k.mem)) {
			t.Errorf("storeU8(%d) accepted outside memory", off+8)
		}
	}
	// Freeing the top block rolls the top back; freeing twice is harmless.
	top := len(k.mem)
	k.release(c)
	k.release(c)
	if len(k.mem) >= top {
		t.Fatalf("freeing the top block kept the top at %d", len(k.mem))
	}
	// A freed block below the top is reused.
	k.release(a)
	if d := k.alloc(4); d != a {
		t.Fatalf("alloc after free = %d, want reuse of %d", d, a)
	}
	k.reset()
	if k.length(a) != 0 || len(k.mem) != kernelBase {
		t.Fatalf("reset kept blocks: length %d, top %d", k.length(a), len(k.mem))
	}
}

func TestKernelCap(t *testing.T) {
	t.Parallel()
	k := newKernel(256)
	if off := k.alloc(1 << 20); off != 0 {
		t.Fatalf("alloc past the cap returned %d", off)
	}
	if off := k.alloc(1<<64 - 1); off != 0 {
		t.Fatalf("alloc of 2^64-1 returned %d", off)
	}
	if _, err := k.write(make([]byte, 300)); err == nil {
		t.Fatal("write past the cap succeeded")
	}
	in := bytes.Repeat([]byte{7}, 200)
	if err := k.setInput(in); err != nil {
		t.Fatal(err)
	}
	b, err := k.bytes(k.input)
	if err != nil || !bytes.Equal(b, in) {
		t.Fatalf("input block = %v, %v", b, err)
	}
	if err := k.setInput(in); err == nil {
		t.Fatal("second 200-byte input fit in 256 bytes")
	}
}
