package engine

import (
	"encoding/binary"
	"fmt"
)

// kernel is the Extism runtime kernel implemented natively in Go: the
// memory a guest reaches through extism:host/env (alloc, free, length,
// load_*, store_*), the call's input, output and error, and the plugin
// variables. go-sdk runs the same logic as a second Wasm module and
// reaches it through an export lookup per access; here each access is a
// bounds-checked slice operation.
//
// Offsets are the Extism handles: 0 is "none", blocks start at
// kernelBase. A kernel belongs to one instance and is used by one
// goroutine at a time.
type kernel struct {
	mem   []byte            // len(mem) is the top of the bump allocator
	limit int               // cap on len(mem), the instance's memory cap
	live  map[uint64]uint64 // block offset -> length of allocated blocks
	free  []block           // freed blocks below the top, reused first-fit

	input, inputLen   uint64
	output, outputLen uint64
	errOff            uint64
}

type block struct{ off, n uint64 }

// kernelBase is the first block offset; offset 0 stays invalid.
const kernelBase = 8

func newKernel(limit int) *kernel {
	return &kernel{mem: make([]byte, kernelBase, 4096), limit: limit, live: make(map[uint64]uint64)}
}

// reset frees every block and clears the input, output and error; it runs
// before each call and keeps the backing array.
func (k *kernel) reset() {
	k.mem = k.mem[:kernelBase]
	clear(k.live)
	k.free = k.free[:0]
	k.input, k.inputLen, k.output, k.outputLen, k.errOff = 0, 0, 0, 0, 0
}

// alloc returns the offset of a new block of n bytes, or 0 when the
// memory cap does not allow it (as the Extism kernel does).
func (k *kernel) alloc(n uint64) uint64 {
	if n > uint64(k.limit) {
		return 0
	}
	for i, b := range k.free {
		if b.n >= n && b.n <= 2*n+64 {
			k.free[i] = k.free[len(k.free)-1]
			k.free = k.free[:len(k.free)-1]
			k.live[b.off] = n
			return b.off
		}
	}
	size := (n + 7) &^ 7 // keep blocks 8-byte aligned
	if size == 0 {
		size = 8
	}
	off := uint64(len(k.mem))
	end := off + size
	if end > uint64(k.limit) || end < off {
		return 0
	}
	if end > uint64(cap(k.mem)) {
		grown := make([]byte, end, max(end, min(2*uint64(cap(k.mem)), uint64(k.limit))))
		copy(grown, k.mem)
		k.mem = grown
	} else {
		k.mem = k.mem[:end]
		clear(k.mem[off:end])
	}
	k.live[off] = n
	return off
}

// release frees a block; unknown offsets and double frees are ignored.
func (k *kernel) release(off uint64) {
	n, ok := k.live[off]
	if !ok {
		return
	}
	delete(k.live, off)
	size := max((n+7)&^7, 8)
	if off+size == uint64(len(k.mem)) {
		k.mem = k.mem[:off]
		return
	}
	k.free = append(k.free, block{off, max(n, size)})
}

// length returns the length of the block at off, 0 if off is not a block.
func (k *kernel) length(off uint64) uint64 { return k.live[off] }

// span returns the n bytes at off, or false when they are not all inside
// the allocated region.
func (k *kernel) span(off, n uint64) ([]byte, bool) {
	end := off + n
	if off < kernelBase || end < off || end > uint64(len(k.mem)) {
		return nil, false
	}
	return k.mem[off:end:end], true
}

// bytes returns the content of the block at off.
func (k *kernel) bytes(off uint64) ([]byte, error) {
	n, ok := k.live[off]
	if !ok {
		return nil, fmt.Errorf("no memory block at offset %d", off)
	}
	b, _ := k.span(off, n)
	return b, nil
}

// write copies data into a new block and returns its offset.
func (k *kernel) write(data []byte) (uint64, error) {
	off := k.alloc(uint64(len(data)))
	if off == 0 {
		return 0, fmt.Errorf("kernel memory cap of %d bytes reached", k.limit)
	}
	copy(k.mem[off:], data)
	return off, nil
}

func (k *kernel) loadU64(off uint64) (uint64, bool) {
	b, ok := k.span(off, 8)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b), true
}

func (k *kernel) storeU64(off, v uint64) bool {
	b, ok := k.span(off, 8)
	if ok {
		binary.LittleEndian.PutUint64(b, v)
	}
	return ok
}

func (k *kernel) loadU8(off uint64) (byte, bool) {
	b, ok := k.span(off, 1)
	if !ok {
		return 0, false
	}
	return b[0], true
}

func (k *kernel) storeU8(off uint64, v byte) bool {
	b, ok := k.span(off, 1)
	if ok {
		b[0] = v
	}
	return ok
}

// setInput copies the call's input into a block.
func (k *kernel) setInput(in []byte) error {
	off, err := k.write(in)
	if err != nil {
		return fmt.Errorf("input of %d bytes: %w", len(in), err)
	}
	k.input, k.inputLen = off, uint64(len(in))
	return nil
}

// outputBytes returns a copy of the output the guest set.
func (k *kernel) outputBytes() ([]byte, error) {
	if k.outputLen == 0 {
		return nil, nil
	}
	b, ok := k.span(k.output, k.outputLen)
	if !ok {
		return nil, fmt.Errorf("output [%d, +%d) outside kernel memory", k.output, k.outputLen)
	}
	return append([]byte(nil), b...), nil
}

// errorMessage returns the error the guest set, if any.
func (k *kernel) errorMessage() string {
	if k.errOff == 0 {
		return ""
	}
	b, err := k.bytes(k.errOff)
	if err != nil {
		return "(unreadable guest error)"
	}
	return string(b)
}
