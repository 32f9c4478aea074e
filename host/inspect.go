package host

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/host/internal/engine"
)

// Report is what Inspect found in one plugin file. It encodes to JSON for
// `authhost inspect --json`.
type Report struct {
	File         string           `json:"file"`
	ABI          string           `json:"abi"`
	Name         string           `json:"name"`
	Version      string           `json:"version"`
	Capabilities []abi.Capability `json:"capabilities"`
	// Detected lists the capabilities whose required exports are all
	// present, declared or not.
	Detected []abi.Capability `json:"detected"`
	// Exports lists every exported function, sorted.
	Exports []string `json:"exports"`
	// Describe is the full describe document, when describe succeeded.
	Describe *abi.Describe `json:"describe,omitempty"`
	// Problems lists what would stop the host from loading the file; empty
	// means it loads.
	Problems []string `json:"problems"`
}

// OK reports whether the file would load.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// Inspect compiles the plugin at path (using the compilation cache in
// cacheDir when non-empty), calls its describe export with default limits
// and host functions that refuse every request, and reports its ABI
// version, identity, capabilities, exports and problems. The error is
// non-nil only when the file cannot be read or compiled.
func Inspect(ctx context.Context, path, cacheDir string) (Report, error) {
	return InspectConfig(ctx, path, cacheDir, nil)
}

// InspectConfig is Inspect, and when configs holds an entry for the
// plugin's name it also passes that configuration to the plugin's
// authhost_configure (when offered): a refusal is a problem naming
// plugins.<name>.config.<field>, as at load.
func InspectConfig(ctx context.Context, path, cacheDir string, configs map[string]json.RawMessage) (Report, error) {
	rep := Report{File: path, Capabilities: []abi.Capability{}, Detected: []abi.Capability{}, Exports: []string{}, Problems: []string{}}
	wasm, err := os.ReadFile(path)
	if err != nil {
		return rep, fmt.Errorf("host: inspect: %w", err)
	}
	if err := checkWasmHeader(wasm); err != nil {
		rep.Problems = append(rep.Problems, err.Error())
		return rep, fmt.Errorf("host: inspect %s: %w", path, err)
	}
	if cacheDir != "" {
		if err := os.MkdirAll(cacheDir, 0o700); err != nil {
			return rep, fmt.Errorf("host: inspect: cache dir: %w", err)
		}
	}
	eng, err := newEngine(EngineWazero, cacheDir)
	if err != nil {
		return rep, fmt.Errorf("host: inspect: %w", err)
	}
	defer eng.Close(context.Background())
	l := builtinLimits()
	opts := engine.Options{
		Namespace:   abi.HostNamespace,
		HostFuncs:   hostFuncs(&envSlot{}, l), // empty slot: every host call fails as a value
		MemoryPages: uint32(l.MaxMemoryMiB) * 16,
	}
	if err := checkImports(wasm, opts); err != nil {
		rep.Problems = append(rep.Problems, err.Error())
		return rep, nil
	}
	mod, err := eng.Compile(ctx, wasm, opts)
	if err != nil {
		rep.Problems = append(rep.Problems, err.Error())
		return rep, fmt.Errorf("host: inspect %s: %w", path, err)
	}
	defer mod.Close(context.Background())
	d, exports, err := describeModule(ctx, mod, time.Duration(abi.DefaultCallTimeoutMS)*time.Millisecond)
	if exports != nil {
		rep.Exports = slices.Sorted(maps.Keys(exports))
		for _, c := range abi.Capabilities {
			if len(abi.MissingExports(c, exports)) == 0 {
				rep.Detected = append(rep.Detected, c)
			}
		}
	}
	if err != nil {
		rep.Problems = append(rep.Problems, err.Error())
		return rep, nil
	}
	rep.ABI, rep.Name, rep.Version = d.ABI, d.Name, d.Version
	if d.Capabilities != nil {
		rep.Capabilities = slices.Clone(d.Capabilities)
	}
	rep.Describe = &d
	rep.Problems = append(rep.Problems, verify(d, exports)...)
	if cfg, ok := configs[d.Name]; ok && len(rep.Problems) == 0 && d.Offers(abi.ExportConfigure, exports) {
		if err := inspectConfigure(ctx, eng, wasm, d.Name, cfg); err != nil {
			rep.Problems = append(rep.Problems, err.Error())
		}
	}
	return rep, nil
}

// inspectConfigure compiles wasm with cfg as its "config" key and calls
// authhost_configure on one instance.
func inspectConfigure(ctx context.Context, eng engine.Engine, wasm []byte, name string, cfg json.RawMessage) error {
	if len(cfg) == 0 {
		cfg = json.RawMessage("{}")
	}
	l := builtinLimits()
	mod, err := eng.Compile(ctx, wasm, engine.Options{
		Namespace:   abi.HostNamespace,
		HostFuncs:   hostFuncs(&envSlot{}, l),
		MemoryPages: uint32(l.MaxMemoryMiB) * 16,
		Config:      map[string]string{"config": string(cfg)},
	})
	if err != nil {
		return fmt.Errorf("%s: %w", abi.ExportConfigure, err)
	}
	defer mod.Close(context.Background())
	inst, err := mod.Instantiate(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", abi.ExportConfigure, err)
	}
	defer inst.Close(context.Background())
	in, err := json.Marshal(abi.ConfigureRequest{Config: cfg})
	if err != nil {
		return fmt.Errorf("%s: encode input: %w", abi.ExportConfigure, err)
	}
	cctx, cancel := context.WithTimeout(ctx, l.CallTimeout)
	defer cancel()
	raw, err := inst.Call(cctx, abi.ExportConfigure, in)
	if err == nil {
		err = abi.Decode(raw, nil)
	}
	return configError(name, err)
}
