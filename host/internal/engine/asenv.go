package engine

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// EnvModule is the import module of AssemblyScript's standard imports.
const EnvModule = "env"

// KernelModule is the import module of the Extism kernel.
const KernelModule = "extism:host/env"

// maxASString bounds how many bytes of one AssemblyScript string the env
// shims read from guest memory (a log line is truncated further).
const maxASString = 64 << 10

// envShim is one of AssemblyScript's standard env imports, offered in the
// sandbox's terms. Both engines register the same table.
type envShim struct {
	name            string
	params, results []api.ValueType
	fn              func(g *guestLog, mem api.Memory, stack []uint64)
}

var f64 = api.ValueTypeF64

// envShims: abort traps after logging where; seed is the CSPRNG; Date.now
// the wall clock; console.log and trace go to the plugin's log at debug.
var envShims = []envShim{
	{"abort", []api.ValueType{i32, i32, i32, i32}, nil, func(g *guestLog, mem api.Memory, s []uint64) {
		msg, file := asString(mem, uint32(s[0])), asString(mem, uint32(s[1]))
		line, col := uint32(s[2]), uint32(s[3])
		g.log(slog.LevelError, "guest aborted: "+msg, "where", file+":"+strconv.FormatUint(uint64(line), 10)+":"+strconv.FormatUint(uint64(col), 10))
		panic(fmt.Errorf("guest aborted: %s at %s:%d:%d", truncate(msg, 256), truncate(file, 256), line, col))
	}},
	{"seed", nil, []api.ValueType{f64}, func(_ *guestLog, _ api.Memory, s []uint64) {
		var b [8]byte
		if _, err := crand.Read(b[:]); err != nil {
			panic(fmt.Errorf("env.seed: %w", err))
		}
		s[0] = api.EncodeF64(float64(binary.LittleEndian.Uint64(b[:])>>11) / (1 << 53))
	}},
	{"Date.now", nil, []api.ValueType{f64}, func(_ *guestLog, _ api.Memory, s []uint64) {
		s[0] = api.EncodeF64(float64(time.Now().UnixMilli()))
	}},
	{"console.log", []api.ValueType{i32}, nil, func(g *guestLog, mem api.Memory, s []uint64) {
		g.log(slog.LevelDebug, asString(mem, uint32(s[0])), "via", "console.log")
	}},
	{"trace", []api.ValueType{i32, i32, f64, f64, f64, f64, f64}, nil, func(g *guestLog, mem api.Memory, s []uint64) {
		var b strings.Builder
		b.WriteString(asString(mem, uint32(s[0])))
		n := min(int(int32(uint32(s[1]))), 5)
		for j := 0; j < n; j++ {
			b.WriteString(" ")
			b.WriteString(strconv.FormatFloat(api.DecodeF64(s[2+j]), 'g', -1, 64))
		}
		g.log(slog.LevelDebug, b.String(), "via", "trace")
	}},
}

// asString decodes the AssemblyScript string at ptr: UTF-16LE, its byte
// length in the object header at ptr-4. Out-of-bounds reads give a marker,
// never a panic: the string is only ever logged.
func asString(mem api.Memory, ptr uint32) string {
	if ptr == 0 {
		return "null"
	}
	if mem == nil || ptr < 4 {
		return "<bad string pointer>"
	}
	n, ok := mem.ReadUint32Le(ptr - 4)
	if !ok {
		return "<bad string pointer>"
	}
	n = min(n, maxASString) &^ 1
	b, ok := mem.Read(ptr, n)
	if !ok {
		return "<bad string pointer>"
	}
	u := make([]uint16, len(b)/2)
	for j := range u {
		u[j] = binary.LittleEndian.Uint16(b[2*j:])
	}
	return string(utf16.Decode(u))
}

// guestLog is one instance's log of kernel log_* lines and env shim lines:
// truncated per line and bounded per instance and minute, like stdout.
type guestLog struct {
	logger  *slog.Logger
	maxLine int

	mu      sync.Mutex
	window  time.Time
	budget  int
	dropped int
}

func newGuestLog(l *slog.Logger, maxLine int) *guestLog {
	return &guestLog{logger: l, maxLine: maxLine, window: time.Now(), budget: maxLinesPerWindow}
}

