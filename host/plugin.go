package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/host/internal/engine"
)

// Errors a call may wrap (match with errors.Is). Every error a Plugin
// returns is an *auth.Error; these sentinels tell the failure kinds apart.
var (
	// ErrTimeout: the call ran past its deadline; the instance was discarded.
	ErrTimeout = errors.New("host: call deadline exceeded")
	// ErrInstanceFailed: the instance trapped, panicked, exited, ran out of
	// memory or could not be created; it was discarded.
	ErrInstanceFailed = errors.New("host: plugin instance failed")
	// ErrUnhealthy: the plugin kept crashing and fails closed for a while.
	ErrUnhealthy = errors.New("host: plugin unhealthy")
	// ErrOutputTooLarge: the call's output exceeded MaxOutputBytes.
	ErrOutputTooLarge = errors.New("host: plugin output too large")
	// ErrMalformedOutput: the output was not a well-formed envelope.
	ErrMalformedOutput = errors.New("host: malformed plugin output")
	// ErrClosed: the plugin or manager was closed.
	ErrClosed = errors.New("host: plugin closed")
)

// Plugin is one loaded provider: its compiled module, a pool of instances,
// health accounting and the capability adapters. It is safe for concurrent
// use.
type Plugin struct {
	name    string
	file    string
	desc    abi.Describe
	exports map[string]bool
	cfg     PluginConfig
	logger  *slog.Logger
	onCall  func(CallRecord)
	module  *lazyModule
	pool    *pool
	health  *health
	now     func() time.Time
	// sha256 is the hex SHA-256 of the file as compiled; generation is
	// the Manager's load count when it was loaded, at loadedAt.
	sha256     string
	generation uint64
	loadedAt   time.Time
	// selected is Config.Selected's verdict at load (it decides the warm
	// instances); a reload that changes it loads the plugin anew.
	selected bool

	calls    atomic.Int64
	errs     atomic.Int64
	latMu    sync.Mutex
	lat      [latencyRing]time.Duration
	latN     int
	adapters adapters
}

const latencyRing = 1024

// Name returns the provider name from describe.
func (p *Plugin) Name() string { return p.name }

// File returns the path of the .wasm file the plugin was loaded from.
func (p *Plugin) File() string { return p.file }

// SHA256 returns the hex SHA-256 of the file the plugin was compiled from.
func (p *Plugin) SHA256() string { return p.sha256 }

// Generation returns the number of the Manager load (1 for the first) that
// loaded this plugin. A reload that keeps it serving (its file and
// settings are unchanged, or its replacement failed to load) keeps its
// generation.
func (p *Plugin) Generation() uint64 { return p.generation }

// LoadedAt returns when the plugin was loaded; a reload that keeps it
// keeps its LoadedAt.
func (p *Plugin) LoadedAt() time.Time { return p.loadedAt }

// Describe returns the provider's describe document.
func (p *Plugin) Describe() abi.Describe {
	d := p.desc
	d.Capabilities = slices.Clone(d.Capabilities)
	d.Implements = slices.Clone(d.Implements)
	d.Demo = slices.Clone(d.Demo)
	if t := d.SessionTransport; t != nil {
		c := *t
		c.Cookies = slices.Clone(t.Cookies)
		d.SessionTransport = &c
	}
	d.ConfigSchema = slices.Clone(d.ConfigSchema)
	if d.Login != nil {
		l := *d.Login
		d.Login = &l
	}
	return d
}

// Exports returns the sorted names of the module's exported functions.
func (p *Plugin) Exports() []string { return slices.Sorted(maps.Keys(p.exports)) }

// HasExport reports whether the module exports name.
func (p *Plugin) HasExport(name string) bool { return p.exports[name] }

// Offers reports whether the provider offers export: exported and, for an
// optional export of a provider built for abi 1.2 or later, listed in
// describe's implements (abi.Describe.Offers).
func (p *Plugin) Offers(export string) bool { return p.desc.Offers(export, p.exports) }

// Has reports whether the provider declared capability c.
func (p *Plugin) Has(c abi.Capability) bool { return slices.Contains(p.desc.Capabilities, c) }

// Stats is a snapshot of a plugin's counters.
type Stats struct {
	Calls int64 `json:"calls"`
	// Errors counts faults: calls that crashed, timed out, failed in the
	// host, answered malformed output, or answered a failed envelope with
	// code internal or unavailable. Business outcomes (invalid_credentials,
	// not_found, already_exists, invalid_request, forbidden,
	// unauthenticated, sign_up_disabled, rate_limited, not_supported) are
	// answers, not errors, and are not counted.
	Errors           int64 `json:"errors"`
	Discards         int64 `json:"discards"`         // instances discarded after a failure
	InstancesCreated int64 `json:"instancesCreated"` // instances ever created
	PoolSize         int   `json:"poolSize"`         // the cap
	PoolWarm         int   `json:"poolWarm"`         // kept alive; 0 for a plugin no capability selects
	Reaped           int64 `json:"reaped"`           // idle instances closed after the idle timeout
	// Surplus counts healthy instances closed at once because the pool
	// already held enough: one handed back while the pool was over its
	// size (created on the request path while the filler raced it), and
	// the warm-up instances beyond pool_warm after load, and any handed
	// back to a closed pool. InstancesCreated − Discards − Reaped − Surplus
	// is the number alive.
	Surplus         int64  `json:"surplus"`
	IdleMemoryBytes uint64 `json:"idleMemoryBytes"` // linear memory of the idle instances
	// MemoryBytes is the linear memory of every instance: the idle ones'
	// now, the busy ones' as their last call left it (0 for one still in
	// its first call).
	MemoryBytes uint64 `json:"memoryBytes"`
	// CodeBytes is the machine code of the compiled module (0 while it is
	// not compiled: a plugin nothing selects).
	CodeBytes      uint64        `json:"codeBytes"`
	Instances      int           `json:"instances"` // alive now
	InUse          int           `json:"inUse"`
	P50            time.Duration `json:"p50"`
	P99            time.Duration `json:"p99"`
	Healthy        bool          `json:"healthy"`
	UnhealthyUntil time.Time     `json:"unhealthyUntil,omitzero"`
	Failures       int           `json:"consecutiveFailures"`
}

// Stats returns the plugin's counters; latencies cover the last 1024 calls.
func (p *Plugin) Stats() Stats {
	live, inUse := p.pool.sizes()
	idleMem, mem := p.pool.memory()
	s := Stats{
		Calls:            p.calls.Load(),
		Errors:           p.errs.Load(),
		Discards:         p.pool.discards.Load(),
		InstancesCreated: p.pool.created.Load(),
		PoolSize:         p.pool.max,
		PoolWarm:         p.pool.warm,
		Reaped:           p.pool.reaped.Load(),
		Surplus:          p.pool.surplus.Load(),
		IdleMemoryBytes:  idleMem,
		MemoryBytes:      mem,
		CodeBytes:        p.module.CodeBytes(),
		Instances:        live,
		InUse:            inUse,
	}
	p.latMu.Lock()
	n := min(p.latN, latencyRing)
	lat := slices.Clone(p.lat[:n])
	p.latMu.Unlock()
	if n > 0 {
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		s.P50 = lat[(n-1)*50/100]
		s.P99 = lat[(n-1)*99/100]
	}
	s.Healthy, s.UnhealthyUntil, s.Failures = p.health.state(p.now())
	return s
}

// Call calls export with in (encoded as JSON; []byte and json.RawMessage
// are passed as is) and decodes the envelope's data into out (nil ignores
// it). A failed envelope is returned as an *auth.Error with the provider's
// code; every other failure is an *auth.Error of code internal or
// unavailable wrapping one of the Err* sentinels. An export the module
// lacks gives auth.ErrNotSupported.
func (p *Plugin) Call(ctx context.Context, export string, in any, out any) error {
	var input []byte
	switch v := in.(type) {
	case nil:
		input = []byte("{}")
	case []byte:
		input = v
	case json.RawMessage:
		input = v
	default:
		raw, err := json.Marshal(v)
		if err != nil {
			return &auth.Error{Code: auth.CodeInternal, Message: fmt.Sprintf("plugin %q: %s: encode input", p.name, export), Err: err}
		}
		input = raw
	}
	start := time.Now()
	raw, err := p.callRaw(ctx, export, input)
	if err != nil {
		p.observe(export, start, err)
		return err
	}
	if err := abi.Decode(raw, out); err != nil {
		var ae *abi.Error
		if errors.As(err, &ae) {
			if ae.Code == abi.CodeInternal || ae.Code == abi.CodeUnavailable || !ae.Code.Valid() {
				p.errs.Add(1)
			}
			err = &auth.Error{Code: auth.Code(ae.Code), Message: ae.Message}
			p.observe(export, start, err)
			return err
		}
		p.errs.Add(1)
		err = &auth.Error{Code: auth.CodeInternal, Message: fmt.Sprintf("plugin %q: %s", p.name, export), Err: fmt.Errorf("%w: %w", ErrMalformedOutput, err)}
		p.observe(export, start, err)
		return err
	}
	p.observe(export, start, nil)
	return nil
}

