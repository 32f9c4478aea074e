package host

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/host/internal/engine"
	"github.com/authhost/authhost/internal/testenv/wasmbuild"
)

// firstParty are the provider sources shipped with authhost.
var firstParty = []string{
	filepath.Join("..", "plugins", "workos"),
	filepath.Join("..", "plugins", "betterauth"),
	filepath.Join("..", "plugins", "cloud"),
	filepath.Join("..", "examples", "static-users"),
	filepath.Join("testdata", "plugins", "allcaps"),
	filepath.Join("testdata", "plugins", "echo"),
}

// diffInputs are the inputs every export gets on both engines: shapes a
// provider must answer without any peer (a malformed request, an empty
// one, a request naming nobody), so the calls are safe and deterministic.
var diffInputs = [][]byte{
	nil,
	[]byte(`{}`),
	[]byte(`null`),
	[]byte(`{`),
	[]byte(`{"id":"","user_id":"\u0000","session_id":"ｓ１","email":"a@127.0.0.1"}`),
}

// diffSkip are exports whose output is not a function of the input (clock,
// randomness) or that never return; they are compared by error class only.
var diffSkip = map[string]bool{"entropy": true, "crash": true}

// TestEnginesAgree is the differential test of the two engines: every
// first-party plugin's exports, called with the same inputs on the
// wazero engine and on the Extism engine (the oracle), give the same
// output bytes and the same error class.
func TestEnginesAgree(t *testing.T) {
	t.Parallel()
	paths := wasmbuild.BuildAll(t, firstParty...)
	l := builtinLimits()
	opts := engine.Options{Namespace: abi.HostNamespace, HostFuncs: hostFuncs(&envSlot{}, l), MemoryPages: uint32(l.MaxMemoryMiB) * 16}
	engs := map[string]engine.Engine{}
	for _, name := range engines {
		e, err := newEngine(name, testCacheDir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close(context.Background()) })
		engs[name] = e
	}
	for i, path := range paths {
		t.Run(filepath.Base(firstParty[i]), func(t *testing.T) {
			wasm, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			insts := map[string]engine.Instance{}
			mods := map[string]engine.Module{}
			for name, e := range engs {
				mod, err := e.Compile(ctx, wasm, opts)
				if err != nil {
					t.Fatalf("%s: compile: %v", name, err)
				}
				t.Cleanup(func() { mod.Close(context.Background()) })
				mods[name] = mod
			}
			fresh := func(name string) engine.Instance {
				inst, err := mods[name].Instantiate(ctx)
				if err != nil {
					t.Fatalf("%s: instantiate: %v", name, err)
				}
				return inst
			}
			for name := range mods {
				insts[name] = fresh(name)
			}
			want, got := insts[EngineExtism], insts[EngineWazero]
			if !maps.Equal(want.Exports(), got.Exports()) {
				t.Fatalf("exports differ: extism %v, wazero %v", slices.Sorted(maps.Keys(want.Exports())), slices.Sorted(maps.Keys(got.Exports())))
			}
			calls, answered := 0, 0
			for _, export := range slices.Sorted(maps.Keys(want.Exports())) {
				if export == "_initialize" || export == "_start" {
					continue
				}
				for _, in := range diffInputs {
					outs := map[string][]byte{}
					errs := map[string]error{}
					for name := range insts {
						cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
						outs[name], errs[name] = insts[name].Call(cctx, export, in)
						cancel()
						if errs[name] != nil {
							insts[name].Close(ctx)
							insts[name] = fresh(name) // a failed instance is never reused
						}
					}
					calls++
					if c1, c2 := errClass(errs[EngineExtism]), errClass(errs[EngineWazero]); c1 != c2 {
						t.Errorf("%s(%q): error class extism %s (%v), wazero %s (%v)", export, in, c1, errs[EngineExtism], c2, errs[EngineWazero])
						continue
					}
					if errs[EngineWazero] == nil && len(outs[EngineWazero]) > 0 {
						answered++
					}
					if !diffSkip[export] && !bytes.Equal(outs[EngineExtism], outs[EngineWazero]) {
						t.Errorf("%s(%q): outputs differ:\nextism %s\nwazero %s", export, in, outs[EngineExtism], outs[EngineWazero])
					}
				}
			}
			for _, inst := range insts {
				inst.Close(ctx)
			}
			if answered == 0 {
				t.Fatal("no call produced an output: nothing was compared")
			}
			t.Logf("%d calls agree, %d with an output", calls, answered)
		})
	}
}

// errClass names the engine error class of err.
func errClass(err error) string {
	for _, c := range []struct {
		name string
		err  error
	}{{"timeout", engine.ErrTimeout}, {"trap", engine.ErrTrap}, {"closed", engine.ErrClosed}, {"no-export", engine.ErrNoExport}} {
		if errors.Is(err, c.err) {
			return c.name
		}
	}
	if err != nil {
		return "other"
	}
	return "ok"
}
