package engine

import (
	"errors"
	"fmt"
)

// Loop instrumentation: how the wazero engine stops a running guest
// without wazero's close-on-done.
//
// wazero's WithCloseOnContextDone compiles a call into Go at every loop
// header (to read the module's closed flag) and starts a goroutine per
// call; the loop exits alone made the Go-PDK echo about six times slower.
// Instead, instrumentLoops adds two mutable i32 globals, $stop (exported as
// stopGlobal) and a countdown $c, and after every `loop` opcode:
//
//	if $c == 0 {
//	    drop(memory.grow 0)   ;; a trip into Go: a preemption point
//	    if $stop { unreachable }
//	    $c = loopBudget
//	}
//	$c = $c - 1
//
// The trip into Go every loopBudget iterations matters as much as the
// stop check: native code cannot be preempted, so a guest looping without
// ever entering Go would hold off the Go garbage collector's stop-the-world
// (and with it the watchdog) for as long as it loops. The watchdog (or
// Close) sets $stop of an instance to 1 from another goroutine; the guest
// traps within loopBudget iterations. Straight-line code and recursion end
// on their own (the stack is bounded), and host functions receive the
// call's deadline.
//
// Go's wasm port compiles every function to a dispatch loop, so the check
// runs at every call as well as at every iteration. On the Go JSON echo it
// costs ~8-15 % of the guest time (BenchmarkLoopChecks, against the same
// module uninstrumented). Two cheaper-looking variants were measured and
// dropped: checking only at branches back to a loop (a copy of the check
// at every such branch, and br_if rewritten into an if-block) was slower;
// reading $c once through a new local per function was no faster.

// stopGlobal is the name of the export instrumentLoops adds.
const stopGlobal = "__authhost_stop"

// loopBudget is how many loop iterations a guest runs between two trips
// into Go (signed LEB128 of 1024 in check below).
const loopBudget = 1024

var errUnsupportedOpcode = errors.New("unsupported opcode")

// section is one section of a wasm binary.
type section struct {
	id   byte
	body []byte
}

// instrumentLoops returns wasm with the stop global and the loop checks
// added, or an error (then the caller falls back to close-on-done). With
// snapshot, a module that qualifies for pre-initialised snapshots (see
// snapshot.go) is also prepared for them, and plan says how to initialise
// and restore its instances; plan is nil for a module that does not
// qualify, and why says what stood in the way.
func instrumentLoops(wasm []byte, snapshot bool) (out []byte, plan *snapPlan, why string, err error) {
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" {
		return nil, nil, "", errors.New("instrument: not a wasm binary")
	}
	var sections []section
	r := &reader{b: wasm, pos: 8}
	for r.pos < len(r.b) {
		id := r.byte()
		n := r.u32()
		body := r.bytes(int(n))
		if r.err != nil {
			return nil, nil, "", fmt.Errorf("instrument: section %d: %w", id, r.err)
		}
		sections = append(sections, section{id, body})
	}
	importedGlobals, globals := uint32(0), uint32(0)
	hasMemory := false
	for _, s := range sections {
		var err error
		switch s.id {
		case 5:
			hasMemory = true
		case 2:
			var mems uint32
			importedGlobals, mems, err = countImports(s.body)
			hasMemory = hasMemory || mems > 0
		case 6:
			sr := &reader{b: s.body}
			globals = sr.u32()
			err = sr.err
		}
		if err != nil {
			return nil, nil, "", fmt.Errorf("instrument: %w", err)
		}
	}
	if !hasMemory {
		return nil, nil, "", errors.New("instrument: the module has no memory")
	}
	if snapshot {
		// Planned on the original sections, before the two globals below
		// are added: they are the engine's, not the guest's state.
		plan, why = planSnapshot(sections, importedGlobals)
	}
	g := importedGlobals + globals // $stop; $c is g+1

	// order is the position of a section id in the module layout.
	order := map[byte]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}
	insert := func(id byte, body []byte) {
		for i, s := range sections {
			if s.id != 0 && order[s.id] > order[id] {
				sections = append(sections[:i], append([]section{{id, body}}, sections[i:]...)...)
				return
			}
		}
		sections = append(sections, section{id, body})
	}
	stop := []byte{0x7F, 0x01, 0x41, 0x00, 0x0B}          // mut i32 = 0
	counter := []byte{0x7F, 0x01, 0x41, 0x80, 0x08, 0x0B} // mut i32 = loopBudget
	exportEntry := append(appendName(nil, stopGlobal), 0x03)
	exportEntry = appendU32(exportEntry, g)
	haveGlobal, haveExport := false, false
	var facts codeFacts
	for i, s := range sections {
		switch s.id {
		case 6:
			sections[i].body = appendVecItem(appendVecItem(s.body, stop), counter)
			haveGlobal = true
		case 7:
			sections[i].body = appendVecItem(s.body, exportEntry)
			haveExport = true
		case 10:
			code, err := instrumentCode(s.body, g, &facts)
			if err != nil {
				return nil, nil, "", fmt.Errorf("instrument: %w", err)
			}
			sections[i].body = code
		}
	}
	if !haveGlobal {
		insert(6, append(append([]byte{2}, stop...), counter...))
	}
	if !haveExport {
		insert(7, append([]byte{1}, exportEntry...))
	}
	if plan != nil {
		if why = facts.snapshotBlocker(); why != "" {
			plan = nil
		} else {
			sections = prepareSnapshot(sections, plan)
		}
	}
	out = append(make([]byte, 0, len(wasm)+len(wasm)/16), wasm[:8]...)
	for _, s := range sections {
		out = append(out, s.id)
		out = appendU32(out, uint32(len(s.body)))
		out = append(out, s.body...)
	}
	return out, plan, why, nil
}