// CallRaw calls export with raw input bytes and returns the raw output,
// without envelope decoding. Errors are as for Call.
func (p *Plugin) CallRaw(ctx context.Context, export string, input []byte) ([]byte, error) {
	start := time.Now()
	out, err := p.callRaw(ctx, export, input)
	p.observe(export, start, err)
	return out, err
}

func (p *Plugin) callRaw(ctx context.Context, export string, input []byte) ([]byte, error) {
	start := time.Now()
	p.calls.Add(1)
	out, err := p.invoke(ctx, export, input)
	d := time.Since(start)
	p.latMu.Lock()
	p.lat[p.latN%latencyRing] = d
	p.latN++
	p.latMu.Unlock()
	if err != nil {
		p.errs.Add(1)
	}
	return out, err
}

// observe reports a finished call to the OnCall hook.
func (p *Plugin) observe(export string, start time.Time, err error) {
	if p.onCall == nil {
		return
	}
	p.onCall(CallRecord{Plugin: p.name, Export: export, Outcome: callOutcome(err), Duration: time.Since(start)})
}

// callOutcome classifies a call's error for CallRecord.Outcome.
func callOutcome(err error) string {
	var ae *auth.Error
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrTimeout):
		return "timeout"
	case errors.Is(err, ErrInstanceFailed), errors.Is(err, ErrMalformedOutput), errors.Is(err, ErrOutputTooLarge):
		return "failure"
	case errors.As(err, &ae) && ae.Code == auth.CodeUnavailable:
		return "unavailable"
	case errors.As(err, &ae) && ae.Err == nil:
		return "error" // the provider's own error envelope
	}
	return "failure"
}

func (p *Plugin) errorf(code auth.Code, export string, err error) error {
	return &auth.Error{Code: code, Message: fmt.Sprintf("plugin %q: %s", p.name, export), Err: err}
}

func (p *Plugin) invoke(ctx context.Context, export string, input []byte) ([]byte, error) {
	if !p.exports[export] {
		return nil, &auth.Error{Code: auth.CodeNotSupported, Message: fmt.Sprintf("plugin %q does not export %s", p.name, export)}
	}
	if len(input) > p.cfg.Limits.MaxInputBytes {
		return nil, &auth.Error{Code: auth.CodeInvalidRequest, Message: fmt.Sprintf("plugin %q: %s: input of %d bytes exceeds %d", p.name, export, len(input), p.cfg.Limits.MaxInputBytes)}
	}
	if until, ok := p.health.allow(p.now()); !ok {
		return nil, p.errorf(auth.CodeUnavailable, export, fmt.Errorf("%w until %s", ErrUnhealthy, until.Format(time.RFC3339)))
	}
	inst, err := p.pool.get(ctx)
	if err != nil {
		switch {
		case errors.Is(err, ErrClosed):
			return nil, p.errorf(auth.CodeUnavailable, export, err)
		case ctx.Err() != nil:
			return nil, p.errorf(auth.CodeUnavailable, export, fmt.Errorf("wait for an instance: %w", ctx.Err()))
		}
		p.failure(export, err)
		return nil, p.errorf(auth.CodeUnavailable, export, fmt.Errorf("%w: %w", ErrInstanceFailed, err))
	}
	// The engine enforces the deadline itself (no timer per call).
	out, err := inst.Call(engine.CallDeadline(ctx, time.Now().Add(p.cfg.Limits.CallTimeout)), export, input)
	if err != nil {
		p.pool.put(inst, false)
		if !errors.Is(ctx.Err(), context.Canceled) { // a caller hanging up is not the plugin's fault
			p.failure(export, err)
		}
		if errors.Is(err, engine.ErrTimeout) {
			return nil, p.errorf(auth.CodeUnavailable, export, fmt.Errorf("%w (%s): %w", ErrTimeout, p.cfg.Limits.CallTimeout, err))
		}
		return nil, p.errorf(auth.CodeInternal, export, fmt.Errorf("%w: %w", ErrInstanceFailed, err))
	}
	p.pool.put(inst, true)
	p.health.success()
	if len(out) > p.cfg.Limits.MaxOutputBytes {
		return nil, p.errorf(auth.CodeInternal, export, fmt.Errorf("%w: %d bytes exceeds %d", ErrOutputTooLarge, len(out), p.cfg.Limits.MaxOutputBytes))
	}
	return out, nil
}

func (p *Plugin) failure(export string, err error) {
	tripped, backoff := p.health.failure(p.now())
	p.logger.Warn("plugin call failed; instance discarded", "export", export, "err", err)
	if tripped {
		p.logger.Error("plugin marked unhealthy; its calls fail closed", "backoff", backoff)
	}
}

