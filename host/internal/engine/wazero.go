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

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

// WazeroConfig configures NewWazero.
type WazeroConfig struct {
	// CacheDir holds wazero's persistent compilation cache (machine code:
	// keep it writable only by the host). Empty compiles every module
	// afresh.
	CacheDir string
	// NoSnapshots makes every instance instantiate and initialise itself
	// instead of starting from the module's pre-initialised snapshot (see
	// snapshot.go): the oracle of the snapshot's differential test and the
	// baseline of its benchmark.
	NoSnapshots bool
}

// wazeroEngine runs Extism-ABI plugins on wazero directly: the Extism
// kernel is native Go (kernel.go), every export's api.Function is held per
// instance, and one watchdog per engine enforces call deadlines.
//
// Each module gets its own wazero.CompilationCache (on the shared
// directory when CacheDir is set), closed with the module: wazero v1.12
// keeps a closed module's machine code reachable from its engine's sorted
// module list (deleteCompiledModuleFromSortedList leaves the vacated tail
// slot set), so a closed module's executable memory is only given back
// once the engine behind it is closed too.
type wazeroEngine struct {
	cacheDir string
	dog      *watchdog
	// closeOnDone skips the loop instrumentation (tests of the fallback).
	closeOnDone bool
	// unchecked compiles modules with neither loop instrumentation nor
	// close-on-done, so a running guest cannot be stopped: only the
	// benchmark of what the instrumentation costs sets it.
	unchecked   bool
	noSnapshots bool
}

// NewWazero returns the direct wazero Engine. It runs any plugin built for
// the Extism plugin ABI (the transport of authhost ABI 1.x) unchanged.
func NewWazero(cfg WazeroConfig) (Engine, error) {
	if cfg.CacheDir != "" {
		// Fail now, not at the first compile, on an unusable directory.
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("engine: compilation cache %s: %w", cfg.CacheDir, err)
		}
		_ = c.Close(context.Background())
	}
	return &wazeroEngine{cacheDir: cfg.CacheDir, dog: newWatchdog(), noSnapshots: cfg.NoSnapshots}, nil
}

func (e *wazeroEngine) Close(context.Context) error {
	e.dog.stop()
	return nil
}

// newCache returns the compilation cache of one module.
func (e *wazeroEngine) newCache() (wazero.CompilationCache, error) {
	if e.cacheDir == "" {
		return wazero.NewCompilationCache(), nil
	}
	c, err := wazero.NewCompilationCacheWithDir(e.cacheDir)
	if err != nil {
		return nil, fmt.Errorf("compilation cache %s: %w", e.cacheDir, err)
	}
	return c, nil
}

// instKey carries the running *wazeroInstance in the ctx that wazero hands
// to host functions. Each instance builds that ctx once.
type instKey struct{}

func current(ctx context.Context) *wazeroInstance {
	i, ok := ctx.Value(instKey{}).(*wazeroInstance)
	if !ok {
		panic(errors.New("authhost engine: host function called outside an instance call"))
	}
	return i
}

