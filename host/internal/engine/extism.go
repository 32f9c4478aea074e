package engine

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	extism "github.com/extism/go-sdk"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// ExtismConfig configures NewExtism.
type ExtismConfig struct {
	// CacheDir holds wazero's persistent compilation cache (machine code:
	// keep it writable only by the host). Empty uses an in-memory cache
	// shared by every module of this engine.
	CacheDir string
}

type extismEngine struct {
	cache wazero.CompilationCache
}

// NewExtism returns an Engine backed by the Extism go-sdk on wazero, with a
// compilation cache shared by all modules it compiles.
func NewExtism(cfg ExtismConfig) (Engine, error) {
	// go-sdk drops every guest log_* line unless its process-wide level is
	// set. Info keeps the guest's info/warn/error lines (Options.Logger
	// decides further) and skips go-sdk's own per-call debug lines.
	extism.SetLogLevel(extism.LogLevelInfo)
	var cache wazero.CompilationCache
	if cfg.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("engine: compilation cache %s: %w", cfg.CacheDir, err)
		}
		cache = c
	} else {
		cache = wazero.NewCompilationCache()
	}
	return &extismEngine{cache: cache}, nil
}

func (e *extismEngine) Close(ctx context.Context) error {
	if err := e.cache.Close(ctx); err != nil {
		return fmt.Errorf("engine: close cache: %w", err)
	}
	return nil
}

func (e *extismEngine) Compile(ctx context.Context, wasm []byte, opts Options) (Module, error) {
	pages := opts.MemoryPages
	if pages == 0 {
		pages = 1024
	}
	maxVar := opts.MaxVarBytes
	if maxVar <= 0 {
		maxVar = 1 << 20
	}
	ns := opts.Namespace
	fns := make([]extism.HostFunction, 0, len(opts.HostFuncs))
	for _, hf := range opts.HostFuncs {
		f := extism.NewHostFunctionWithStack(hf.Name, hostCallback(hf),
			[]extism.ValueType{extism.ValueTypePTR}, []extism.ValueType{extism.ValueTypePTR})
		f.SetNamespace(ns)
		fns = append(fns, f)
	}
	for _, sh := range envShims {
		f := extism.NewHostFunctionWithStack(sh.name, func(ctx context.Context, p *extism.CurrentPlugin, stack []uint64) {
			sc, _ := ctx.Value(shimKey{}).(*shimCtx)
			if sc == nil {
				panic(fmt.Errorf("env.%s called outside an instance call", sh.name))
			}
			sh.fn(sc.glog, sc.mem, stack)
		}, sh.params, sh.results)
		f.SetNamespace(EnvModule)
		fns = append(fns, f)
	}
	manifest := extism.Manifest{
		Wasm: []extism.Wasm{extism.WasmData{Data: wasm}},
		Memory: &extism.ManifestMemory{
			MaxPages: pages,
			// The built-in http_request is unusable (AllowedHosts is empty,
			// so every host is denied); authhost's http_do replaces it. Set
			// explicitly because zero means "disabled", not "default".
			MaxHttpResponseBytes: 1,
			MaxVarBytes:          maxVar,
		},
		Config:       opts.Config,
		AllowedHosts: nil,
		AllowedPaths: nil,
	}
	rc := wazero.NewRuntimeConfig().
		WithCompilationCache(e.cache).
		WithCloseOnContextDone(true)
	cp, err := extism.NewCompiledPlugin(ctx, manifest, extism.PluginConfig{
		RuntimeConfig: rc,
		EnableWasi:    true,
	}, fns)
	if err != nil {
		return nil, fmt.Errorf("engine: compile: %w", err)
	}
	maxLine := opts.MaxLogLine
	if maxLine <= 0 {
		maxLine = 8 << 10
	}
	return &extismModule{cp: cp, logger: opts.Logger, maxLine: maxLine}, nil
}