// close stops new calls and releases the module once in-flight calls end.
func (p *Plugin) close() { p.pool.close() }

// pool holds up to max instances of one module; one caller uses an
// instance at a time. It keeps at least warm instances alive: they are
// created in the background at load and whenever a failed instance is
// discarded, so replacing one happens off the request path. It grows on
// demand up to max and closes an instance beyond warm once it has been
// idle for idleTimeout, so a burst's instances give their memory back. A
// healthy instance goes back to the pool as it is (the engine resets only
// the per-call state, at the start of the next call).
type pool struct {
	max         int
	warm        int
	idleTimeout time.Duration
	sem         chan struct{}
	create      func(ctx context.Context) (engine.Instance, error)
	release     func() // closes the module once closed and empty
	logger      *slog.Logger
	now         func() time.Time
	mu          sync.Mutex
	idle        []idleInstance             // oldest first; get takes the newest
	busyMem     map[engine.Instance]uint64 // in use: memory as last put back
	reaper      *time.Timer                // armed while instances beyond warm are idle
	live        int                        // idle + in use + being created
	inUse       int
	filling     bool
	closed      bool
	released    bool
	created     atomic.Int64
	discards    atomic.Int64
	reaped      atomic.Int64
	surplus     atomic.Int64
}

// idleInstance is a pooled instance, when it was last put back and its
// linear memory then.
type idleInstance struct {
	inst  engine.Instance
	since time.Time
	mem   uint64
}

func newPool(max, warm int, idleTimeout time.Duration, create func(context.Context) (engine.Instance, error), release func(), logger *slog.Logger) *pool {
	return &pool{max: max, warm: min(warm, max), idleTimeout: idleTimeout, sem: make(chan struct{}, max), create: create, release: release, logger: logger, now: time.Now,
		busyMem: map[engine.Instance]uint64{}}
}

// refill starts the background filler unless it runs already or warm
// instances are alive.
func (p *pool) refill() {
	p.mu.Lock()
	start := !p.filling && !p.closed && p.live < p.warm
	if start {
		p.filling = true
	}
	p.mu.Unlock()
	if start {
		go p.fill()
	}
}

// fill creates idle instances until warm are alive or the pool closes.
func (p *pool) fill() {
	defer p.maybeRelease()
	for {
		p.mu.Lock()
		if p.closed || p.live >= p.warm {
			p.filling = false
			p.mu.Unlock()
			return
		}
		p.live++
		p.mu.Unlock()
		inst, err := p.create(context.Background())
		p.mu.Lock()
		switch {
		case err != nil:
			p.live--
			p.filling = false
			p.mu.Unlock()
			p.logger.Warn("pre-warming a plugin instance failed", "err", err)
			return
		case p.closed:
			p.live--
			p.mu.Unlock()
			_ = inst.Close(context.Background())
		default:
			p.idle = append(p.idle, idleInstance{inst: inst, since: p.now(), mem: inst.MemoryBytes()})
			p.mu.Unlock()
			p.created.Add(1)
		}
	}
}

func (p *pool) sizes() (live, inUse int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.live, p.inUse
}

// memory returns the linear memory bytes of the idle instances, and of
// every instance (the busy ones' as their last call left it: they are
// their callers' to touch).
func (p *pool) memory() (idle, all uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.idle {
		idle += e.mem
	}
	all = idle
	for _, n := range p.busyMem {
		all += n
	}
	return idle, all
}

// get returns an idle instance or creates one, waiting (bounded by ctx)
// while max instances are in use.
func (p *pool) get(ctx context.Context) (engine.Instance, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.sem
		return nil, ErrClosed
	}
	p.inUse++
	if n := len(p.idle); n > 0 {
		e := p.idle[n-1]
		p.idle[n-1] = idleInstance{} // a stale slot would keep a closed instance's module alive
		p.idle = p.idle[:n-1]
		p.busyMem[e.inst] = e.mem
		p.mu.Unlock()
		return e.inst, nil
	}
	p.live++
	p.mu.Unlock()
	inst, err := p.create(context.WithoutCancel(ctx))
	if err != nil {
		p.mu.Lock()
		p.live--
		p.inUse--
		p.mu.Unlock()
		<-p.sem
		p.maybeRelease()
		return nil, err
	}
	p.created.Add(1)
	p.mu.Lock()
	p.busyMem[inst] = 0
	p.mu.Unlock()
	return inst, nil
}

