package engine

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"sync"
)

// codeMu serializes measured compiles, so that the executable mappings
// that appear during one are that compile's.
var codeMu sync.Mutex

// span is one mapping, [lo, hi).
type span struct{ lo, hi uint64 }

// measureCode starts measuring the machine code a compile maps: the
// returned func ends the measurement (it must be called once) and returns
// the bytes of anonymous executable mappings that appeared since the
// start. wazero does not report the size of a module's machine code; it
// maps it anonymous and executable, and nothing else in the process does.
// Mappings unmapped meanwhile (closed modules' finalizers) do not count
// against it. Where /proc/self/maps is missing (not Linux) it returns 0.
func measureCode() func() uint64 {
	codeMu.Lock()
	before := executableSpans(readMaps())
	var once sync.Once
	var n uint64
	return func() uint64 {
		once.Do(func() {
			n = newBytes(before, executableSpans(readMaps()))
			codeMu.Unlock()
		})
		return n
	}
}

func readMaps() []byte {
	raw, _ := os.ReadFile("/proc/self/maps")
	return raw
}

// ExecutableBytes returns the bytes of the process's anonymous executable
// mappings (on Linux, from /proc/self/maps): the machine code of every
// compiled Wasm module still mapped, closed or not. It returns 0 where
// the file is missing.
func ExecutableBytes() uint64 { return executableBytes(readMaps()) }

// executableBytes sums the anonymous executable mappings of a
// /proc/<pid>/maps listing.
func executableBytes(maps []byte) uint64 { return newBytes(nil, executableSpans(maps)) }

// newBytes returns the bytes of after not covered by before.
func newBytes(before, after []span) uint64 {
	var n uint64
	for _, a := range after {
		size := a.hi - a.lo
		for _, b := range before {
			if lo, hi := max(a.lo, b.lo), min(a.hi, b.hi); lo < hi {
				size -= hi - lo
			}
		}
		n += size
	}
	return n
}

// executableSpans returns the anonymous executable mappings of a
// /proc/<pid>/maps listing.
func executableSpans(maps []byte) []span {
	var out []span
	sc := bufio.NewScanner(bytes.NewReader(maps))
	for sc.Scan() {
		// address perms offset dev inode [path]: no path is anonymous
		// ([vdso] and files have one)
		f := bytes.Fields(sc.Bytes())
		if len(f) != 5 || len(f[1]) < 3 || f[1][2] != 'x' || string(f[4]) != "0" {
			continue
		}
		lo, hi, ok := bytes.Cut(f[0], []byte("-"))
		if !ok {
			continue
		}
		a, err1 := strconv.ParseUint(string(lo), 16, 64)
		b, err2 := strconv.ParseUint(string(hi), 16, 64)
		if err1 != nil || err2 != nil || b <= a {
			continue
		}
		out = append(out, span{a, b})
	}
	return out
}
