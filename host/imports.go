package host

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tetratelabs/wazero/api"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/host/internal/engine"
)

// wasmImport is one import of a module, as declared in its import section.
type wasmImport struct {
	module, name string
	kind         byte        // 0 func, 1 table, 2 memory, 3 global, 4 tag
	fn           engine.Func // for kind 0
}

// importHints say what the host offers instead of an import it does not
// provide, by "module.name" or by "module." for a whole module.
var importHints = map[string]string{
	"env.memory":                "not provided: the module must define and export its own memory (asc: drop --importMemory)",
	"env.table":                 "not provided: the module must define its own table (asc: drop --importTable)",
	"env.seed":                  "not provided: use WASI `random_get`",
	"env.":                      "not provided: the host's env offers only AssemblyScript's abort, seed, Date.now, console.log and trace; call authhost host functions or WASI instead",
	"extism:host/user.":         "not provided: authhost's host functions are in the `" + abi.HostNamespace + "` module (SPEC.md §6)",
	engine.KernelModule + ".":   "not in this host's Extism kernel",
	"wasi_snapshot_preview1.":   "not in WASI preview 1",
	"wasi_unstable.":            "not provided: build for wasip1 (`wasi_snapshot_preview1`)",
	"wasi:":                     "not provided: the component model and WASI preview 2 are not supported; build for wasip1",
	"__wbindgen_placeholder__.": "not provided: wasm-bindgen targets a browser; build for wasm32-wasip1 with the Extism PDK",
	"wbg.":                      "not provided: wasm-bindgen targets a browser; build for wasm32-wasip1 with the Extism PDK",
	"gojs.":                     "not provided: GOOS=js builds need a browser; build with GOOS=wasip1 -buildmode=c-shared",
}

// checkImports refuses a module whose imports the sandbox does not
// provide, naming each as module.name with what the host offers instead.
// It reads the original module bytes, so it holds for both engines and
// before any instrumentation.
func checkImports(wasm []byte, opts engine.Options) error {
	imports, err := readImports(wasm)
	if err != nil {
		return fmt.Errorf("imports: %w", err)
	}
	offered, err := engine.Offered(opts)
	if err != nil {
		return fmt.Errorf("imports: %w", err)
	}
	var errs []error
	for _, im := range imports {
		if msg := importProblem(im, offered, opts.Namespace); msg != "" {
			errs = append(errs, fmt.Errorf("import `%s.%s`: %s", visible(im.module), visible(im.name), msg))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("unresolved imports: %w", errors.Join(errs...))
	}
	return nil
}

// visible returns s as is when it is printable ASCII, else Go-quoted
// without the quotes, so a control character cannot forge a log line and
// a look-alike letter (Cyrillic е in "еnv") shows as \u0435.
func visible(s string) string {
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			q := strconv.QuoteToASCII(s)
			return q[1 : len(q)-1]
		}
	}
	return s
}

// importProblem says why im cannot be resolved, or "" when it can.
func importProblem(im wasmImport, offered map[string]map[string]engine.Func, ns string) string {
	if im.kind != 0 {
		if h := importHints[im.module+"."+im.name]; h != "" {
			return h
		}
		return "not provided: the host offers functions only (define memories, tables and globals in the module)"
	}
	if want, ok := offered[im.module][im.name]; ok {
		if slices.Equal(want.Params, im.fn.Params) && slices.Equal(want.Results, im.fn.Results) {
			return ""
		}
		return fmt.Sprintf("signature %s, but the host offers %s", im.fn, want)
	}
	if h := importHints[im.module+"."+im.name]; h != "" {
		return h
	}
	if h := importHints[im.module+"."]; h != "" {
		return h
	}
	if i := strings.IndexByte(im.module, ':'); i >= 0 {
		if h := importHints[im.module[:i+1]]; h != "" {
			return h
		}
	}
	return "not provided: the host offers `wasi_snapshot_preview1`, the Extism kernel `" + engine.KernelModule +
		"`, the `" + ns + "` host functions and AssemblyScript's `" + engine.EnvModule + "` shims (SPEC.md §1.3)"
}

// readImports decodes the type and import sections of a wasm module.
func readImports(wasm []byte) ([]wasmImport, error) {
	r := &wasmReader{b: wasm}
	if len(wasm) < 8 {
		return nil, errors.New("not a wasm module")
	}
	r.off = 8
	var types []engine.Func
	var out []wasmImport
	for r.off < len(r.b) {
		id := r.byte()
		size := r.u32()
		if r.err != nil || int(size) > len(r.b)-r.off {
			return nil, errors.New("truncated section")
		}
		sec := &wasmReader{b: r.b[:r.off+int(size)], off: r.off}
		r.off += int(size)
		switch id {
		case 1: // type
			for n := sec.u32(); n > 0 && sec.err == nil; n-- {
				if sec.byte() != 0x60 {
					return nil, errors.New("bad function type")
				}
				types = append(types, engine.Func{Params: sec.valtypes(), Results: sec.valtypes()})
			}
		case 2: // import
			for n := sec.u32(); n > 0 && sec.err == nil; n-- {
				im := wasmImport{module: sec.name(), name: sec.name(), kind: sec.byte()}
				switch im.kind {
				case 0:
					t := sec.u32()
					if int(t) >= len(types) {
						return nil, fmt.Errorf("import %s.%s: bad type index %d", im.module, im.name, t)
					}
					im.fn = types[t]
				case 1: // table: reftype, limits
					sec.byte()
					sec.limits()
				case 2: // memory: limits
					sec.limits()
				case 3: // global: valtype, mutability
					sec.byte()
					sec.byte()
				case 4: // tag: attribute, type index
					sec.byte()
					sec.u32()
				default:
					return nil, fmt.Errorf("import %s.%s: unknown kind %d", im.module, im.name, im.kind)
				}
				out = append(out, im)
			}
			return out, sec.err
		}
		if sec.err != nil {
			return nil, sec.err
		}
	}
	return out, r.err
}

// wasmReader reads LEB128 integers, names and bytes; the first error
// sticks and later reads return zero values.
type wasmReader struct {
	b   []byte
	off int
	err error
}

func (r *wasmReader) byte() byte {
	if r.err != nil || r.off >= len(r.b) {
		r.err = errors.New("truncated module")
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *wasmReader) u32() uint32 {
	var v uint32
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		v |= uint32(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	r.err = errors.New("bad LEB128")
	return 0
}

func (r *wasmReader) name() string {
	n := int(r.u32())
	if r.err != nil || n > len(r.b)-r.off {
		r.err = errors.New("truncated name")
		return ""
	}
	s := string(r.b[r.off : r.off+n])
	r.off += n
	return s
}

func (r *wasmReader) valtypes() []api.ValueType {
	n := r.u32()
	if int(n) > len(r.b)-r.off {
		r.err = errors.New("truncated type")
		return nil
	}
	ts := make([]api.ValueType, n)
	for i := range ts {
		ts[i] = r.byte()
	}
	return ts
}

func (r *wasmReader) limits() {
	flags := r.byte()
	r.u32()
	if flags&1 != 0 {
		r.u32()
	}
}