// log writes one guest line at level, unless the instance's budget for
// this minute is spent. A nil g or logger discards.
func (g *guestLog) log(level slog.Level, msg string, attrs ...any) {
	if g == nil || g.logger == nil || !g.logger.Enabled(context.Background(), level) {
		return
	}
	g.mu.Lock()
	if now := time.Now(); now.Sub(g.window) > logWindow {
		if g.dropped > 0 {
			g.logger.Warn("guest log lines dropped", "stream", "extism", "dropped", g.dropped)
		}
		g.window, g.budget, g.dropped = now, maxLinesPerWindow, 0
	}
	if g.budget <= 0 {
		g.dropped++
		g.mu.Unlock()
		return
	}
	g.budget--
	last := g.budget == 0
	g.mu.Unlock()
	g.logger.Log(context.Background(), level, truncate(msg, g.maxLine), append([]any{"stream", "extism"}, attrs...)...)
	if last {
		g.logger.Warn("guest log limit reached; dropping lines for the rest of the minute", "stream", "extism", "limit", maxLinesPerWindow)
	}
}

// kernelLevels maps the Extism kernel's log_* functions to slog levels.
// Lines below info are dropped in both engines (get_log_level answers
// info, so PDKs skip building them).
var kernelLevels = map[string]slog.Level{
	"log_trace": slog.LevelDebug - 4, "log_debug": slog.LevelDebug, "log_info": slog.LevelInfo,
	"log_warn": slog.LevelWarn, "log_error": slog.LevelError,
}

// Func describes one function a plugin may import.
type Func struct {
	Params, Results []api.ValueType
}

// String renders the signature like (i32,i64)->(f64).
func (f Func) String() string {
	names := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for j, t := range ts {
			s[j] = api.ValueTypeName(t)
		}
		return "(" + strings.Join(s, ",") + ")"
	}
	return names(f.Params) + "->" + names(f.Results)
}

// offered is every function both engines provide without host functions:
// WASI preview 1, the Extism kernel and the env shims, read from the host
// modules the direct engine instantiates.
var offered = sync.OnceValues(func() (map[string]map[string]Func, error) {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		return nil, fmt.Errorf("engine: offered: %w", err)
	}
	if err := buildEnvModule(ctx, rt); err != nil {
		return nil, fmt.Errorf("engine: offered: %w", err)
	}
	if err := buildASEnvModule(ctx, rt); err != nil {
		return nil, fmt.Errorf("engine: offered: %w", err)
	}
	out := make(map[string]map[string]Func)
	for _, name := range []string{wasi_snapshot_preview1.ModuleName, KernelModule, EnvModule} {
		fns := make(map[string]Func)
		for n, d := range rt.Module(name).ExportedFunctionDefinitions() {
			fns[n] = Func{Params: d.ParamTypes(), Results: d.ResultTypes()}
		}
		out[name] = fns
	}
	return out, nil
})

// Offered returns every function a plugin compiled with opts may import,
// by import module and name: WASI preview 1, the Extism kernel, the
// AssemblyScript env shims and opts.HostFuncs in opts.Namespace. Both
// engines offer exactly these.
func Offered(opts Options) (map[string]map[string]Func, error) {
	base, err := offered()
	if err != nil {
		return nil, err
	}
	out := make(map[string]map[string]Func, len(base)+1)
	for k, v := range base {
		out[k] = v
	}
	if len(opts.HostFuncs) > 0 {
		user := make(map[string]Func, len(opts.HostFuncs))
		for _, hf := range opts.HostFuncs {
			user[hf.Name] = Func{Params: []api.ValueType{i64}, Results: []api.ValueType{i64}}
		}
		out[opts.Namespace] = user
	}
	return out, nil
}

// buildASEnvModule instantiates the env shims for the direct engine.
func buildASEnvModule(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(EnvModule)
	for _, sh := range envShims {
		b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
			var g *guestLog
			if i, ok := ctx.Value(instKey{}).(*wazeroInstance); ok {
				g = i.glog
			}
			sh.fn(g, mod.Memory(), stack)
		}), sh.params, sh.results).Export(sh.name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("env: %w", err)
	}
	return nil
}
