package engine

import (
	"bytes"
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// testModule assembles a module with type (i32) -> i32, one function with
// body (exported as "count"), a memory of one page when withMemory and one
// mutable i32 global.
func testModule(body []byte, withMemory bool) []byte {
	sec := func(id byte, content ...byte) []byte {
		return append(appendU32([]byte{id}, uint32(len(content))), content...)
	}
	m := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	m = append(m, sec(1, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f)...)
	m = append(m, sec(3, 0x01, 0x00)...)
	if withMemory {
		m = append(m, sec(5, 0x01, 0x00, 0x01)...)
	}
	m = append(m, sec(6, 0x01, 0x7f, 0x01, 0x41, 0x00, 0x0b)...)
	m = append(m, sec(7, 0x01, 0x05, 'c', 'o', 'u', 'n', 't', 0x00, 0x00)...)
	code := append(appendU32([]byte{0x01}, uint32(len(body))), body...)
	return append(m, sec(10, code...)...)
}

// countBody loops until global 0 reaches the parameter and returns it.
var countBody = []byte{
	0x00,       // no locals
	0x03, 0x40, // loop
	0x23, 0x00, 0x41, 0x01, 0x6a, 0x24, 0x00, // g0 += 1
	0x23, 0x00, 0x20, 0x00, 0x48, 0x0d, 0x00, // br_if 0 (g0 < n)
	0x0b,       // end
	0x23, 0x00, // global.get 0
	0x0b, // end
}

func TestInstrumentLoops(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	orig := testModule(countBody, true)
	out, _, _, err := instrumentLoops(orig, false)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(out, orig) {
		t.Fatal("instrumentation changed nothing")
	}
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	for _, wasm := range [][]byte{orig, out} {
		mod, err := rt.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithName(""))
		if err != nil {
			t.Fatalf("instantiate: %v", err)
		}
		// Same results, across several loop budgets.
		if res, err := mod.ExportedFunction("count").Call(ctx, 5*loopBudget+3); err != nil || res[0] != 5*loopBudget+3 {
			t.Fatalf("count = %v, %v", res, err)
		}
		mod.Close(ctx)
	}
	mod, err := rt.InstantiateWithConfig(ctx, out, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatal(err)
	}
	stop, ok := mod.ExportedGlobal(stopGlobal).(api.MutableGlobal)
	if !ok {
		t.Fatal("the stop global is not exported as mutable")
	}
	stop.Set(1)
	if _, err := mod.ExportedFunction("count").Call(ctx, 10*loopBudget); err == nil {
		t.Fatal("a stopped instance kept looping")
	}
}

func TestInstrumentRejects(t *testing.T) {
	t.Parallel()
	good := testModule(countBody, true)
	simd := []byte{0x00, 0x41, 0x00, 0xfd, 0x0f, 0x1a, 0x41, 0x00, 0x0b} // i8x16.splat
	for _, tc := range []struct {
		name string
		wasm []byte
	}{
		{"empty", nil},
		{"not wasm", []byte("\x7fELF\x01\x00\x00\x00")},
		{"truncated", good[:len(good)-5]},
		{"no memory", testModule(countBody, false)},
		{"simd opcode", testModule(simd, true)},
		{"leb too long", append(good[:8:8], 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, _, err := instrumentLoops(tc.wasm, true); err == nil {
				t.Fatal("instrumented an unusable module")
			}
		})
	}
}
