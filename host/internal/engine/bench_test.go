package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/authhost/authhost/host/internal/engine"
	"github.com/authhost/authhost/host/internal/engine/enginetest"
)

// BenchmarkEngineCall measures a bare instance call (no host, no pool) on
// each engine, with no deadline, a CallDeadline and a timer context.
//
//	go test ./host/internal/engine -run '^$' -bench EngineCall -benchtime 20000x
func BenchmarkEngineCall(b *testing.B) {
	wasm := enginetest.GuestWasm(b)
	ctx := context.Background()
	for _, eng := range []struct {
		name string
		new  func() (engine.Engine, error)
	}{
		{"wazero", func() (engine.Engine, error) { return engine.NewWazero(engine.WazeroConfig{}) }},
		{"extism", func() (engine.Engine, error) { return engine.NewExtism(engine.ExtismConfig{}) }},
	} {
		b.Run("engine="+eng.name, func(b *testing.B) {
			e, err := eng.new()
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close(ctx)
			mod, err := e.Compile(ctx, wasm, engine.Options{Namespace: enginetest.Namespace, HostFuncs: []engine.HostFunc{
				{Name: "echo", Fn: func(_ context.Context, in []byte) []byte { return in }},
				{Name: "block", Fn: func(_ context.Context, in []byte) []byte { return in }},
			}})
			if err != nil {
				b.Fatal(err)
			}
			defer mod.Close(ctx)
			inst, err := mod.Instantiate(ctx)
			if err != nil {
				b.Fatal(err)
			}
			defer inst.Close(ctx)
			in := []byte(`{"id":"u1","email":"ada@example.com","name":"Ada"}`)
			for _, tc := range []struct {
				name, export string
				input        []byte
			}{{"noop", "noop", nil}, {"echo", "echo", in}, {"hostecho", "hostecho", in}} {
				b.Run(tc.name+"/nodeadline", func(b *testing.B) {
					for b.Loop() {
						if _, err := inst.Call(ctx, tc.export, tc.input); err != nil {
							b.Fatal(err)
						}
					}
				})
				b.Run(tc.name+"/calldeadline", func(b *testing.B) {
					for b.Loop() {
						if _, err := inst.Call(engine.CallDeadline(ctx, time.Now().Add(time.Second)), tc.export, tc.input); err != nil {
							b.Fatal(err)
						}
					}
				})
				b.Run(tc.name+"/timer", func(b *testing.B) {
					for b.Loop() {
						cctx, cancel := context.WithTimeout(ctx, time.Second)
						_, err := inst.Call(cctx, tc.export, tc.input)
						cancel()
						if err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
