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
			agree(t, EngineExtism, EngineWazero, fresh)
		})
	}
}

// agree calls every export of two kinds of instance of one module, the
// oracle and the subject, with diffInputs, and reports an export whose
// error class or output differs. fresh makes an instance of a kind; an
// instance that failed a call is replaced (a failed instance is never
// reused).
func agree(t *testing.T, oracle, subject string, fresh func(kind string) engine.Instance) {
	t.Helper()
	ctx := context.Background()
	insts := map[string]engine.Instance{oracle: fresh(oracle), subject: fresh(subject)}
	if !maps.Equal(insts[oracle].Exports(), insts[subject].Exports()) {
		t.Fatalf("exports differ: %s %v, %s %v", oracle, slices.Sorted(maps.Keys(insts[oracle].Exports())), subject, slices.Sorted(maps.Keys(insts[subject].Exports())))
	}
	calls, answered := 0, 0
	for _, export := range slices.Sorted(maps.Keys(insts[oracle].Exports())) {
		if export == "_initialize" || export == "_start" {
			continue
		}
		for _, in := range diffInputs {
			outs := map[string][]byte{}
			errs := map[string]error{}
			for kind := range insts {
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				outs[kind], errs[kind] = insts[kind].Call(cctx, export, in)
				cancel()
				if errs[kind] != nil {
					insts[kind].Close(ctx)
					insts[kind] = fresh(kind)
				}
			}
			calls++
			if c1, c2 := errClass(errs[oracle]), errClass(errs[subject]); c1 != c2 {
				t.Errorf("%s(%q): error class %s %s (%v), %s %s (%v)", export, in, oracle, c1, errs[oracle], subject, c2, errs[subject])
				continue
			}
			if errs[subject] == nil && len(outs[subject]) > 0 {
				answered++
			}
			if !diffSkip[export] && !bytes.Equal(outs[oracle], outs[subject]) {
				t.Errorf("%s(%q): outputs differ:\n%s %s\n%s %s", export, in, oracle, outs[oracle], subject, outs[subject])
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
