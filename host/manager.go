package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/host/internal/engine"
)

// Manager loads the provider plugins of a directory and owns their
// compiled modules, instance pools and host functions. It is safe for
// concurrent use.
type Manager struct {
	cfg     Config
	eng     engine.Engine
	egress  egressTransports
	kvLocks sync.Map // provider name → *kvLock, kept across reloads
	now     func() time.Time

	mu      sync.RWMutex
	plugins []*Plugin // sorted by file
	byName  map[string]*Plugin
	closed  bool
	// superseded are the plugins a Reload replaced that the caller has
	// not released yet; Close closes them too.
	superseded map[*Plugin]bool
	// loadFailures are the errors of the last load, by file.
	loadFailures map[string]error

	// reloadMu serializes loads; generation counts them.
	reloadMu   sync.Mutex
	generation uint64

	modMu   sync.Mutex
	modCond *sync.Cond
	modules int // compiled modules not yet released
}

// New validates cfg and returns a Manager with no plugins loaded yet.
func New(cfg Config) (*Manager, error) {
	c, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	if c.CacheDir != "" {
		if err := os.MkdirAll(c.CacheDir, 0o700); err != nil {
			return nil, fmt.Errorf("host: cache dir: %w", err)
		}
	}
	eng, err := newEngine(c.Engine, c.CacheDir)
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	m := &Manager{
		cfg:    c,
		eng:    eng,
		egress: newEgressTransports(nil, nil),
		now:    time.Now,
		byName: map[string]*Plugin{},

		superseded:   map[*Plugin]bool{},
		loadFailures: map[string]error{},
	}
	m.modCond = sync.NewCond(&m.modMu)
	return m, nil
}

// LoadError is a plugin file that did not load. Name is the provider name
// when describe got that far, else empty.
type LoadError struct {
	File string
	Name string
	Err  error
}

// Error returns the underlying error, which names the file.
func (e *LoadError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *LoadError) Unwrap() error { return e.Err }

// Load compiles and verifies every *.wasm file of the plugins directory, in
// name order, and makes the valid ones current (replacing those loaded
// before that changed, as Reload does; their in-flight calls finish
// first). One bad file never stops the others: its error, a *LoadError
// naming the file, is returned in loadErrs.
func (m *Manager) Load(ctx context.Context) (plugins []*Plugin, loadErrs []error) {
	plugins, superseded, loadErrs := m.Reload(ctx)
	for _, p := range superseded {
		m.Release(p)
	}
	return plugins, loadErrs
}

// Reload is Load for a running host: loads are serialized, and it leaves
// the plugins it replaces open and returns them as superseded, so that the
// caller can keep serving requests that already hold them and then
// Release each one. A file that was loaded before and now fails to load
// (a half-written copy, a corrupt or unpinned build, a refused config)
// keeps its previous plugin serving; its error is still returned. A file
// that is gone unloads its plugin.
//
// A plugin whose file still holds the bytes it was loaded from (same
// path, same SHA-256) and whose effective settings are unchanged (its
// plugins.<name> configuration, limits, egress allow-list, pin and cache
// caps, the engine, and whether Config.Selected selects it) is kept as it
// is: the same *Plugin, with its pool, warm instances, caches, health,
// counters, generation and loadedAt. It is neither superseded nor logged
// as loaded. Anything else about the file is loaded anew, including the
// same bytes under another file name.
func (m *Manager) Reload(ctx context.Context) (plugins, superseded []*Plugin, loadErrs []error) {
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	if _, err := os.Stat(m.cfg.PluginsDir); err != nil {
		return nil, nil, []error{fmt.Errorf("host: plugins dir: %w", err)}
	}
	files, err := filepath.Glob(filepath.Join(m.cfg.PluginsDir, "*.wasm"))
	if err != nil {
		return nil, nil, []error{fmt.Errorf("host: list plugins: %w", err)}
	}
	sort.Strings(files)
	m.mu.RLock()
	prevByFile := map[string]*Plugin{}
	for _, p := range m.plugins {
		prevByFile[p.file] = p
	}
	m.mu.RUnlock()
	gen := m.generation + 1
	failures := map[string]error{}
	byName := map[string]*Plugin{}
	for _, f := range files {
		prev := prevByFile[f]
		p, err := m.loadFile(ctx, f, prev)
		switch {
		case err == nil && p == prev:
			m.cfg.Logger.Info("plugin unchanged", "plugin", p.name, "file", f, "generation", p.generation, "sha256", p.sha256)
		case err == nil:
			p.generation, p.loadedAt = gen, m.now()
		default:
			m.cfg.Logger.Error("plugin not loaded", "file", f, "err", err)
			loadErrs = append(loadErrs, &LoadError{File: f, Err: err})
			failures[f] = err
			if p = prev; p == nil {
				continue
			}
			m.cfg.Logger.Error("plugin replacement failed to load: the previous version keeps serving", "plugin", p.name, "file", f,
				"generation", p.generation, "sha256", p.sha256)
		}
		if prev, dup := byName[p.name]; dup {
			if prevByFile[f] != p {
				p.close()
			}
			err := fmt.Errorf("%s: provider name %q is already used by %s", f, p.name, prev.file)
			m.cfg.Logger.Error("plugin not loaded", "file", f, "err", err)
			loadErrs = append(loadErrs, &LoadError{File: f, Name: p.name, Err: err})
			failures[f] = err
			continue
		}
		byName[p.name] = p
		plugins = append(plugins, p)
		if p.generation == gen {
			m.cfg.Logger.Info("plugin loaded", "plugin", p.name, "version", p.desc.Version, "abi", p.desc.ABI, "file", f, "capabilities", p.desc.Capabilities,
				"allow_private_networks", p.cfg.AllowPrivateNetworks, "generation", gen, "sha256", p.sha256)
		}
	}
	for name := range m.cfg.Plugins {
		if byName[name] == nil {
			m.cfg.Logger.Warn("configured plugin not found in plugins dir", "plugin", name)
		}
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		for _, p := range plugins {
			if p.generation == gen {
				p.close()
			}
		}
		return nil, nil, append(loadErrs, fmt.Errorf("host: load: %w", ErrClosed))
	}
	kept := map[*Plugin]bool{}
	for _, p := range plugins {
		kept[p] = true
	}
	for _, p := range m.plugins {
		if !kept[p] {
			superseded = append(superseded, p)
			m.superseded[p] = true
		}
	}
	m.generation = gen
	m.plugins, m.byName, m.loadFailures = plugins, byName, failures
	m.mu.Unlock()
	return slices.Clone(plugins), superseded, loadErrs
}

// unchanged reports whether prev, loaded from the file whose bytes hash to
// digest, would load the same again: same bytes, same effective
// configuration (everything the engine options, the host functions'
// environment, the adapters and configure see) and the same selection,
// which decides its warm instances.
func (m *Manager) unchanged(prev *Plugin, digest string) bool {
	if prev.sha256 != digest {
		return false
	}
	was, err := m.configKey(prev.cfg)
	if err != nil {
		return false
	}
	now, err := m.configKey(m.cfg.pluginConfig(prev.name))
	return err == nil && was == now && prev.selected == m.selected(prev.name, prev.desc.Capabilities)
}

// selected reports whether Config.Selected selects a provider.
func (m *Manager) selected(name string, caps []abi.Capability) bool {
	return m.cfg.Selected == nil || m.cfg.Selected(name, caps)
}

// Release closes a plugin that Reload superseded, once the caller holds
// no more references to it: its in-flight calls finish, later ones fail
// with ErrClosed. Releasing a plugin twice, or one that is still current,
// does nothing.
func (m *Manager) Release(p *Plugin) {
	m.mu.Lock()
	ok := m.superseded[p]
	delete(m.superseded, p)
	m.mu.Unlock()
	if ok {
		p.close()
	}
}

// LoadFailures returns the errors of the last load by file: files that did
// not load (and, when a previous version keeps serving, why the
// replacement was refused).
func (m *Manager) LoadFailures() map[string]error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return maps.Clone(m.loadFailures)
}

// SetPluginConfigs replaces the operator's per-plugin configuration used
// by the next Reload (a configuration reload), validated as by New.
func (m *Manager) SetPluginConfigs(plugins map[string]PluginConfig) error {
	c := m.cfg
	c.Plugins = plugins
	c, err := c.normalize()
	if err != nil {
		return err
	}
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	m.mu.Lock()
	m.cfg.Plugins = c.Plugins
	m.mu.Unlock()
	return nil
}

// SetSelected replaces Config.Selected for the next Reload (a
// configuration reload that changes which providers serve capabilities):
// a plugin whose selection changes is loaded anew, with or without warm
// instances.
func (m *Manager) SetSelected(selected func(name string, capabilities []abi.Capability) bool) {
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	m.mu.Lock()
	m.cfg.Selected = selected
	m.mu.Unlock()
}

// Plugins returns the loaded plugins in file order.
func (m *Manager) Plugins() []*Plugin {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Clone(m.plugins)
}

// Plugin returns the loaded plugin named name, or nil.
func (m *Manager) Plugin(name string) *Plugin {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.byName[name]
}

// Close unloads every plugin, waits for in-flight calls to finish (each is
// bounded by its call timeout) and releases the engine. Calls made
// afterwards fail with ErrClosed.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	old := m.plugins
	for p := range m.superseded {
		old = append(old, p)
	}
	m.plugins, m.byName, m.superseded = nil, map[string]*Plugin{}, map[*Plugin]bool{}
	m.mu.Unlock()
	for _, p := range old {
		p.close()
	}
	m.modMu.Lock()
	for m.modules > 0 {
		m.modCond.Wait()
	}
	m.modMu.Unlock()
	m.egress.closeIdle()
	if err := m.eng.Close(context.Background()); err != nil {
		return fmt.Errorf("host: close: %w", err)
	}
	return nil
}

func (m *Manager) isClosed() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.closed
}

// trackModule counts a compiled module until the returned release runs.
func (m *Manager) trackModule(mod engine.Module) func() {
	m.modMu.Lock()
	m.modules++
	m.modMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			_ = mod.Close(context.Background())
			m.modMu.Lock()
			m.modules--
			m.modCond.Broadcast()
			m.modMu.Unlock()
		})
	}
}

// loadFile compiles, describes and verifies one plugin file, then warms
// one pooled instance. It returns prev, the plugin loaded from the file
// before (or nil), when the file and everything that configures it are
// unchanged. A plugin that nothing selects and whose describe is cached
// for this file and configuration is not compiled at all.
func (m *Manager) loadFile(ctx context.Context, file string, prev *Plugin) (*Plugin, error) {
	if m.isClosed() {
		return nil, fmt.Errorf("%s: %w", file, ErrClosed)
	}
	if prev != nil {
		// Hashed as a stream: an unchanged file (the common case: the
		// quick start's four weigh 48 MB) is never held in memory.
		if digest, err := hashFile(file); err == nil && m.unchanged(prev, digest) {
			return prev, nil
		}
	}
	wasm, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	sum := sha256.Sum256(wasm)
	digest := hex.EncodeToString(sum[:])
	if err := checkWasmHeader(wasm); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	def := m.cfg.Defaults
	slot := &envSlot{}
	if err := checkImports(wasm, m.engineOptions(slot, def, nil, nil)); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if p, ok, err := m.loadDescribed(file, wasm, digest); ok || err != nil {
		return p, err
	}
	guestLog := newSwapHandler(m.cfg.Logger.Handler().WithAttrs([]slog.Attr{slog.String("source", "guest"), slog.String("file", file)}))
	opts := m.engineOptions(slot, def, nil, slog.New(guestLog))
	mod, err := m.eng.Compile(ctx, wasm, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	desc, exports, err := describeModule(ctx, mod, def.CallTimeout)
	if err != nil {
		_ = mod.Close(ctx)
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if problems := verify(desc, exports); len(problems) > 0 {
		_ = mod.Close(ctx)
		errs := make([]error, len(problems))
		for i, pr := range problems {
			errs[i] = fmt.Errorf("%s: %s", file, pr)
		}
		return nil, errors.Join(errs...)
	}
	pc := m.cfg.pluginConfig(desc.Name)
	if err := checkPin(file, digest, desc.Name, pc); err != nil {
		_ = mod.Close(ctx)
		return nil, err
	}
	env, logger := m.pluginEnv(desc.Name, pc)
	if len(pc.Config) > 0 || pc.Limits.MaxMemoryMiB != def.MaxMemoryMiB || pc.Limits.MaxLogMessageBytes != def.MaxLogMessageBytes ||
		pc.Limits.MaxHTTPBodyBytes != def.MaxHTTPBodyBytes || pc.Limits.MaxKVValueBytes != def.MaxKVValueBytes || pc.Limits.MaxKVKeyBytes != def.MaxKVKeyBytes {
		// Config and limits are fixed at compile time; the compilation
		// cache makes this second compile cheap.
		_ = mod.Close(ctx)
		slot, opts = m.pluginOptions(env, pc, logger)
		mod, err = m.eng.Compile(ctx, wasm, opts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	} else {
		slot.env.Store(env)
		guestLog.set(logger.With("source", "guest").Handler())
	}
	p := m.newPlugin(file, wasm, digest, desc, exports, pc, logger, mod, opts)
	warm := pc.Limits.PoolWarm
	if !p.selected {
		warm = 0 // nothing selects it: no instance until something calls it
	}
	p.pool = newPool(pc.Limits.PoolSize, warm, pc.Limits.IdleTimeout, p.module.Instantiate, m.trackModule(p.module), logger)
	// Warm one instance: runs the guest's initialisation with the real
	// config, so a provider that cannot start fails at load.
	inst, err := p.pool.get(ctx)
	if err != nil {
		p.close()
		return nil, fmt.Errorf("%s: instantiate: %w", file, err)
	}
	cctx, cancel := context.WithTimeout(ctx, pc.Limits.CallTimeout)
	raw, err := inst.Call(cctx, abi.ExportDescribe, nil)
	cancel()
	p.pool.put(inst, err == nil)
	if err != nil {
		p.close()
		return nil, fmt.Errorf("%s: warm-up call: %w", file, err)
	}
	// The first describe ran without config; what depends on it (the
	// login button's text, where the session travels, demo accounts) is
	// taken from the configured instance's describe.
	var configured abi.Describe
	if json.Unmarshal(raw, &configured) == nil && configured.Name == desc.Name {
		if l := configured.Login; l != nil && l.Provider != "" && l.Text != "" {
			p.desc.Login = l
		}
		if t := configured.SessionTransport; t != nil {
			if problems := checkTransport(t); len(problems) > 0 {
				p.close()
				return nil, fmt.Errorf("%s: %s", file, strings.Join(problems, "; "))
			}
		}
		p.desc.SessionTransport, p.desc.Demo = configured.SessionTransport, configured.Demo
	}
	if err := p.configure(ctx); err != nil {
		p.close()
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if key, err := m.configKey(pc); err == nil {
		m.storeDescribe(p, key)
	}
	p.pool.trim()
	if warm == 0 {
		p.module.drop() // its compiled code too, until something calls it
	}
	p.pool.refill()
	return p, nil
}

// hashFile returns the hex SHA-256 of a file's bytes.
func hashFile(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// loadDescribed loads a plugin that nothing selects from its cached
// describe record, without compiling it: it keeps no instance and no
// compiled code until something calls it (then it compiles from the file,
// which must still hold the same bytes). ok is false when the record is
// missing, stale or for another configuration, or when the plugin is
// selected: the caller then compiles it.
func (m *Manager) loadDescribed(file string, wasm []byte, digest string) (p *Plugin, ok bool, err error) {
	if m.cfg.Selected == nil {
		return nil, false, nil
	}
	rec, ok := m.cachedDescribe(digest)
	if !ok || m.cfg.Selected(rec.Describe.Name, rec.Describe.Capabilities) {
		return nil, false, nil
	}
	exports := make(map[string]bool, len(rec.Exports))
	for _, e := range rec.Exports {
		exports[e] = true
	}
	if len(verify(rec.Describe, exports)) > 0 {
		return nil, false, nil
	}
	pc := m.cfg.pluginConfig(rec.Describe.Name)
	if key, err := m.configKey(pc); err != nil || key != rec.Config {
		return nil, false, nil
	}
	if err := checkPin(file, digest, rec.Describe.Name, pc); err != nil {
		return nil, true, err
	}
	env, logger := m.pluginEnv(rec.Describe.Name, pc)
	_, opts := m.pluginOptions(env, pc, logger)
	p = m.newPlugin(file, wasm, digest, rec.Describe, exports, pc, logger, nil, opts)
	p.pool = newPool(pc.Limits.PoolSize, 0, pc.Limits.IdleTimeout, p.module.Instantiate, m.trackModule(p.module), logger)
	return p, true, nil
}

// checkPin refuses a file whose digest is not the plugin's sha256 pin.
func checkPin(file, digest, name string, pc PluginConfig) error {
	if pin := pc.SHA256; pin != "" && !strings.EqualFold(pin, digest) {
		return fmt.Errorf("%s: sha256 %s does not match plugins.%s.sha256 (pinned %s)", file, digest, name, pin)
	}
	return nil
}

// pluginEnv returns the host functions' environment and the logger of
// the plugin named name.
func (m *Manager) pluginEnv(name string, pc PluginConfig) (*hostEnv, *slog.Logger) {
	logger := m.cfg.Logger.With("plugin", name)
	var kv *kvSpace
	if m.cfg.Store != nil {
		lock, _ := m.kvLocks.LoadOrStore(name, &kvLock{})
		kv = newKVSpace(name, pc.Limits, m.cfg.Store, lock.(*kvLock), func() time.Time { return m.now() })
	}
	env := newHostEnv(name, pc, kv, m.cfg.HashGate, m.egress.forPlugin(pc), logger)
	env.onHostCall = m.cfg.OnHostCall
	return env, logger
}

// pluginOptions returns the engine options of a plugin's module with its
// configuration and limits, bound to env.
func (m *Manager) pluginOptions(env *hostEnv, pc PluginConfig, logger *slog.Logger) (*envSlot, engine.Options) {
	slot := &envSlot{}
	slot.env.Store(env)
	var cfg map[string]string
	if len(pc.Config) > 0 {
		cfg = map[string]string{"config": string(pc.Config)}
	}
	return slot, m.engineOptions(slot, pc.Limits, cfg, logger.With("source", "guest"))
}

// newPlugin returns a loaded plugin around mod (nil: not compiled yet),
// without its pool.
func (m *Manager) newPlugin(file string, wasm []byte, digest string, desc abi.Describe, exports map[string]bool, pc PluginConfig, logger *slog.Logger, mod engine.Module, opts engine.Options) *Plugin {
	p := &Plugin{
		name:     desc.Name,
		file:     file,
		desc:     desc,
		exports:  exports,
		cfg:      pc,
		logger:   logger,
		onCall:   m.cfg.OnCall,
		module:   newLazyModule(mod, file, wasm, func(ctx context.Context, wasm []byte) (engine.Module, error) { return m.eng.Compile(ctx, wasm, opts) }),
		health:   &health{cfg: m.cfg.Health},
		now:      func() time.Time { return m.now() },
		sha256:   digest,
		selected: m.selected(desc.Name, desc.Capabilities),
	}
	p.adapters = newAdapters(p)
	return p
}

// configure passes the plugin the operator's configuration through
// authhost_configure when it offers the export and the operator configured
// it (an installed but unconfigured plugin still loads, and its capability
// can be turned off with "none"). A refusal is a *ConfigError naming the
// field.
func (p *Plugin) configure(ctx context.Context) error {
	if !p.Offers(abi.ExportConfigure) || len(p.cfg.Config) == 0 {
		return nil
	}
	in, err := json.Marshal(abi.ConfigureRequest{Config: p.cfg.Config})
	if err != nil {
		return fmt.Errorf("%s: encode input: %w", abi.ExportConfigure, err)
	}
	raw, err := p.CallRaw(ctx, abi.ExportConfigure, in)
	if err == nil {
		err = abi.Decode(raw, nil)
	}
	return configError(p.name, err)
}

// configError turns the outcome of authhost_configure into nil, a
// *ConfigError (the plugin refused its configuration) or a call failure.
func configError(plugin string, err error) error {
	var ae *abi.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ae) && ae.Code == abi.CodeInvalidRequest:
		return &ConfigError{Plugin: plugin, Field: ae.Field, Message: ae.Message}
	}
	return fmt.Errorf("%s: %w", abi.ExportConfigure, err)
}

// ConfigError is a plugin's refusal of its configuration at load, naming
// the field at fault as plugins.<name>.config.<field>.
type ConfigError struct {
	Plugin  string
	Field   string // dotted path inside the plugin's config; "" for the whole
	Message string
}

// Error implements error.
func (e *ConfigError) Error() string {
	where := "plugins." + e.Plugin + ".config"
	if e.Field != "" {
		where += "." + e.Field
	}
	return where + ": " + e.Message
}

func (m *Manager) engineOptions(slot *envSlot, l Limits, cfg map[string]string, guestLog *slog.Logger) engine.Options {
	return engine.Options{
		Namespace:   abi.HostNamespace,
		HostFuncs:   hostFuncs(slot, l),
		MemoryPages: uint32(l.MaxMemoryMiB) * 16,
		MaxVarBytes: 1 << 20,
		Config:      cfg,
		Logger:      guestLog,
		MaxLogLine:  l.MaxLogMessageBytes,
	}
}

// describeModule calls authhost_describe on a fresh instance and returns
// the document and the module's exported functions.
func describeModule(ctx context.Context, mod engine.Module, timeout time.Duration) (abi.Describe, map[string]bool, error) {
	inst, err := mod.Instantiate(ctx)
	if err != nil {
		return abi.Describe{}, nil, err
	}
	defer inst.Close(context.Background())
	exports := inst.Exports()
	if !exports[abi.ExportDescribe] {
		return abi.Describe{}, exports, fmt.Errorf("export %q is missing: not an authhost provider", abi.ExportDescribe)
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	raw, err := inst.Call(cctx, abi.ExportDescribe, nil)
	if err != nil {
		return abi.Describe{}, exports, fmt.Errorf("describe: %w", err)
	}
	var d abi.Describe
	if err := json.Unmarshal(raw, &d); err != nil {
		return abi.Describe{}, exports, fmt.Errorf("describe: malformed output: %w", err)
	}
	return d, exports, nil
}

// verify returns what makes a described module unloadable, in a stable
// order; each problem reads well after "FILE: ".
func verify(d abi.Describe, exports map[string]bool) []string {
	var problems []string
	if d.ABI == "" {
		return []string{"describe: abi version is empty"}
	}
	if err := abi.CheckCompatible(d.ABI); err != nil {
		return []string{err.Error()}
	}
	switch {
	case d.Name == "":
		problems = append(problems, "describe: provider name is empty")
	default:
		if err := abi.CheckName(d.Name); err != nil {
			problems = append(problems, "describe: "+err.Error())
		}
	}
	if d.Declares() {
		problems = append(problems, d.CheckImplements(exports)...)
	}
	if t := d.SessionTransport; t != nil {
		problems = append(problems, checkTransport(t)...)
	}
	seen := map[abi.Capability]bool{}
	for _, c := range d.Capabilities {
		if seen[c] {
			problems = append(problems, fmt.Sprintf("capability %q is declared twice", c))
			continue
		}
		seen[c] = true
		if !c.Valid() {
			problems = append(problems, fmt.Sprintf("capability %q is not defined by abi %s", c, abi.Version))
			continue
		}
		for _, e := range abi.MissingExports(c, exports) {
			problems = append(problems, fmt.Sprintf("capability %q declared but export %q is missing", c, e))
		}
	}
	return problems
}

// swapHandler is a slog.Handler whose target can be replaced: guest output
// of a module compiled before its provider name was known gets the plugin
// attribute once it is.
type swapHandler struct{ h atomic.Pointer[slog.Handler] }

func newSwapHandler(h slog.Handler) *swapHandler {
	s := &swapHandler{}
	s.set(h)
	return s
}

func (s *swapHandler) set(h slog.Handler) { s.h.Store(&h) }

func (s *swapHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return (*s.h.Load()).Enabled(ctx, l)
}

func (s *swapHandler) Handle(ctx context.Context, r slog.Record) error {
	return (*s.h.Load()).Handle(ctx, r)
}

func (s *swapHandler) WithAttrs(as []slog.Attr) slog.Handler { return (*s.h.Load()).WithAttrs(as) }

func (s *swapHandler) WithGroup(name string) slog.Handler { return (*s.h.Load()).WithGroup(name) }
