package host

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/host/internal/engine"
	"github.com/authhost/authhost/internal/testenv/wasmbuild"
)

// TestSnapshotsAgree is the differential test of the wazero engine's
// pre-initialised snapshots: every first-party plugin's exports, called
// with the same inputs on instances restored from a snapshot and on
// instances that initialised themselves (NoSnapshots, the oracle), give
// the same output bytes and the same error class.
func TestSnapshotsAgree(t *testing.T) {
	t.Parallel()
	paths := wasmbuild.BuildAll(t, firstParty...)
	l := builtinLimits()
	opts := engine.Options{Namespace: abi.HostNamespace, HostFuncs: hostFuncs(&envSlot{}, l), MemoryPages: uint32(l.MaxMemoryMiB) * 16}
	engs := map[bool]engine.Engine{}
	for _, noSnap := range []bool{false, true} {
		e, err := engine.NewWazero(engine.WazeroConfig{CacheDir: testCacheDir, NoSnapshots: noSnap})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close(context.Background()) })
		engs[noSnap] = e
	}
	name := map[bool]string{false: "snapshot", true: "fresh"}
	for i, path := range paths {
		t.Run(filepath.Base(firstParty[i]), func(t *testing.T) {
			wasm, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			mods := map[bool]engine.Module{}
			logs := newRecorder()
			for noSnap, e := range engs {
				o := opts
				o.Logger = slog.New(logs)
				mod, err := e.Compile(ctx, wasm, o)
				if err != nil {
					t.Fatalf("%s: compile: %v", name[noSnap], err)
				}
				t.Cleanup(func() { mod.Close(context.Background()) })
				mods[noSnap] = mod
			}
			instantiate := func(noSnap bool) engine.Instance {
				inst, err := mods[noSnap].Instantiate(ctx)
				if err != nil {
					t.Fatalf("%s: instantiate: %v", name[noSnap], err)
				}
				return inst
			}
			// The first instance takes the snapshot; the ones compared
			// below are restored from it.
			instantiate(false).Close(ctx)
			if recs := logs.find("no pre-initialised snapshot"); len(recs) > 0 {
				t.Fatalf("the plugin gets no snapshot: %s %v", recs[0].Msg, recs[0].Attrs)
			}
			agree(t, "fresh", "snapshot", func(kind string) engine.Instance { return instantiate(kind == "fresh") })
		})
	}
}
