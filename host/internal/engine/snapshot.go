package engine

import (
	"fmt"
	"maps"
	"strconv"
	"sync/atomic"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// Pre-initialised snapshots: how the wazero engine creates an instance of
// a Go plugin in a fraction of a fresh instantiation (the Wizer idea,
// without writing a new module).
//
// A fresh instance of a 3.7 MB Go module costs wazero one constant
// expression evaluation and one copy per data segment (the Go linker
// emits ~41 000 of them, so two thirds of the instantiation and 48 000
// allocations), then the Go runtime's _initialize (runtime and package
// init, growing the memory a few times). All of it produces the same
// state in every instance: the linear memory and the mutable globals.
//
// So, at compile time, instrumentLoops (with planSnapshot and
// prepareSnapshot) exports every mutable global of the guest and strips
// the data segments from the compiled module, keeping them here. The
// first instance of a module applies the segments itself (one copy each)
// and runs _initialize; its memory, globals and Extism variables become
// the module's snapshot. Every later instance is instantiated without
// data and without _initialize: its memory is created already holding
// the snapshot's bytes (a wazero MemoryAllocator), and its globals and
// variables are set from the snapshot. On Linux the image sits in a memfd
// (anonymous memory, never a file on disk) that each instance maps
// copy-on-write (imagemem_linux.go): creating an instance copies nothing,
// instances share the pages they have not written, and a write makes a
// private copy of its page. Elsewhere each instance copies the image.
//
// A module qualifies only when that is exact (planSnapshot,
// codeFacts.snapshotBlocker): one memory of its own (not imported, not
// shared), no imported globals, every mutable global a number, every data
// segment active at a constant offset, no start function, and no code that
// mutates a table (table.set/grow/fill/init/copy, elem.drop: tables hold
// per-instance function references and are not captured) or reaches a
// data segment at run time (memory.init, data.drop). A module that does
// not qualify is compiled and instantiated as before. Host-side state that
// _initialize could create and a snapshot would miss disables the
// snapshot for the module (every instance then initialises itself): a call
// of an authhost host function (KV, HTTP: state outside the instance), and
// random bytes read beyond the language runtime's own seeding (see
// runtimeRandReads: a key or nonce drawn at init must not be shared).
// The Extism kernel is reset before every call, its variables are part of
// the snapshot, config is per module, and stdout, stderr and log lines of
// _initialize are logged once, by the instance that made the snapshot.
// The watchdog's stop global is not part of the snapshot (it is the
// engine's, and zero in every new instance).
//
// Randomness: the snapshot carries the guest runtime's random state (the
// Go runtime's seed of runtime.rand, hence math/rand/v2's top-level
// functions and every map's hash seed), so the instances of one process
// share it, as the goroutines of one Go process share one runtime; unlike
// goroutines, two instances repeat the same sequence. That is acceptable:
// none of it is a secret in Go (math/rand is documented as unsuitable for
// security, and hash seeds only make collision flooding harder, which a
// pooled long-lived instance gives up anyway), and crypto/rand still
// reaches WASI random_get, the host's crypto/rand, on every read after
// _initialize (a guest that reads it during _initialize gets no snapshot,
// see above). The
// snapshot lives in the process only and is never written to disk: a new
// process (a restart, a hot reload's new module) draws new seeds.
type snapPlan struct {
	// data are the module's active data segments, applied by the engine
	// to an instance that initialises itself. They are slices of the
	// module's file, so they keep all of it in memory: dropData lets them
	// go once a snapshot makes them unneeded (never before it is set).
	data atomic.Pointer[[]dataSegment]
	// globals are the export names of the guest's mutable globals.
	globals []string
	// runtimeRandReads is how many random_get calls the language
	// runtime itself makes in _initialize (seeding its own generators):
	// one for Go (a go:buildid section), before any package init. More
	// reads mean the guest's own code drew randomness at init, and then
	// there is no snapshot.
	runtimeRandReads int
}

// dataSegment is an active data segment: init is copied to off.
type dataSegment struct {
	off  uint32
	init []byte
}

// snapGlobalPrefix names the exports prepareSnapshot adds, one per
// mutable global, followed by the global's index.
const snapGlobalPrefix = "__authhost_global_"

// planSnapshot reads the sections of a module and returns how to snapshot
// it, or nil and why it cannot be (the code is checked separately, by
// codeFacts). importedGlobals is the count of imported globals.
func planSnapshot(sections []section, importedGlobals uint32) (*snapPlan, string) {
	if importedGlobals > 0 {
		return nil, "the module imports globals"
	}
	plan := &snapPlan{}
	var data []dataSegment
	memories := 0
	for _, s := range sections {
		r := &reader{b: s.body}
		switch s.id {
		case 0:
			if string(r.bytes(int(r.u32()))) == "go:buildid" {
				plan.runtimeRandReads = 1
			}
		case 5:
			n := r.u32()
			if n != 1 {
				return nil, fmt.Sprintf("the module defines %d memories", n)
			}
			if flag := r.byte(); flag > 1 {
				return nil, "the memory is shared or 64-bit"
			}
			memories++
		case 6:
			for i := range r.u32() {
				typ, mut := r.byte(), r.byte()
				r.constExpr()
				if mut == 0 {
					continue
				}
				switch typ {
				case 0x7F, 0x7E, 0x7D, 0x7C: // i32, i64, f32, f64
				default:
					return nil, fmt.Sprintf("mutable global %d has type %#x", i, typ)
				}
				plan.globals = append(plan.globals, snapGlobalPrefix+strconv.Itoa(int(i)))
			}
		case 8:
			return nil, "the module has a start function"
		case 11:
			for i := range r.u32() {
				if flag := r.u32(); flag != 0 {
					return nil, fmt.Sprintf("data segment %d is passive or names a memory", i)
				}
				if r.byte() != 0x41 {
					return nil, fmt.Sprintf("data segment %d has a non-constant offset", i)
				}
				off := uint32(r.s32())
				if r.byte() != 0x0B {
					return nil, fmt.Sprintf("data segment %d has a non-constant offset", i)
				}
				init := r.bytes(int(r.u32()))
				data = append(data, dataSegment{off: off, init: init})
			}
		}
		if r.err != nil {
			return nil, fmt.Sprintf("section %d: %v", s.id, r.err)
		}
	}
	if memories != 1 {
		return nil, "the module has no memory of its own"
	}
	plan.data.Store(&data)
	return plan, ""
}

// prepareSnapshot rewrites the sections of a module plan was made for:
// the data segments are removed (the engine applies them, see
// applyData) and every mutable global is exported.
func prepareSnapshot(sections []section, plan *snapPlan) []section {
	for i, s := range sections {
		switch s.id {
		case 7:
			body := s.body
			for _, name := range plan.globals {
				idx, _ := strconv.Atoi(name[len(snapGlobalPrefix):])
				entry := append(appendName(nil, name), 0x03)
				body = appendVecItem(body, appendU32(entry, uint32(idx)))
			}
			sections[i].body = body
		case 11, 12: // data, data count
			sections[i].body = []byte{0}
		}
	}
	return sections
}

// snapshot is the state of an instance right after _initialize.
type snapshot struct {
	// size is the length of the memory image.
	size int
	// mapped holds the image for copy-on-write mappings (Linux); nil
	// where that is unavailable, and then mem holds it and each instance
	// copies it. A mapped image is kept only in its memfd, not twice.
	mapped  *mappedImage
	mem     []byte
	globals []uint64 // in the order of snapPlan.globals
	vars    map[string][]byte
}

// memory returns the allocator of a restored instance's memory; busy is
// the instance's running flag.
func (s *snapshot) memory(busy *atomic.Bool) experimental.MemoryAllocator {
	if s.mapped != nil {
		return s.mapped.memory(busy)
	}
	return &imageMemory{image: s.mem}
}

// image returns a copy of the memory image (the image itself where it is
// not mapped).
func (s *snapshot) image() ([]byte, error) {
	if s.mapped != nil {
		return s.mapped.read()
	}
	return s.mem, nil
}

// dropData releases the data segments (and with them the module's file):
// once a snapshot exists, no instance initialises itself again.
func (p *snapPlan) dropData() { p.data.Store(nil) }

// applyData copies a module's data segments into a fresh instance's
// memory, as instantiation would have.
func applyData(mem api.Memory, data []dataSegment) error {
	for i, d := range data {
		if !mem.Write(d.off, d.init) {
			return fmt.Errorf("data segment %d [%d, +%d) outside memory", i, d.off, len(d.init))
		}
	}
	return nil
}

// capture records the state of i, just initialised, as a snapshot.
func (p *snapPlan) capture(i *wazeroInstance) (*snapshot, error) {
	mem := i.mod.Memory()
	buf, ok := mem.Read(0, mem.Size())
	if !ok {
		return nil, fmt.Errorf("read memory")
	}
	s := &snapshot{
		size:    len(buf),
		globals: make([]uint64, len(p.globals)),
		vars:    maps.Clone(i.vars),
	}
	for n, name := range p.globals {
		g := i.mod.ExportedGlobal(name)
		if g == nil {
			return nil, fmt.Errorf("global %s is not exported", name)
		}
		s.globals[n] = g.Get()
	}
	if img, err := newMappedImage(buf); err == nil {
		s.mapped = img
	} else {
		s.mem = append([]byte(nil), buf...)
	}
	return s, nil
}

// imageFailer is implemented by a memory allocator that can fail to give
// an instance the snapshot's image.
type imageFailer interface{ imageErr() error }

// restore gives i, instantiated with alloc (from s.memory), the state of s.
func (p *snapPlan) restore(i *wazeroInstance, s *snapshot, alloc experimental.MemoryAllocator) error {
	if f, ok := alloc.(imageFailer); ok && f.imageErr() != nil {
		return f.imageErr()
	}
	mem := i.mod.Memory()
	if have, want := mem.Size()/65536, uint32(s.size/65536); have < want {
		if _, ok := mem.Grow(want - have); !ok {
			return fmt.Errorf("grow memory to %d pages", want)
		}
	}
	for n, name := range p.globals {
		g, ok := i.mod.ExportedGlobal(name).(api.MutableGlobal)
		if !ok {
			return fmt.Errorf("global %s is not exported as mutable", name)
		}
		g.Set(s.globals[n])
	}
	for k, v := range s.vars {
		i.vars[k] = append([]byte(nil), v...)
	}
	return nil
}

// imageMemory is the linear memory of an instance restored from a
// snapshot: allocated holding the snapshot's bytes, so neither wazero nor
// a later grow to the snapshot's size copies or clears them again. It
// implements experimental.MemoryAllocator and LinearMemory for one
// instance.
type imageMemory struct {
	image []byte
	buf   []byte
	max   uint64
}

// Allocate returns the memory, holding the image. The image is copied:
// what the instance writes never reaches the snapshot.
func (m *imageMemory) Allocate(capacity, maxBytes uint64) experimental.LinearMemory {
	m.max = maxBytes
	m.buf = make([]byte, len(m.image), max(uint64(len(m.image)), capacity))
	copy(m.buf, m.image)
	return m
}

// Reallocate resizes the memory to size bytes. Bytes past the previous
// size are zero, or the image's own bytes on the grow that restores it.
func (m *imageMemory) Reallocate(size uint64) []byte {
	if size > m.max {
		return nil
	}
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
		return m.buf
	}
	grown := make([]byte, size, min(m.max, max(size, 2*uint64(cap(m.buf)))))
	copy(grown, m.buf)
	m.buf = grown
	return grown
}

// Free drops the memory.
func (m *imageMemory) Free() { m.buf = nil }
