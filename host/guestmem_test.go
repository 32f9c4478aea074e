package host

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/internal/testenv/wasmbuild"
)

// firstPartyGo are the Go providers shipped with authhost (relative to
// host/), whose guest memory TestGuestMemory reports, and the echo test
// plugin (go-pdk only, Go's default GC) for comparison.
var firstPartyGo = []string{"../examples/static-users", "../plugins/betterauth", "../plugins/cloud", "../plugins/workos", "testdata/plugins/echo"}

// describeCalls is how many describe calls TestGuestMemory makes: enough to
// allocate well past Go's 4 MiB minimum heap goal.
const describeCalls = 2000

// TestGuestMemory reports each Go provider's linear memory after the Go
// runtime's initialisation, after describe and after describeCalls more
// describe calls, on the wazero engine; and checks that the PDK's GC
// setting keeps a PDK provider's heap growth under the 4 MiB that Go's
// default would let it reach.
//
//	go test ./host -run TestGuestMemory -v
func TestGuestMemory(t *testing.T) {
	paths := wasmbuild.BuildAll(t, firstPartyGo...)
	eng, err := newEngine(EngineWazero, testCacheDir)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(ctx)
	for i, dir := range firstPartyGo {
		name := filepath.Base(dir)
		wasm, err := os.ReadFile(paths[i])
		if err != nil {
			t.Fatal(err)
		}
		mod, err := eng.Compile(ctx, wasm, echoOptions())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		inst, err := mod.Instantiate(ctx)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		afterInit := inst.MemoryBytes()
		if _, err := inst.Call(ctx, abi.ExportDescribe, nil); err != nil {
			t.Fatalf("%s describe: %v", name, err)
		}
		afterFirst := inst.MemoryBytes()
		for range describeCalls {
			if _, err := inst.Call(ctx, abi.ExportDescribe, nil); err != nil {
				t.Fatalf("%s describe: %v", name, err)
			}
		}
		after := inst.MemoryBytes()
		t.Logf("%-14s wasm %5.2f MB  linear memory: init %5.2f MiB, first call %5.2f MiB, %d calls %5.2f MiB",
			name, float64(len(wasm))/1e6, mib(afterInit), mib(afterFirst), describeCalls+1, mib(after))
		if grew := after - afterInit; name != "echo" && grew > 3<<20 {
			t.Errorf("%s: linear memory grew %.2f MiB over %d calls; the PDK's GC setting should keep it under 3 MiB", name, mib(grew), describeCalls)
		}
		inst.Close(ctx)
		mod.Close(ctx)
	}
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }
