// Package conformance checks a provider plugin against abi/SPEC.md in the
// real host: it loads the .wasm alone in a host.Manager with the operator's
// configuration, runs the ABI checks (describe, implements, envelope shape
// and error codes for empty, null and unknown-field inputs, no trap) and
// the auth/authtest suites of every declared capability, and reports one
// result per case. `authhost conformance` prints them; `authhost call`
// uses Load.
package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/auth/authtest"
	"github.com/authhost/authhost/host"
	"github.com/authhost/authhost/internal/config"
	"github.com/authhost/authhost/store/memory"
)

// Options says what to check and with which configuration.
type Options struct {
	// File is the provider's .wasm.
	File string
	// Plugins is the operator's plugins section; the entry keyed by the
	// provider's name configures it.
	Plugins map[string]config.Plugin
	// Allow adds host names to the provider's http_do allow-list.
	Allow []string
	// CacheDir holds the compilation cache ("" keeps it in memory).
	CacheDir string
	// Known is an existing account for the credentials sign-in cases.
	Known authtest.Account
}

// hostConfig turns the operator's plugin entry into the host's.
func hostConfig(p config.Plugin, allow []string) (host.PluginConfig, error) {
	js, err := p.ConfigJSON()
	if err != nil {
		return host.PluginConfig{}, err
	}
	return host.PluginConfig{
		Config:               js,
		AllowedHosts:         append(slices.Clone(p.AllowedHosts), allow...),
		AllowPrivateNetworks: p.AllowPrivateNetworks,
		Limits: host.Limits{
			MaxMemoryMiB:     p.Limits.MemoryMiB,
			CallTimeout:      time.Duration(p.Limits.TimeoutMS) * time.Millisecond,
			PoolSize:         p.Limits.PoolSize,
			HTTPTimeout:      time.Duration(p.Limits.HTTPTimeoutMS) * time.Millisecond,
			MaxHTTPBodyBytes: p.Limits.MaxHTTPBodyBytes,
			MaxKVBytes:       p.Limits.MaxKVBytes,
			MaxKVKeys:        p.Limits.MaxKVKeys,
		},
	}, nil
}

// Load loads opts.File alone in a fresh Manager over an in-memory store,
// configured from opts; mutate, if set, adjusts the host config first
// (hooks). Close the Manager when done.
func Load(ctx context.Context, opts Options, mutate func(*host.Config)) (*host.Manager, *host.Plugin, error) {
	dir, err := os.MkdirTemp("", "authhost-conformance-")
	if err != nil {
		return nil, nil, fmt.Errorf("conformance: %w", err)
	}
	defer os.RemoveAll(dir) // the Manager has compiled the module by the time this runs
	wasm, err := os.ReadFile(opts.File)
	if err != nil {
		return nil, nil, fmt.Errorf("conformance: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "plugin.wasm"), wasm, 0o600); err != nil {
		return nil, nil, fmt.Errorf("conformance: %w", err)
	}
	plugins := map[string]host.PluginConfig{}
	for name, p := range opts.Plugins {
		pc, err := hostConfig(p, opts.Allow)
		if err != nil {
			return nil, nil, fmt.Errorf("conformance: plugins.%s: %w", name, err)
		}
		plugins[name] = pc
	}
	if len(opts.Allow) > 0 {
		// The provider's name is known only from describe: give the extra
		// hosts to whichever plugin the file turns out to be.
		rep, err := host.Inspect(ctx, opts.File, opts.CacheDir)
		if err == nil && rep.Name != "" {
			if _, ok := plugins[rep.Name]; !ok {
				plugins[rep.Name] = host.PluginConfig{AllowedHosts: opts.Allow}
			}
		}
	}
	cfg := host.Config{
		PluginsDir: dir,
		CacheDir:   opts.CacheDir,
		Store:      memory.New(memory.Options{}),
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Plugins:    plugins,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	m, err := host.New(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("conformance: %w", err)
	}
	loaded, errs := m.Load(ctx)
	if len(errs) > 0 || len(loaded) != 1 {
		_ = m.Close()
		return nil, nil, errors.Join(errs...)
	}
	return m, loaded[0], nil
}

// Run runs every case against opts.File and reports each to report as it
// ends. A plugin that does not load is a failed "abi/load" case, not an
// error.
func Run(ctx context.Context, opts Options, report func(Result)) {
	var mu sync.Mutex
	var traps []string
	m, p, err := Load(ctx, opts, func(c *host.Config) {
		c.OnCall = func(r host.CallRecord) {
			if r.Outcome == "failure" || r.Outcome == "timeout" {
				mu.Lock()
				traps = append(traps, r.Export+" ("+r.Outcome+")")
				mu.Unlock()
			}
		}
	})
	root := newCase(ctx, report, "")
	if err != nil {
		root.Run("abi/load", func(t authtest.T) {
			t.Fatalf("SPEC.md §2, §5: the host refused to load %s: %v", opts.File, err)
		})
		return
	}
	defer m.Close()
	root.Run("abi/load", func(authtest.T) {})
	d := p.Describe()
	root.Run("abi/describe", func(t authtest.T) { checkDescribe(t, p) })
	root.Run("abi/implements", func(t authtest.T) { checkImplements(t, p) })
	for _, c := range d.Capabilities {
		ce, _ := abi.ExportsOf(c)
		for _, export := range ce.Required {
			root.Run("abi/envelope/"+export, func(t authtest.T) { checkEnvelopes(t, p, export) })
		}
	}
	root.Run("capabilities", func(t authtest.T) { runSuites(t, p, opts.Known) })
	root.Run("abi/no-trap", func(t authtest.T) {
		mu.Lock()
		defer mu.Unlock()
		if len(traps) > 0 {
			t.Errorf("SPEC.md §3, §10: calls trapped or timed out instead of answering an error envelope: %s", strings.Join(slices.Compact(slices.Sorted(slices.Values(traps))), ", "))
		}
	})
}

// runSuites runs the authtest suite of each declared capability.
func runSuites(t authtest.T, p *host.Plugin, known authtest.Account) {
	var user *auth.User
	if p.Has(abi.CapCredentials) {
		t.Run("credentials", func(t authtest.T) {
			user = authtest.TestCredentials(t, p.Credentials(), authtest.CredentialsOptions{Known: known})
		})
	}
	if p.Has(abi.CapUser) {
		t.Run("user", func(t authtest.T) { authtest.TestUser(t, p.User(), user) })
	}
	if p.Has(abi.CapSession) {
		t.Run("session", func(t authtest.T) { authtest.TestSessionBasics(t, p.Session()) })
	}
	if p.Has(abi.CapSSO) {
		t.Run("sso", func(t authtest.T) { authtest.TestSSO(t, p.SSO()) })
	}
	if p.Has(abi.CapRBAC) {
		u := auth.User{ID: "conformance-unknown"}
		if user != nil {
			u = *user
		}
		t.Run("rbac", func(t authtest.T) { authtest.TestRBACProvider(t, p.RBAC(), u) })
	}
}

// checkDescribe checks the describe document the host decoded.
func checkDescribe(t authtest.T, p *host.Plugin) {
	d := p.Describe()
	if d.Name == "" || d.Version == "" {
		t.Errorf("SPEC.md §2 authhost_describe: name %q and version %q must both be set", d.Name, d.Version)
	}
	if len(d.Capabilities) == 0 {
		t.Errorf("SPEC.md §2 authhost_describe: declares no capability")
	}
	for _, c := range d.Capabilities {
		if !c.Valid() {
			t.Errorf("SPEC.md §2 authhost_describe: unknown capability %q", c)
		}
	}
}

// checkImplements checks that a 1.2 provider's implements list is honest:
// every listed optional export exists and answers an envelope, every
// unlisted optional export of a declared capability is absent or answers
// not_supported.
func checkImplements(t authtest.T, p *host.Plugin) {
	d := p.Describe()
	if !d.Declares() {
		t.Logf("abi %s predates implements (1.2): nothing to check", d.ABI)
		return
	}
	exported := map[string]bool{}
	for _, e := range p.Exports() {
		exported[e] = true
	}
	for _, problem := range d.CheckImplements(exported) {
		t.Errorf("SPEC.md §2 implements: %s", problem)
	}
	for _, c := range d.Capabilities {
		ce, _ := abi.ExportsOf(c)
		for _, export := range ce.Optional {
			listed := slices.Contains(d.Implements, export)
			if !p.HasExport(export) {
				if listed {
					t.Errorf("SPEC.md §2 implements: lists %s but the module does not export it", export)
				}
				continue
			}
			out, env, err := callEnvelope(t.Context(), p, export, []byte("{}"))
			switch {
			case err != nil:
				t.Errorf("SPEC.md §3 %s: sent {} and the call failed: %v", export, err)
			case listed && env.Error != nil && env.Error.Code == abi.CodeNotSupported:
				t.Errorf("SPEC.md §2 implements: lists %s but it answers not_supported: sent {} got %s", export, out)
			case !listed && !answersUnoffered(export, env):
				t.Errorf("SPEC.md §2 implements: %s is exported and not listed, so it must answer not_supported (or what the host assumes of an export not offered, SPEC.md §5); sent {} got %s", export, out)
			}
		}
	}
}

// unofferedAnswers are the answers SPEC.md §5 says the host assumes of an
// optional export a provider does not offer, which an unlisted export may
// give instead of not_supported (the Go PDK does for sign-up enabled).
var unofferedAnswers = map[string]string{
	abi.ExportCredentialsSignUpEnabled: `{"enabled":true}`,
}

// answersUnoffered reports whether env is what an unlisted optional
// export may answer: not_supported, or the host's assumption.
func answersUnoffered(export string, env *abi.Envelope) bool {
	if env.Error != nil {
		return env.Error.Code == abi.CodeNotSupported
	}
	want, ok := unofferedAnswers[export]
	if !ok {
		return false
	}
	var got, exp any
	return json.Unmarshal(env.Data, &got) == nil && json.Unmarshal([]byte(want), &exp) == nil && reflect.DeepEqual(got, exp)
}

// checkEnvelopes calls export with empty, empty-object and unknown-field
// inputs and checks that each answers a well-formed envelope with a code
// from the closed set, without trapping.
func checkEnvelopes(t authtest.T, p *host.Plugin, export string) {
	for _, in := range []string{"", "{}", `{"zz_unknown_field":{"nested":[1,"x",null]},"request":{}}`, "null"} {
		out, _, err := callEnvelope(t.Context(), p, export, []byte(in))
		if err != nil {
			t.Errorf("SPEC.md §3 %s: sent %q: %v; got %q", export, in, err, out)
		}
	}
}

// callEnvelope calls export with raw input and decodes the envelope
// strictly: ok present, a closed-set code and a message on failure.
func callEnvelope(ctx context.Context, p *host.Plugin, export string, in []byte) ([]byte, *abi.Envelope, error) {
	out, err := p.CallRaw(ctx, export, in)
	if err != nil {
		return out, nil, fmt.Errorf("call failed (trap, timeout or oversized output): %w", err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(out, &fields); err != nil {
		return out, nil, fmt.Errorf("output is not a JSON object: %w", err)
	}
	for k := range fields {
		if k != "ok" && k != "data" && k != "error" {
			return out, nil, fmt.Errorf("envelope has unknown field %q", k)
		}
	}
	var env abi.Envelope
	if _, ok := fields["ok"]; !ok {
		return out, nil, errors.New(`envelope lacks "ok"`)
	}
	if err := json.Unmarshal(out, &env); err != nil {
		return out, nil, fmt.Errorf("malformed envelope: %w", err)
	}
	if !env.OK {
		if env.Error == nil {
			return out, nil, errors.New(`envelope has ok=false and no "error"`)
		}
		if !env.Error.Code.Valid() {
			return out, nil, fmt.Errorf("error code %q is not in the closed set", env.Error.Code)
		}
	}
	return out, &env, nil
}

// Result is one case's outcome. Failures say what was sent, what came
// back and the SPEC.md section broken.
type Result struct {
	Case     string   `json:"case"`
	Pass     bool     `json:"pass"`
	Skipped  bool     `json:"skipped,omitempty"`
	Failures []string `json:"failures,omitempty"`
	Notes    []string `json:"notes,omitempty"`
}

// conformanceCase implements authtest.T for the CLI: every case that runs
// no sub-case is reported as one line.
type conformanceCase struct {
	ctx      context.Context
	report   func(Result)
	name     string
	mu       sync.Mutex
	failures []string
	notes    []string
	skipped  bool
	children bool
	// subFailed is set when a sub-case failed.
	subFailed bool
}

var _ authtest.T = (*conformanceCase)(nil)

func newCase(ctx context.Context, report func(Result), name string) *conformanceCase {
	return &conformanceCase{ctx: ctx, report: report, name: name}
}

// Helper is a no-op: failures carry their own context.
func (c *conformanceCase) Helper() {}

// Errorf records a failure.
func (c *conformanceCase) Errorf(format string, args ...any) {
	c.mu.Lock()
	c.failures = append(c.failures, fmt.Sprintf(format, args...))
	c.mu.Unlock()
}

// Fatalf records a failure and ends the case.
func (c *conformanceCase) Fatalf(format string, args ...any) {
	c.Errorf(format, args...)
	runtime.Goexit()
}

// Logf records a note, shown with a skipped case and in --json.
func (c *conformanceCase) Logf(format string, args ...any) {
	c.mu.Lock()
	c.notes = append(c.notes, fmt.Sprintf(format, args...))
	c.mu.Unlock()
}

// Skipf ends the case as skipped.
func (c *conformanceCase) Skipf(format string, args ...any) {
	c.Logf(format, args...)
	c.mu.Lock()
	c.skipped = true
	c.mu.Unlock()
	runtime.Goexit()
}

// Context returns the run's context.
func (c *conformanceCase) Context() context.Context { return c.ctx }

// Name returns the case's path.
func (c *conformanceCase) Name() string { return c.name }

// Run runs f as a sub-case on its own goroutine (so Fatalf can end it) and
// reports it when it has no sub-cases of its own.
func (c *conformanceCase) Run(name string, f func(authtest.T)) bool {
	c.mu.Lock()
	c.children = true
	c.mu.Unlock()
	full := name
	if c.name != "" {
		full = c.name + "/" + name
	}
	sub := newCase(c.ctx, c.report, full)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if r := recover(); r != nil {
				sub.Errorf("conformance: case panicked: %v", r)
			}
		}()
		f(sub)
	}()
	<-done
	sub.mu.Lock()
	if !sub.children || len(sub.failures) > 0 {
		sub.report(Result{Case: full, Pass: len(sub.failures) == 0, Skipped: sub.skipped, Failures: sub.failures, Notes: sub.notes})
	}
	passed := len(sub.failures) == 0 && !sub.subFailed
	sub.mu.Unlock()
	if !passed {
		c.mu.Lock()
		c.subFailed = true
		c.mu.Unlock()
	}
	return passed
}