func (e *wazeroEngine) Compile(ctx context.Context, wasm []byte, opts Options) (Module, error) {
	pages := opts.MemoryPages
	if pages == 0 {
		pages = 1024
	}
	maxVar := opts.MaxVarBytes
	if maxVar <= 0 {
		maxVar = 1 << 20
	}
	maxLine := opts.MaxLogLine
	if maxLine <= 0 {
		maxLine = 8 << 10
	}
	// A running guest is stopped through the stop global instrumentLoops
	// adds (see instrument.go). A module it cannot instrument falls back to
	// wazero's close-on-done: a call into Go at every loop header and a
	// goroutine per call, about six times slower on a Go echo.
	stoppable := false
	var plan *snapPlan
	// An unchecked engine gets neither the instrumentation nor (below)
	// close-on-done.
	if instrumented, p, why, err := instrumentLoops(wasm, !e.noSnapshots); err == nil && !e.closeOnDone && !e.unchecked {
		wasm, stoppable, plan = instrumented, true, p
		if why != "" && opts.Logger != nil {
			opts.Logger.Debug("engine: no pre-initialised snapshot; every instance initialises itself", "reason", why)
		}
	} else if err != nil {
		if opts.Logger != nil {
			opts.Logger.Warn("engine: loop instrumentation failed; using close-on-done (slower calls)", "err", err)
		}
	}
	cache, err := e.newCache()
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	rc := wazero.NewRuntimeConfig().
		WithCompilationCache(cache).
		WithCloseOnContextDone(!stoppable && !e.unchecked).
		WithMemoryLimitPages(pages)
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	fail := func(err error) (Module, error) {
		rt.Close(ctx)
		_ = cache.Close(ctx)
		return nil, fmt.Errorf("engine: compile: %w", err)
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		return fail(err)
	}
	if err := buildEnvModule(ctx, rt); err != nil {
		return fail(err)
	}
	if err := buildASEnvModule(ctx, rt); err != nil {
		return fail(err)
	}
	if len(opts.HostFuncs) > 0 {
		if err := buildUserModule(ctx, rt, opts.Namespace, opts.HostFuncs); err != nil {
			return fail(err)
		}
	}
	compiled, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		return fail(err)
	}
	exports := make(map[string]bool)
	for name := range compiled.ExportedFunctions() {
		exports[name] = true
	}
	return &wazeroModule{
		rt: rt, cache: cache, code: codeBytes(compiled), compiled: compiled, exports: exports, dog: e.dog, stoppable: stoppable, plan: plan,
		live:   make(map[*wazeroInstance]struct{}),
		logger: opts.Logger, maxLine: maxLine, config: opts.Config,
		memLimit: int(pages) * 65536, maxVar: maxVar,
	}, nil
}

type wazeroModule struct {
	rt        wazero.Runtime
	cache     wazero.CompilationCache // this module's alone
	code      uint64
	compiled  wazero.CompiledModule
	exports   map[string]bool
	stoppable bool // the guest carries the stop global
	dog       *watchdog
	logger    *slog.Logger
	maxLine   int
	config    map[string]string
	memLimit  int
	maxVar    int64
	// plan is how instances start from a snapshot; nil when the module
	// does not qualify (see snapshot.go).
	plan *snapPlan
	// snap is the snapshot, taken by the first instance that initialised
	// itself; nil until then, and for good once noSnap is set.
	snap   atomic.Pointer[snapshot]
	noSnap atomic.Bool

	mu   sync.Mutex
	live map[*wazeroInstance]struct{}
}

// closeGrace bounds how long Module.Close waits for halted calls to leave
// the guest before it releases the compiled code under them.
const closeGrace = 5 * time.Second