// codeFacts records what the code section does that a snapshot cannot
// carry over.
type codeFacts struct {
	tableMutation bool // table.set, table.grow, table.fill, table.init, table.copy, elem.drop
	dataOps       bool // memory.init, data.drop
}

// snapshotBlocker returns why the code rules out a snapshot, or "".
func (f codeFacts) snapshotBlocker() string {
	switch {
	case f.tableMutation:
		return "the code mutates a table"
	case f.dataOps:
		return "the code uses memory.init or data.drop"
	}
	return ""
}

// appendVecItem adds item to a vector section body (count, items).
func appendVecItem(body, item []byte) []byte {
	r := &reader{b: body}
	n := r.u32()
	out := appendU32(nil, n+1)
	out = append(out, body[r.pos:]...)
	return append(out, item...)
}

func appendName(b []byte, s string) []byte {
	b = appendU32(b, uint32(len(s)))
	return append(b, s...)
}

// countImports returns how many globals and memories body imports.
func countImports(body []byte) (globals, memories uint32, err error) {
	r := &reader{b: body}
	n := r.u32()
	for range n {
		r.bytes(int(r.u32())) // module
		r.bytes(int(r.u32())) // name
		switch kind := r.byte(); kind {
		case 0x00: // func
			r.u32()
		case 0x01: // table
			r.byte()
			r.limits()
		case 0x02: // memory
			r.limits()
			memories++
		case 0x03: // global
			r.byte()
			r.byte()
			globals++
		case 0x04: // tag
			r.byte()
			r.u32()
		default:
			return 0, 0, fmt.Errorf("import kind %#x", kind)
		}
		if r.err != nil {
			return 0, 0, fmt.Errorf("import section: %w", r.err)
		}
	}
	return globals, memories, r.err
}

// instrumentCode rewrites every function body of the code section and
// records into facts what the code does.
func instrumentCode(body []byte, g uint32, facts *codeFacts) ([]byte, error) {
	r := &reader{b: body}
	n := r.u32()
	out := appendU32(make([]byte, 0, len(body)+len(body)/16), n)
	stop, c := appendU32(nil, g), appendU32(nil, g+1)
	var check []byte
	check = append(append(append(check, 0x23), c...), 0x45, 0x04, 0x40)          // if $c == 0
	check = append(check, 0x41, 0x00, 0x40, 0x00, 0x1A)                          // drop(memory.grow 0)
	check = append(append(append(check, 0x23), stop...), 0x04, 0x40, 0x00, 0x0B) // if $stop { unreachable }
	check = append(append(append(check, 0x41, 0x80, 0x08, 0x24), c...), 0x0B)    // $c = loopBudget; end
	check = append(append(append(check, 0x23), c...), 0x41, 0x01, 0x6B, 0x24)    // $c = $c - 1
	check = append(check, c...)
	var fn []byte
	for i := range n {
		size := r.u32()
		b := r.bytes(int(size))
		if r.err != nil {
			return nil, fmt.Errorf("code section: %w", r.err)
		}
		var err error
		fn, err = instrumentBody(fn[:0], b, check, facts)
		if err != nil {
			return nil, fmt.Errorf("function %d: %w", i, err)
		}
		out = appendU32(out, uint32(len(fn)))
		out = append(out, fn...)
	}
	return out, nil
}