// hostCallback adapts a HostFunc to Extism's stack convention: one kernel
// memory offset in, one out.
func hostCallback(hf HostFunc) extism.HostFunctionStackCallback {
	limit := hf.MaxInput
	if limit <= 0 {
		limit = 1 << 20
	}
	return func(ctx context.Context, p *extism.CurrentPlugin, stack []uint64) {
		off := stack[0]
		n, err := p.Length(off)
		if err != nil {
			panic(fmt.Errorf("authhost %s: read request: %w", hf.Name, err))
		}
		if n > uint64(limit) {
			panic(fmt.Errorf("authhost %s: request of %d bytes exceeds %d", hf.Name, n, limit))
		}
		in, err := p.ReadBytes(off)
		if err != nil {
			panic(fmt.Errorf("authhost %s: read request: %w", hf.Name, err))
		}
		out := hf.Fn(ctx, in)
		res, err := p.WriteBytes(out)
		if err != nil {
			panic(fmt.Errorf("authhost %s: write response: %w", hf.Name, err))
		}
		stack[0] = res
	}
}

type extismModule struct {
	cp      *extism.CompiledPlugin
	logger  *slog.Logger
	maxLine int
}

// CodeBytes returns 0: the Extism go-sdk keeps its compiled module out of
// reach (the process-wide figure, ExecutableBytes, still counts it).
func (m *extismModule) CodeBytes() uint64 { return 0 }

func (m *extismModule) Close(ctx context.Context) error {
	if err := m.cp.Close(ctx); err != nil {
		return fmt.Errorf("engine: close module: %w", err)
	}
	return nil
}

func (m *extismModule) Instantiate(ctx context.Context) (Instance, error) {
	mc := wazero.NewModuleConfig().
		WithRandSource(crand.Reader).
		WithSysWalltime().
		WithSysNanotime().
		WithSysNanosleep()
	var stdout, stderr *lineWriter
	if m.logger != nil {
		stdout = newLineWriter(m.logger, "stdout", m.maxLine)
		stderr = newLineWriter(m.logger, "stderr", m.maxLine)
		mc = mc.WithStdout(stdout).WithStderr(stderr)
	} else {
		mc = mc.WithStdout(io.Discard).WithStderr(io.Discard)
	}
	p, err := m.cp.Instance(ctx, extism.PluginInstanceConfig{ModuleConfig: mc})
	if err != nil {
		return nil, fmt.Errorf("engine: instantiate: %w", err)
	}
	glog := newGuestLog(m.logger, m.maxLine)
	p.SetLogger(func(l extism.LogLevel, msg string) { glog.log(slogLevel(l), msg) })
	exports := make(map[string]bool)
	for name := range p.Module().ExportedFunctions() {
		exports[name] = true
	}
	return &extismInstance{p: p, exports: exports, stdout: stdout, stderr: stderr,
		shim: &shimCtx{glog: glog, mem: guestModule(p).Memory()}}, nil
}

type extismInstance struct {
	p              *extism.Plugin
	exports        map[string]bool
	closed         atomic.Bool // Close may run while a Call is in flight
	stdout, stderr *lineWriter
	shim           *shimCtx
}

// shimKey carries an instance's *shimCtx to the env shims through the ctx
// go-sdk hands host functions.
type shimKey struct{}

// shimCtx is what the env shims need of the calling instance: its log and
// the guest's linear memory (AssemblyScript strings live there).
type shimCtx struct {
	glog *guestLog
	mem  api.Memory
}

// guestModule returns the guest's own module, which go-sdk 1.7 keeps in
// the only field of extism.Module (CurrentPlugin.Memory is the kernel's).
// TestExtismConformance/AssemblyScript fails if that layout changes.
func guestModule(p *extism.Plugin) api.Module {
	var probe extism.Module
	if unsafe.Sizeof(probe) != unsafe.Sizeof(api.Module(nil)) {
		panic("engine: extism.Module layout changed")
	}
	return *(*api.Module)(unsafe.Pointer(p.Module()))
}

func (i *extismInstance) Exports() map[string]bool { return i.exports }

// MemoryBytes counts only the Extism kernel's memory: the go-sdk does
// not expose the guest module's.
func (i *extismInstance) MemoryBytes() uint64 {
	if mem := i.p.Memory(); mem != nil {
		return uint64(mem.Size())
	}
	return 0
}