// Close halts every running call, waits (bounded) until they have left
// the guest, then releases the runtime with every instance.
func (m *wazeroModule) Close(ctx context.Context) error {
	m.mu.Lock()
	insts := make([]*wazeroInstance, 0, len(m.live))
	for i := range m.live {
		insts = append(insts, i)
	}
	m.mu.Unlock()
	for _, i := range insts {
		i.halt()
	}
	for wait := time.Now().Add(closeGrace); time.Now().Before(wait); {
		busy := false
		for _, i := range insts {
			busy = busy || i.running.Load()
		}
		if !busy {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := m.rt.Close(ctx); err != nil {
		return fmt.Errorf("engine: close module: %w", err)
	}
	// With a compilation cache the engine (and its compiled code) outlives
	// the runtime: closing the module and then its cache (the engine)
	// makes the module's executable memory unreachable.
	if err := m.compiled.Close(ctx); err != nil {
		return fmt.Errorf("engine: close compiled module: %w", err)
	}
	if err := m.cache.Close(ctx); err != nil {
		return fmt.Errorf("engine: close module cache: %w", err)
	}
	return nil
}

// CodeBytes returns the module's machine code (see codeBytes).
func (m *wazeroModule) CodeBytes() uint64 { return m.code }

func (m *wazeroModule) Instantiate(ctx context.Context) (Instance, error) {
	i := &wazeroInstance{
		m:      m,
		kernel: newKernel(m.memLimit),
		fns:    make(map[string]api.Function, 4),
		vars:   make(map[string][]byte),
		glog:   newGuestLog(m.logger, m.maxLine),
	}
	i.ctx, i.cancel = context.WithCancel(context.WithValue(context.Background(), instKey{}, i))
	i.entry.inst = i
	i.entry.index = -1
	var snap *snapshot
	var data []dataSegment
	var rnd io.Reader = crand.Reader
	if m.plan != nil {
		// The segments first: they are dropped only after the snapshot is
		// set, so an instance that finds them gone finds the snapshot.
		if d := m.plan.data.Load(); d != nil {
			data = *d
		}
		if snap = m.snap.Load(); snap == nil {
			rnd = randCounter{i} // _initialize's draws decide on the snapshot
		}
	}
	mc := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions(). // _initialize runs below, with the instance ready
		WithRandSource(rnd).
		WithSysWalltime().
		WithSysNanotime().
		WithSysNanosleep()
	if m.logger != nil {
		i.stdout = newLineWriter(m.logger, "stdout", m.maxLine)
		i.stderr = newLineWriter(m.logger, "stderr", m.maxLine)
		mc = mc.WithStdout(i.stdout).WithStderr(i.stderr)
	} else {
		mc = mc.WithStdout(io.Discard).WithStderr(io.Discard)
	}
	instCtx := i.ctx
	var alloc experimental.MemoryAllocator
	if snap != nil {
		alloc = snap.memory(&i.running)
		instCtx = experimental.WithMemoryAllocator(instCtx, alloc)
	}
	mod, err := m.rt.InstantiateModule(instCtx, m.compiled, mc)
	if err != nil {
		i.cancel()
		return nil, fmt.Errorf("engine: instantiate: %w", err)
	}
	i.mod = mod
	if m.stoppable {
		g, ok := mod.ExportedGlobal(stopGlobal).(api.MutableGlobal)
		if !ok {
			mod.Close(ctx)
			i.cancel()
			return nil, fmt.Errorf("engine: instantiate: the stop global is missing")
		}
		i.stop = g
	}
	m.mu.Lock()
	m.live[i] = struct{}{}
	m.mu.Unlock()
	if snap != nil {
		if err := m.plan.restore(i, snap, alloc); err != nil {
			i.Close(ctx)
			return nil, fmt.Errorf("engine: instantiate: restore snapshot: %w", err)
		}
		return i, nil
	}
	if m.plan != nil {
		if err := applyData(mod.Memory(), data); err != nil {
			i.Close(ctx)
			return nil, fmt.Errorf("engine: instantiate: %w", err)
		}
	}
	// A WASI reactor (Go, Rust, C built for wasip1) initialises its runtime
	// in _initialize; do it now, off the request path.
	if m.exports["_initialize"] {
		if _, err := i.Call(ctx, "_initialize", nil); err != nil {
			return nil, fmt.Errorf("engine: instantiate: _initialize: %w", err)
		}
	}
	if m.plan != nil && !m.noSnap.Load() && m.snap.Load() == nil && m.takeSnapshot(i) {
		// i's memory is a private Go-heap buffer of the whole image; an
		// instance restored from the snapshot shares the image's pages
		// until it writes them, so that is the one handed out.
		if r, err := m.Instantiate(ctx); err == nil {
			i.Close(ctx)
			return r, nil
		}
	}
	return i, nil
}

// takeSnapshot makes i, just initialised, the module's snapshot, unless
// its initialisation created state outside the instance. It reports
// whether i's state became the snapshot.
func (m *wazeroModule) takeSnapshot(i *wazeroInstance) bool {
	if i.hostCalls > 0 {
		m.noSnap.Store(true)
		if m.logger != nil {
			m.logger.Debug("engine: no pre-initialised snapshot; _initialize called a host function")
		}
		return false
	}
	if i.randReads > m.plan.runtimeRandReads {
		// The guest drew randomness for itself (a key, a nonce, an id):
		// every restored instance would share it.
		m.noSnap.Store(true)
		if m.logger != nil {
			m.logger.Debug("engine: no pre-initialised snapshot; _initialize read random bytes", "reads", i.randReads)
		}
		return false
	}
	s, err := m.plan.capture(i)
	if err != nil {
		m.noSnap.Store(true)
		if m.logger != nil {
			m.logger.Warn("engine: no pre-initialised snapshot", "err", err)
		}
		return false
	}
	if !m.snap.CompareAndSwap(nil, s) {
		return false
	}
	m.plan.dropData()
	return true
}

type wazeroInstance struct {
	m   *wazeroModule
	mod api.Module
	// fns holds the api.Function of every export called so far (each
	// costs wazero a call engine with its own stack: made on first use).
	fns map[string]api.Function
	// hostCalls counts calls of the authhost host functions; one during
	// _initialize rules out a snapshot.
	hostCalls int
	// randReads counts the WASI random_get calls of an instance that
	// initialises itself.
	randReads int
	// ctx is the ctx of every wasm call of this instance: it carries the
	// instance to host functions, and cancel (by the watchdog or Close)
	// makes wazero's close-on-done stop a running call of a module that
	// could not be instrumented. It is never reset: an instance halted
	// once is dead.
	ctx    context.Context
	cancel context.CancelFunc
	// stop is the instance's stop global (nil without instrumentation):
	// 1 makes the guest trap at its next loop iteration.
	stop   api.MutableGlobal
	kernel *kernel
	vars   map[string][]byte
	// glog takes the guest's kernel log_* and env shim lines.
	glog  *guestLog
	stack [2]uint64

	// callCtx is the ctx of the call in flight; hostCtx, derived from it
	// with a real deadline on the first host function call, is what
	// HostFunc.Fn gets.
	callCtx    context.Context
	hostCtx    context.Context
	hostCancel context.CancelFunc
	entry      dogEntry

	closed         atomic.Bool
	running        atomic.Bool
	halted         atomic.Bool
	stdout, stderr *lineWriter
}

func (i *wazeroInstance) Exports() map[string]bool { return i.m.exports }

func (i *wazeroInstance) MemoryBytes() uint64 {
	var n uint64
	if mem := i.mod.Memory(); mem != nil {
		n = uint64(mem.Size())
	}
	if i.kernel != nil {
		n += uint64(len(i.kernel.mem))
	}
	return n
}

func (i *wazeroInstance) Call(ctx context.Context, export string, input []byte) ([]byte, error) {
	fn := i.fns[export]
	if fn == nil {
		if i.closed.Load() {
			return nil, ErrClosed
		}
		if !i.m.exports[export] {
			return nil, fmt.Errorf("%w: %q", ErrNoExport, export)
		}
		fn = i.mod.ExportedFunction(export)
		i.fns[export] = fn
	}
	i.running.Store(true)
	if i.closed.Load() {
		i.running.Store(false)
		return nil, ErrClosed
	}
	out, err := i.call(ctx, fn, export, input)
	i.running.Store(false)
	if err != nil || i.closed.Load() {
		// A failed instance is never reused, whatever its caller does; and
		// an instance closed during the call is released here.
		i.closed.Store(true)
		i.halt()
		i.m.mu.Lock()
		delete(i.m.live, i)
		i.m.mu.Unlock()
		i.mod.Close(context.WithoutCancel(ctx))
		if err == nil {
			out, err = nil, fmt.Errorf("%w: closed during %q", ErrClosed, export)
		}
	}
	return out, err
}

func (i *wazeroInstance) call(ctx context.Context, fn api.Function, export string, input []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %q: %w", ErrTimeout, export, err)
	}
	k := i.kernel
	k.reset()
	if err := k.setInput(input); err != nil {
		return nil, fmt.Errorf("%w: %q: %w", ErrTrap, export, err)
	}
	i.callCtx = ctx
	deadline, hasDeadline := ctx.Deadline()
	if hasDeadline {
		i.m.dog.watch(&i.entry, deadline)
	}
	// wazero gets the instance's own ctx, not the caller's: the deadline
	// reaches a running guest through the watchdog (the stop global), not
	// through a watcher goroutine per call.
	err := fn.CallWithStack(i.ctx, i.stack[:])
	fired := hasDeadline && !i.m.dog.unwatch(&i.entry)
	if !fired && ctx.Err() != nil {
		fired = true // canceled while running: a host function returned early
	}
	i.callCtx = nil
	if i.hostCancel != nil {
		i.hostCancel()
		i.hostCtx, i.hostCancel = nil, nil
	}
	i.flush()
	if fired {
		if err == nil {
			err = context.DeadlineExceeded
		}
		return nil, fmt.Errorf("%w: %q: %w", ErrTimeout, export, err)
	}
	if err != nil {
		var exit *sys.ExitError
		if errors.As(err, &exit) {
			switch exit.ExitCode() {
			case sys.ExitCodeDeadlineExceeded, sys.ExitCodeContextCanceled:
				return nil, fmt.Errorf("%w: %q: %w", ErrTimeout, export, err)
			}
		}
		return nil, fmt.Errorf("%w: %q: %w", ErrTrap, export, err)
	}
	if len(fn.Definition().ResultTypes()) > 0 {
		if rc := uint32(i.stack[0]); rc != 0 {
			if msg := k.errorMessage(); msg != "" {
				return nil, fmt.Errorf("%w: %q returned code %d: %s", ErrTrap, export, rc, msg)
			}
			return nil, fmt.Errorf("%w: %q returned code %d", ErrTrap, export, rc)
		}
	}
	if msg := k.errorMessage(); msg != "" {
		return nil, fmt.Errorf("%w: %q set an error: %s", ErrTrap, export, msg)
	}
	out, err := k.outputBytes()
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %w", ErrTrap, export, err)
	}
	return out, nil
}

