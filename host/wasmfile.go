package host

import (
	"bytes"
	"errors"
	"fmt"
)

// wasmMagic and wasmVersion1 open every binary WebAssembly module.
var (
	wasmMagic    = []byte("\x00asm")
	wasmVersion1 = []byte{1, 0, 0, 0}
)

// errNotWasm marks a plugin file that is not a WebAssembly binary module.
var errNotWasm = errors.New("not a WebAssembly module")

// checkWasmHeader tells a file that is not a binary Wasm module (a text
// file, a truncated download, a component) apart from one the engine fails
// to compile, with an error an operator understands.
func checkWasmHeader(b []byte) error {
	switch {
	case len(b) < 8:
		return fmt.Errorf("%w: %d bytes, too short for a module header", errNotWasm, len(b))
	case !bytes.Equal(b[:4], wasmMagic):
		return fmt.Errorf("%w: the file does not start with \\0asm", errNotWasm)
	case !bytes.Equal(b[4:8], wasmVersion1):
		return fmt.Errorf("%w: binary format version % x is not 1 (a component-model binary? build a core module)", errNotWasm, b[4:8])
	}
	return nil
}