func instrumentBody(out, b, check []byte, facts *codeFacts) ([]byte, error) {
	r := &reader{b: b}
	locals := r.u32()
	for range locals {
		r.u32()
		r.byte()
	}
	if r.err != nil {
		return nil, r.err
	}
	out = append(out, b[:r.pos]...)
	for r.pos < len(b) {
		start := r.pos
		op := r.byte()
		switch {
		case op == 0x02 || op == 0x04: // block, if
			r.blockType()
		case op == 0x03: // loop
			r.blockType()
			out = append(out, b[start:r.pos]...)
			out = append(out, check...)
			continue
		case op == 0x0C || op == 0x0D || op == 0x10 || op == 0x12 || op == 0xD2 ||
			(op >= 0x20 && op <= 0x26) || op == 0x08: // one index
			r.u32()
			facts.tableMutation = facts.tableMutation || op == 0x26 // table.set
		case op == 0x0E: // br_table
			for range r.u32() {
				r.u32()
			}
			r.u32()
		case op == 0x11 || op == 0x13: // call_indirect, return_call_indirect
			r.u32()
			r.u32()
		case op == 0x1C: // select t*
			for range r.u32() {
				r.byte()
			}
		case op >= 0x28 && op <= 0x3E: // loads and stores
			r.memarg()
		case op == 0x3F || op == 0x40: // memory.size, memory.grow
			r.u32()
		case op == 0x41:
			r.s64()
		case op == 0x42:
			r.s64()
		case op == 0x43:
			r.bytes(4)
		case op == 0x44:
			r.bytes(8)
		case op == 0xD0: // ref.null
			r.byte()
		case op == 0xFC:
			sub := r.u32()
			facts.dataOps = facts.dataOps || sub == 8 || sub == 9
			facts.tableMutation = facts.tableMutation || (sub >= 12 && sub <= 17 && sub != 16)
			switch {
			case sub <= 7:
			case sub == 8: // memory.init
				r.u32()
				r.u32()
			case sub == 9, sub == 13, sub == 15, sub == 16, sub == 17:
				r.u32()
			case sub == 10, sub == 12, sub == 14:
				r.u32()
				r.u32()
			case sub == 11:
				r.u32()
			default:
				return nil, fmt.Errorf("%w 0xFC %d", errUnsupportedOpcode, sub)
			}
		case op == 0xFE: // threads
			if sub := r.u32(); sub == 0x03 {
				r.byte()
			} else {
				r.memarg()
			}
		case op <= 0x01 || op == 0x05 || op == 0x0B || op == 0x0F || op == 0x1A || op == 0x1B ||
			(op >= 0x45 && op <= 0xC4) || op == 0xD1:
			// no immediates
		default:
			return nil, fmt.Errorf("%w %#x", errUnsupportedOpcode, op)
		}
		if r.err != nil {
			return nil, r.err
		}
		out = append(out, b[start:r.pos]...)
	}
	return out, nil
}

// reader decodes the LEB128 and byte fields of a wasm binary; the first
// error sticks.
type reader struct {
	b   []byte
	pos int
	err error
}

var errTruncated = errors.New("truncated")

func (r *reader) byte() byte {
	if r.err != nil || r.pos >= len(r.b) {
		r.err = errTruncated
		return 0
	}
	c := r.b[r.pos]
	r.pos++
	return c
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || n < 0 || r.pos+n > len(r.b) {
		r.err = errTruncated
		return nil
	}
	s := r.b[r.pos : r.pos+n]
	r.pos += n
	return s
}

func (r *reader) u32() uint32 { return uint32(r.u64()) }

func (r *reader) u64() uint64 {
	var v uint64
	for shift := 0; shift < 70; shift += 7 {
		c := r.byte()
		v |= uint64(c&0x7F) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	r.err = errors.New("leb128 too long")
	return 0
}

// s64 skips a signed LEB128 (its value is not needed).
func (r *reader) s64() { r.u64() }

// s32 decodes a signed LEB128 of at most 32 bits.
func (r *reader) s32() int32 {
	var v int64
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		v |= int64(c&0x7F) << shift
		if c&0x80 == 0 {
			if shift < 25 && c&0x40 != 0 {
				v |= -1 << (shift + 7) // sign-extend
			}
			return int32(v)
		}
	}
	r.err = errors.New("leb128 too long")
	return 0
}

// constExpr skips a constant expression up to and including its end.
func (r *reader) constExpr() {
	for r.err == nil {
		switch op := r.byte(); op {
		case 0x0B: // end
			return
		case 0x41, 0x42: // i32.const, i64.const
			r.s64()
		case 0x43: // f32.const
			r.bytes(4)
		case 0x44: // f64.const
			r.bytes(8)
		case 0x23, 0xD2: // global.get, ref.func
			r.u32()
		case 0xD0: // ref.null
			r.byte()
		case 0x6A, 0x6B, 0x6C, 0x7C, 0x7D, 0x7E: // extended constant arithmetic
		case 0xFD: // v128.const
			r.u32()
			r.bytes(16)
		default:
			r.err = fmt.Errorf("opcode %#x in a constant expression", op)
		}
	}
}

func (r *reader) limits() {
	flag := r.byte()
	r.u64()
	if flag&1 != 0 {
		r.u64()
	}
}

func (r *reader) memarg() {
	align := r.u32()
	if align&0x40 != 0 { // multi-memory: a memory index follows
		r.u32()
	}
	r.u64()
}

func (r *reader) blockType() {
	c := r.b[min(r.pos, len(r.b)-1)]
	if c == 0x40 || (c >= 0x6F && c <= 0x7F) {
		r.byte()
		return
	}
	r.s64() // a type index, s33
}

func appendU32(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7F)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}
