//go:build linux

package engine

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"unsafe"

	"github.com/tetratelabs/wazero/experimental"
	"golang.org/x/sys/unix"
)

// mappedImage holds a snapshot's memory in a memfd (anonymous memory, no
// file on disk) that every restored instance maps copy-on-write: creating
// an instance copies nothing, the instances share the pages none of them
// wrote, and a page an instance writes becomes its own private copy, so
// the image itself never changes.
type mappedImage struct {
	fd   int
	size int
}

func newMappedImage(b []byte) (*mappedImage, error) {
	fd, err := unix.MemfdCreate("authhost-snapshot", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	for off := 0; off < len(b); {
		n, err := unix.Pwrite(fd, b[off:], int64(off))
		if err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("write memfd: %w", err)
		}
		off += n
	}
	im := &mappedImage{fd: fd, size: len(b)}
	// The memfd is closed once neither the snapshot nor any instance's
	// memory refers to it: never under an instance being created.
	runtime.AddCleanup(im, func(fd int) { unix.Close(fd) }, fd)
	return im, nil
}

// memory returns the allocator of one instance's memory; busy tells
// whether the instance is running.
func (im *mappedImage) memory(busy *atomic.Bool) experimental.MemoryAllocator {
	return &mappedMemory{img: im, busy: busy}
}

// read returns a copy of the image, read back from the memfd.
func (im *mappedImage) read() ([]byte, error) {
	b := make([]byte, im.size)
	for off := 0; off < len(b); {
		n, err := unix.Pread(im.fd, b[off:], int64(off))
		if err != nil {
			return nil, fmt.Errorf("read memfd: %w", err)
		}
		if n == 0 {
			return nil, fmt.Errorf("read memfd: %d of %d bytes", off, len(b))
		}
		off += n
	}
	runtime.KeepAlive(im) // the cleanup closes fd
	return b, nil
}

// mappedMemory is one instance's linear memory: max bytes of address
// space reserved, the image mapped privately over its start, anonymous
// zero pages after it. It never moves, so growing copies nothing either.
// Where mapping fails the instance gets a copy of the image instead.
type mappedMemory struct {
	img  *mappedImage
	busy *atomic.Bool
	m    *mapping
	buf  []byte
	// err is why the instance could get neither a mapping nor a copy of
	// the image: its memory is zero and restore refuses it.
	err error
}

// imageErr implements imageFailer.
func (mm *mappedMemory) imageErr() error { return mm.err }

// copied is the fallback of Allocate: a copy of the image, read back from
// the memfd (zero memory, and err set, if even that fails).
func (mm *mappedMemory) copied(capacity, maxBytes uint64) experimental.LinearMemory {
	img, err := mm.img.read()
	if err != nil {
		mm.err = err
		img = make([]byte, mm.img.size)
	}
	return (&imageMemory{image: img}).Allocate(capacity, maxBytes)
}

// mapping is a region to unmap once: by Free, or by the cleanup when an
// instance is dropped without Close.
type mapping struct {
	addr unsafe.Pointer
	n    uintptr
	done atomic.Bool
}

func (m *mapping) unmap() {
	if m.done.CompareAndSwap(false, true) {
		unix.MunmapPtr(m.addr, m.n)
	}
}

func (mm *mappedMemory) Allocate(capacity, maxBytes uint64) experimental.LinearMemory {
	n := uintptr(maxBytes)
	if n < uintptr(mm.img.size) {
		n = uintptr(mm.img.size)
	}
	addr, err := unix.MmapPtr(-1, 0, nil, n, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return mm.copied(capacity, maxBytes)
	}
	if mm.img.size > 0 {
		if _, err := unix.MmapPtr(mm.img.fd, 0, addr, uintptr(mm.img.size), unix.PROT_READ|unix.PROT_WRITE,
			unix.MAP_PRIVATE|unix.MAP_FIXED); err != nil {
			unix.MunmapPtr(addr, n)
			return mm.copied(capacity, maxBytes)
		}
	}
	mm.m = &mapping{addr: addr, n: n}
	runtime.AddCleanup(mm, (*mapping).unmap, mm.m)
	mm.buf = unsafe.Slice((*byte)(addr), n)[:mm.img.size]
	return mm
}

// Reallocate resizes the memory in place; bytes past the image are zero.
func (mm *mappedMemory) Reallocate(size uint64) []byte {
	if size > uint64(cap(mm.buf)) {
		return nil
	}
	mm.buf = mm.buf[:size]
	return mm.buf
}

// Free unmaps the memory, unless the guest is still running on it (a
// module closed after its grace period): then the cleanup unmaps it once
// the instance is unreachable, so no guest code faults on a freed page.
func (mm *mappedMemory) Free() {
	mm.buf = nil
	if !mm.busy.Load() {
		mm.m.unmap()
	}
}