// hostContext returns the ctx host functions get: the call's ctx with its
// deadline as a real Done channel, created once per call on first use.
func (i *wazeroInstance) hostContext() context.Context {
	if i.hostCtx == nil {
		if i.callCtx == nil {
			return context.Background() // _initialize calling a host function
		}
		i.hostCtx, i.hostCancel = realDeadline(i.callCtx)
	}
	return i.hostCtx
}

// randCounter is crypto/rand counting the reads of an instance.
type randCounter struct{ i *wazeroInstance }

func (c randCounter) Read(b []byte) (int, error) {
	c.i.randReads++
	return crand.Read(b)
}

// expire stops a call past its deadline. Called by the watchdog.
func (i *wazeroInstance) expire() { i.halt() }

// halt makes a running call stop at its next loop iteration (through the
// stop global, or through wazero's close-on-done for a module that could
// not be instrumented) and every later call fail.
func (i *wazeroInstance) halt() {
	if i.stop != nil && i.halted.CompareAndSwap(false, true) {
		i.stop.Set(1) // once: the watchdog and Close may both halt
	}
	i.cancel()
}

func (i *wazeroInstance) flush() {
	if i.stdout != nil {
		i.stdout.Flush()
		i.stderr.Flush()
	}
}

// Close may run while a Call is in flight (to abort it): then it only
// cancels, and the call releases the module on its way out, so no
// resource is freed under running code.
func (i *wazeroInstance) Close(ctx context.Context) error {
	if i.closed.Swap(true) {
		return nil
	}
	i.halt()
	i.m.mu.Lock()
	delete(i.m.live, i)
	i.m.mu.Unlock()
	if i.running.Load() {
		return nil
	}
	if err := i.mod.Close(ctx); err != nil {
		return fmt.Errorf("engine: close instance: %w", err)
	}
	return nil
}

