package engine

import (
	"bufio"
	"bytes"
	"os"
	"reflect"
	"strconv"

	"github.com/tetratelabs/wazero"
)

// codeBytes returns the machine code of a compiled module, read from
// wazero's compiler engine behind it (wazero does not report it): the
// executable and entry preambles of every module that engine holds. With
// an engine per module (see wazeroEngine) that is this module's code and
// its host modules' trampolines. The fields are wazero v1.12's
// (internal/engine/wazevo); another layout gives 0, never a panic.
func codeBytes(compiled wazero.CompiledModule) (n uint64) {
	defer func() {
		if recover() != nil {
			n = 0
		}
	}()
	v := reflect.ValueOf(compiled)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return 0
	}
	eng := v.Elem().FieldByName("compiledEngine")
	if eng.Kind() != reflect.Interface || eng.IsNil() {
		return 0
	}
	eng = eng.Elem()
	if eng.Kind() != reflect.Pointer || eng.Elem().Kind() != reflect.Struct {
		return 0
	}
	mods := eng.Elem().FieldByName("sortedCompiledModules")
	if mods.Kind() != reflect.Slice {
		return 0
	}
	for i := range mods.Len() {
		cm := mods.Index(i)
		if cm.Kind() != reflect.Pointer || cm.IsNil() {
			continue
		}
		for _, f := range []string{"executable", "entryPreambles"} {
			if b := cm.Elem().FieldByName(f); b.Kind() == reflect.Slice {
				n += uint64(b.Len())
			}
		}
	}
	return n
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
		if err1 != nil || err2 != nil || b <= a {
			continue
		}
		total += b - a
	}
	return total
}