func (i *extismInstance) Call(ctx context.Context, export string, input []byte) ([]byte, error) {
	if i.closed.Load() {
		return nil, ErrClosed
	}
	if !i.exports[export] {
		return nil, fmt.Errorf("%w: %q", ErrNoExport, export)
	}
	out, err := i.call(ctx, export, input)
	if err != nil {
		// A failed instance is never reused, whatever its caller does.
		i.Close(context.WithoutCancel(ctx))
	}
	return out, err
}

func (i *extismInstance) call(ctx context.Context, export string, input []byte) ([]byte, error) {
	ctx, cancel := realDeadline(ctx)
	defer cancel()
	ctx = context.WithValue(ctx, shimKey{}, i.shim)
	rc, out, err := i.p.CallWithContext(ctx, export, input)
	i.flush()
	if err != nil {
		var exit *sys.ExitError
		if errors.As(err, &exit) {
			switch exit.ExitCode() {
			case sys.ExitCodeDeadlineExceeded, sys.ExitCodeContextCanceled:
				return nil, fmt.Errorf("%w: %w", ErrTimeout, err)
			}
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %w (%w)", ErrTimeout, ctx.Err(), err)
		}
		return nil, fmt.Errorf("%w: %q: %w", ErrTrap, export, err)
	}
	if rc != 0 {
		return nil, fmt.Errorf("%w: %q returned code %d", ErrTrap, export, rc)
	}
	return out, nil
}

func (i *extismInstance) flush() {
	if i.stdout != nil {
		i.stdout.Flush()
		i.stderr.Flush()
	}
}

func (i *extismInstance) Close(ctx context.Context) error {
	if i.closed.Swap(true) {
		return nil
	}
	i.flush()
	if err := i.p.Close(ctx); err != nil {
		return fmt.Errorf("engine: close instance: %w", err)
	}
	return nil
}

func slogLevel(l extism.LogLevel) slog.Level {
	switch l {
	case extism.LogLevelTrace:
		return kernelLevels["log_trace"]
	case extism.LogLevelDebug:
		return slog.LevelDebug
	case extism.LogLevelInfo:
		return slog.LevelInfo
	case extism.LogLevelWarn:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…(truncated)"
}

// lineWriter logs each line written to it, truncating long lines and
// dropping lines beyond a budget per instance and minute, so a chatty or
// hostile guest cannot flood the host's log or memory.
type lineWriter struct {
	mu      sync.Mutex
	logger  *slog.Logger
	stream  string
	maxLine int
	buf     []byte
	window  time.Time // start of the current budget window
	budget  int       // lines left in the window
	dropped int
}

// maxLinesPerWindow bounds how many output lines one instance may log per
// logWindow.
const (
	maxLinesPerWindow = 1000
	logWindow         = time.Minute
)

func newLineWriter(l *slog.Logger, stream string, maxLine int) *lineWriter {
	return &lineWriter{logger: l, stream: stream, maxLine: maxLine, budget: maxLinesPerWindow, window: time.Now()}
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		idx := -1
		for j, c := range p {
			if c == '\n' {
				idx = j
				break
			}
		}
		if idx < 0 {
			room := w.maxLine + 1 - len(w.buf)
			if room > 0 {
				w.buf = append(w.buf, p[:min(room, len(p))]...)
			}
			break
		}
		room := w.maxLine + 1 - len(w.buf)
		if room > 0 {
			w.buf = append(w.buf, p[:min(room, idx)]...)
		}
		w.emit()
		p = p[idx+1:]
	}
	return n, nil
}

// Flush logs a pending partial line.
func (w *lineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit()
	}
}

func (w *lineWriter) emit() {
	line := string(w.buf)
	w.buf = w.buf[:0]
	if now := time.Now(); now.Sub(w.window) > logWindow {
		if w.dropped > 0 {
			w.logger.Warn("guest output lines dropped", "stream", w.stream, "dropped", w.dropped)
		}
		w.window, w.budget, w.dropped = now, maxLinesPerWindow, 0
	}
	if w.budget <= 0 {
		w.dropped++
		return
	}
	w.budget--
	w.logger.Info(truncate(line, w.maxLine), "stream", w.stream)
	if w.budget == 0 {
		w.logger.Warn("guest output limit reached; dropping lines for the rest of the minute", "stream", w.stream, "limit", maxLinesPerWindow)
	}
}
