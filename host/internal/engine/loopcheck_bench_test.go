package engine_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/host/internal/engine"
	"github.com/authhost/authhost/internal/testenv/wasmbuild"
)

// echoInput is the 218-byte document of host's echo benchmarks.
const echoInput = `{"id":"user_01HZX3K8Q9V7","email":"ada.lovelace@example.com","name":"Ada Lovelace","roles":["admin","editor"],"active":true,"logins":42,"labels":{"region":"eu-west-1","team":"core"},"created_at":"2025-05-15T10:30:00Z"}`

// BenchmarkLoopChecks weighs the loop instrumentation (instrument.go) on
// the Go-PDK JSON echo of host's benchmarks, whose encoding/json is all
// loops: checks=on is the engine as it runs, checks=off the same module
// without instrumentation (and without close-on-done), which no deadline
// could stop. TestLoopChecksEcho checks both give the same output.
//
//	go test ./host/internal/engine -run '^$' -bench LoopChecks -benchtime 3000x -count 3
func BenchmarkLoopChecks(b *testing.B) {
	for _, c := range loopCheckCases(b) {
		b.Run("checks="+c.name, func(b *testing.B) {
			for _, export := range []string{"echo_bytes", "echo_decode", "echo"} {
				b.Run(export, func(b *testing.B) {
					ctx := engine.CallDeadline(context.Background(), time.Now().Add(time.Hour))
					in := []byte(echoInput)
					best := time.Duration(1<<63 - 1)
					for done := 0; done < b.N; done += minBatch {
						start := time.Now()
						for range minBatch {
							if _, err := c.inst.Call(ctx, export, in); err != nil {
								b.Fatal(err)
							}
						}
						best = min(best, time.Since(start))
					}
					b.ReportMetric(float64(best.Nanoseconds())/minBatch, "min-ns/op")
				})
			}
		})
	}
}

// TestLoopChecksEcho checks the instrumented and the unchecked echo both
// return the input as the envelope's data (as JSON: the Go PDK writes map
// keys in no particular order), so BenchmarkLoopChecks compares the same
// work.
func TestLoopChecksEcho(t *testing.T) {
	var want any
	if err := json.Unmarshal([]byte(echoInput), &want); err != nil {
		t.Fatal(err)
	}
	for _, c := range loopCheckCases(t) {
		out, err := c.inst.Call(context.Background(), "echo", []byte(echoInput))
		if err != nil {
			t.Fatalf("checks=%s: %v", c.name, err)
		}
		var env struct {
			OK   bool `json:"ok"`
			Data any  `json:"data"`
		}
		if err := json.Unmarshal(out, &env); err != nil || !env.OK || !reflect.DeepEqual(env.Data, want) {
			t.Fatalf("checks=%s: echo = %s (%v)", c.name, out, err)
		}
	}
}

// minBatch is the batch size of BenchmarkLoopChecks's min-ns/op: the
// mean of the fastest batch, which leaves out the guest's GC cycles and
// most of what other processes do to the run.
const minBatch = 10

type loopCheckCase struct {
	name string
	inst engine.Instance
}

// loopCheckCases returns one instance of host's echo test plugin per mode
// of the wazero engine: instrumented (on) and unchecked (off).
func loopCheckCases(tb testing.TB) []loopCheckCase {
	tb.Helper()
	wasm, err := os.ReadFile(wasmbuild.Build(tb, filepath.Join("..", "..", "testdata", "plugins", "echo")))
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	var funcs []engine.HostFunc
	for _, name := range []string{abi.HostKVGet, abi.HostKVSet, abi.HostKVDelete, abi.HostHTTPDo, abi.HostLog,
		abi.HostKVCAS, abi.HostPasswordHash, abi.HostPasswordVerify, abi.HostJWSVerify} {
		funcs = append(funcs, engine.HostFunc{Name: name, Fn: func(context.Context, []byte) []byte { return []byte(`{"ok":true}`) }})
	}
	var cases []loopCheckCase
	for _, m := range []struct {
		name string
		new  func() (engine.Engine, error)
	}{
		{"on", func() (engine.Engine, error) { return engine.NewWazero(engine.WazeroConfig{NoSnapshots: true}) }},
		{"off", engine.NewWazeroUnchecked},
	} {
		eng, err := m.new()
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { eng.Close(ctx) })
		mod, err := eng.Compile(ctx, wasm, engine.Options{Namespace: abi.HostNamespace, HostFuncs: funcs})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { mod.Close(ctx) })
		inst, err := mod.Instantiate(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { inst.Close(ctx) })
		cases = append(cases, loopCheckCase{m.name, inst})
	}
	return cases
}