// varSet stores (or with an empty value deletes) a plugin variable,
// bounded by MaxVarBytes over all variables.
func (i *wazeroInstance) varSet(name string, value []byte, del bool) error {
	if del {
		delete(i.vars, name)
		return nil
	}
	size := int64(len(name) + len(value))
	for k, v := range i.vars {
		if k != name {
			size += int64(len(k) + len(v))
		}
	}
	if size > i.m.maxVar {
		return fmt.Errorf("variables would take %d bytes, limit %d", size, i.m.maxVar)
	}
	i.vars[name] = append([]byte(nil), value...)
	return nil
}

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// buildEnvModule instantiates extism:host/env, the Extism kernel ABI, over
// the native kernel of the calling instance.
func buildEnvModule(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder("extism:host/env")
	fn := func(name string, f func(i *wazeroInstance, stack []uint64), params, results []api.ValueType) {
		b.NewFunctionBuilder().WithGoFunction(api.GoFunc(func(ctx context.Context, stack []uint64) {
			f(current(ctx), stack)
		}), params, results).Export(name)
	}
	oob := func(what string, off uint64) {
		panic(fmt.Errorf("extism %s: offset %d outside kernel memory", what, off))
	}
	fn("alloc", func(i *wazeroInstance, s []uint64) { s[0] = i.kernel.alloc(s[0]) }, []api.ValueType{i64}, []api.ValueType{i64})
	fn("free", func(i *wazeroInstance, s []uint64) { i.kernel.release(s[0]) }, []api.ValueType{i64}, nil)
	fn("length", func(i *wazeroInstance, s []uint64) { s[0] = i.kernel.length(s[0]) }, []api.ValueType{i64}, []api.ValueType{i64})
	fn("length_unsafe", func(i *wazeroInstance, s []uint64) { s[0] = i.kernel.length(s[0]) }, []api.ValueType{i64}, []api.ValueType{i64})
	fn("load_u8", func(i *wazeroInstance, s []uint64) {
		v, ok := i.kernel.loadU8(s[0])
		if !ok {
			oob("load_u8", s[0])
		}
		s[0] = uint64(v)
	}, []api.ValueType{i64}, []api.ValueType{i32})
	fn("load_u64", func(i *wazeroInstance, s []uint64) {
		v, ok := i.kernel.loadU64(s[0])
		if !ok {
			oob("load_u64", s[0])
		}
		s[0] = v
	}, []api.ValueType{i64}, []api.ValueType{i64})
	fn("store_u8", func(i *wazeroInstance, s []uint64) {
		if !i.kernel.storeU8(s[0], byte(s[1])) {
			oob("store_u8", s[0])
		}
	}, []api.ValueType{i64, i32}, nil)
	fn("store_u64", func(i *wazeroInstance, s []uint64) {
		if !i.kernel.storeU64(s[0], s[1]) {
			oob("store_u64", s[0])
		}
	}, []api.ValueType{i64, i64}, nil)
	fn("input_length", func(i *wazeroInstance, s []uint64) { s[0] = i.kernel.inputLen }, nil, []api.ValueType{i64})
	fn("input_offset", func(i *wazeroInstance, s []uint64) { s[0] = i.kernel.input }, nil, []api.ValueType{i64})
	fn("input_load_u8", func(i *wazeroInstance, s []uint64) {
		k := i.kernel
		if s[0] >= k.inputLen {
			oob("input_load_u8", s[0])
		}
		v, _ := k.loadU8(k.input + s[0])
		s[0] = uint64(v)
	}, []api.ValueType{i64}, []api.ValueType{i32})
	fn("input_load_u64", func(i *wazeroInstance, s []uint64) {
		k := i.kernel
		if s[0]+8 > k.inputLen || s[0]+8 < s[0] {
			oob("input_load_u64", s[0])
		}
		v, _ := k.loadU64(k.input + s[0])
		s[0] = v
	}, []api.ValueType{i64}, []api.ValueType{i64})
	fn("input_set", func(i *wazeroInstance, s []uint64) {
		if _, ok := i.kernel.span(s[0], s[1]); !ok && s[1] > 0 {
			oob("input_set", s[0])
		}
		i.kernel.input, i.kernel.inputLen = s[0], s[1]
	}, []api.ValueType{i64, i64}, nil)
	fn("output_set", func(i *wazeroInstance, s []uint64) {
		if _, ok := i.kernel.span(s[0], s[1]); !ok && s[1] > 0 {
			oob("output_set", s[0])
		}
		i.kernel.output, i.kernel.outputLen = s[0], s[1]
	}, []api.ValueType{i64, i64}, nil)
	fn("output_length", func(i *wazeroInstance, s []uint64) { s[0] = i.kernel.outputLen }, nil, []api.ValueType{i64})
	fn("output_offset", func(i *wazeroInstance, s []uint64) { s[0] = i.kernel.output }, nil, []api.ValueType{i64})
	fn("error_set", func(i *wazeroInstance, s []uint64) { i.kernel.errOff = s[0] }, []api.ValueType{i64}, nil)
	fn("error_get", func(i *wazeroInstance, s []uint64) { s[0] = i.kernel.errOff }, nil, []api.ValueType{i64})
	fn("reset", func(i *wazeroInstance, s []uint64) { i.kernel.reset() }, nil, nil)
	fn("memory_bytes", func(i *wazeroInstance, s []uint64) { s[0] = uint64(len(i.kernel.mem)) }, nil, []api.ValueType{i64})
	fn("config_get", func(i *wazeroInstance, s []uint64) {
		key, err := i.kernel.bytes(s[0])
		if err != nil {
			panic(fmt.Errorf("extism config_get: %w", err))
		}
		v, ok := i.m.config[string(key)]
		if !ok {
			s[0] = 0
			return
		}
		off, err := i.kernel.write([]byte(v))
		if err != nil {
			panic(fmt.Errorf("extism config_get: %w", err))
		}
		s[0] = off
	}, []api.ValueType{i64}, []api.ValueType{i64})
	fn("var_get", func(i *wazeroInstance, s []uint64) {
		name, err := i.kernel.bytes(s[0])
		if err != nil {
			panic(fmt.Errorf("extism var_get: %w", err))
		}
		v, ok := i.vars[string(name)]
		i.kernel.release(s[0])
		if !ok {
			s[0] = 0
			return
		}
		off, err := i.kernel.write(v)
		if err != nil {
			panic(fmt.Errorf("extism var_get: %w", err))
		}
		s[0] = off
	}, []api.ValueType{i64}, []api.ValueType{i64})
	fn("var_set", func(i *wazeroInstance, s []uint64) {
		name, err := i.kernel.bytes(s[0])
		if err != nil {
			panic(fmt.Errorf("extism var_set: %w", err))
		}
		var value []byte
		if s[1] != 0 {
			if value, err = i.kernel.bytes(s[1]); err != nil {
				panic(fmt.Errorf("extism var_set: %w", err))
			}
		}
		if err := i.varSet(string(name), value, s[1] == 0); err != nil {
			panic(fmt.Errorf("extism var_set: %w", err))
		}
		i.kernel.release(s[0])
		i.kernel.release(s[1])
	}, []api.ValueType{i64, i64}, nil)
	// The built-in HTTP of Extism is off: authhost's http_do replaces it
	// (every host is denied, as AllowedHosts is empty in the Extism engine).
	fn("http_request", func(i *wazeroInstance, s []uint64) {
		panic(errors.New("extism http_request is disabled: use the authhost http_do host function"))
	}, []api.ValueType{i64, i64}, []api.ValueType{i64})
	fn("http_status_code", func(i *wazeroInstance, s []uint64) { s[0] = 0 }, nil, []api.ValueType{i32})
	fn("http_headers", func(i *wazeroInstance, s []uint64) { s[0] = 0 }, nil, []api.ValueType{i64})
	fn("get_log_level", func(i *wazeroInstance, s []uint64) { s[0] = 2 }, nil, []api.ValueType{i32}) // info, in Extism's numbering
	for name, level := range kernelLevels {
		fn(name, func(i *wazeroInstance, s []uint64) {
			msg, err := i.kernel.bytes(s[0])
			if err != nil {
				panic(fmt.Errorf("extism %s: %w", name, err))
			}
			if level >= slog.LevelInfo {
				i.glog.log(level, string(msg))
			}
			i.kernel.release(s[0])
		}, []api.ValueType{i64}, nil)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("extism:host/env: %w", err)
	}
	return nil
}

