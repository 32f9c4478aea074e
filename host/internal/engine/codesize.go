package engine

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"sync"
)

// codeMu serializes measured compiles, so that the growth of the
// executable mappings across one is that compile's.
var codeMu sync.Mutex

// measureCode starts measuring the machine code a compile maps: the
// returned func ends the measurement (it must be called exactly once) and
// returns the growth, in bytes, of the process's anonymous executable
// mappings since the start. wazero does not report the size of a module's
// machine code; it maps it anonymous and executable, and nothing else in
// the process does. A module closed by another goroutine meanwhile (its
// code unmapped by a finalizer) makes the figure low, never high. Where
// /proc/self/maps is missing (not Linux) it returns 0.
func measureCode() func() uint64 {
	codeMu.Lock()
	before := ExecutableBytes()
	var once sync.Once
	var n uint64
	return func() uint64 {
		once.Do(func() {
			if after := ExecutableBytes(); after > before {
				n = after - before
			}
			codeMu.Unlock()
		})
		return n
	}
}

// ExecutableBytes returns the bytes of the process's anonymous executable
// mappings (on Linux, from /proc/self/maps): the machine code of every
// compiled Wasm module still mapped, closed or not. It returns 0 where
// the file is missing.
func ExecutableBytes() uint64 {
	raw, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0
	}
	return executableBytes(raw)
}

// executableBytes sums the anonymous executable mappings of a
// /proc/<pid>/maps listing.
func executableBytes(maps []byte) uint64 {
	var total uint64
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
		if err1 != nil || err2 != nil || b < a {
			continue
		}
		total += b - a
	}
	return total
}