// put returns an instance; an unhealthy one is closed and never reused,
// and its replacement is created in the background. An instance beyond
// max (created on the request path while the filler was busy) is closed.
func (p *pool) put(inst engine.Instance, healthy bool) {
	var mem uint64
	if healthy {
		mem = inst.MemoryBytes()
	}
	p.mu.Lock()
	p.inUse--
	delete(p.busyMem, inst)
	keep := healthy && !p.closed && p.live <= p.max
	if keep {
		p.idle = append(p.idle, idleInstance{inst: inst, since: p.now(), mem: mem})
		p.armReaper()
	} else {
		p.live--
	}
	p.mu.Unlock()
	if !keep {
		if healthy {
			p.surplus.Add(1)
		} else {
			p.discards.Add(1)
		}
		_ = inst.Close(context.Background())
	}
	<-p.sem
	if !healthy {
		p.refill()
	}
	p.maybeRelease()
}

// armReaper schedules reap while instances beyond warm sit idle. p.mu is
// held.
func (p *pool) armReaper() {
	if p.reaper != nil || p.closed || p.idleTimeout <= 0 || p.live <= p.warm || len(p.idle) == 0 {
		return
	}
	wait := p.idle[0].since.Add(p.idleTimeout).Sub(p.now())
	p.reaper = time.AfterFunc(max(wait, 0), p.reap)
}

// reap closes the instances beyond warm that have been idle for
// idleTimeout, oldest first, and re-arms itself for the next.
func (p *pool) reap() {
	p.mu.Lock()
	p.reaper = nil
	cutoff := p.now().Add(-p.idleTimeout)
	var expired []engine.Instance
	for len(expired) < len(p.idle) && p.live > p.warm && !p.idle[len(expired)].since.After(cutoff) {
		expired = append(expired, p.idle[len(expired)].inst)
		p.live--
	}
	p.idle = slices.Delete(p.idle, 0, len(expired)) // clears the vacated slots
	p.armReaper()
	p.mu.Unlock()
	for _, inst := range expired {
		_ = inst.Close(context.Background())
	}
	p.reaped.Add(int64(len(expired)))
	p.maybeRelease()
}

// trim closes the idle instances beyond warm at once: after load, the
// warm-up instance of a plugin that keeps none warm.
func (p *pool) trim() {
	p.mu.Lock()
	var extra []engine.Instance
	for len(extra) < len(p.idle) && p.live > p.warm {
		extra = append(extra, p.idle[len(extra)].inst)
		p.live--
	}
	p.idle = slices.Delete(p.idle, 0, len(extra)) // clears the vacated slots
	p.mu.Unlock()
	for _, inst := range extra {
		_ = inst.Close(context.Background())
	}
	p.surplus.Add(int64(len(extra)))
}

func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	if p.reaper != nil {
		p.reaper.Stop()
		p.reaper = nil
	}
	idle := p.idle
	p.idle = nil
	p.live -= len(idle)
	p.mu.Unlock()
	for _, e := range idle {
		_ = e.inst.Close(context.Background())
	}
	p.maybeRelease()
}

func (p *pool) maybeRelease() {
	p.mu.Lock()
	do := p.closed && p.live == 0 && !p.released
	if do {
		p.released = true
	}
	p.mu.Unlock()
	if do && p.release != nil {
		p.release()
	}
}

// health implements fail-closed marking of a crashing plugin.
type health struct {
	cfg          Health
	mu           sync.Mutex
	consecutive  int
	firstFailure time.Time
	until        time.Time
	backoff      time.Duration
}

// allow reports whether calls may proceed at now.
func (h *health) allow(now time.Time) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.until, !now.Before(h.until)
}

func (h *health) success() {
	h.mu.Lock()
	if h.consecutive != 0 || h.backoff != 0 {
		h.consecutive, h.backoff = 0, 0
	}
	h.mu.Unlock()
}

// failure records an instance failure and reports whether it (re)marked
// the plugin unhealthy, with the backoff chosen. While a plugin is on
// probation after a backoff, one more failure trips it again with twice
// the backoff; a success clears everything.
func (h *health) failure(now time.Time) (bool, time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.consecutive == 0 || now.Sub(h.firstFailure) > h.cfg.Window {
		h.consecutive = 0
		h.firstFailure = now
	}
	h.consecutive++
	switch {
	case h.backoff > 0:
		h.backoff = min(2*h.backoff, h.cfg.MaxBackoff)
	case h.consecutive >= h.cfg.FailureThreshold:
		h.backoff = h.cfg.Backoff
	default:
		return false, 0
	}
	h.until = now.Add(h.backoff)
	return true, h.backoff
}

func (h *health) state(now time.Time) (bool, time.Time, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if now.Before(h.until) {
		return false, h.until, h.consecutive
	}
	return true, time.Time{}, h.consecutive
}