// buildUserModule instantiates the host functions: one kernel block in,
// one out, as with go-sdk's NewHostFunctionWithStack.
func buildUserModule(ctx context.Context, rt wazero.Runtime, ns string, fns []HostFunc) error {
	b := rt.NewHostModuleBuilder(ns)
	for _, hf := range fns {
		limit := uint64(hf.MaxInput)
		if limit == 0 {
			limit = 1 << 20
		}
		b.NewFunctionBuilder().WithGoFunction(api.GoFunc(func(ctx context.Context, stack []uint64) {
			i := current(ctx)
			i.hostCalls++
			off := stack[0]
			if n := i.kernel.length(off); n > limit {
				panic(fmt.Errorf("authhost %s: request of %d bytes exceeds %d", hf.Name, n, limit))
			}
			in, err := i.kernel.bytes(off)
			if err != nil {
				panic(fmt.Errorf("authhost %s: read request: %w", hf.Name, err))
			}
			out := hf.Fn(i.hostContext(), in)
			res, err := i.kernel.write(out)
			if err != nil {
				panic(fmt.Errorf("authhost %s: write response: %w", hf.Name, err))
			}
			stack[0] = res
		}), []api.ValueType{i64}, []api.ValueType{i64}).Export(hf.Name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("host module %s: %w", ns, err)
	}
	return nil
}
