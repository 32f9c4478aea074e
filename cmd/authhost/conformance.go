package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
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

// errConformance makes `conformance` exit non-zero when a case failed.
var errConformance = errors.New("conformance cases failed")

// cmdConformance loads one plugin in the real host and runs the ABI checks
// and the behaviour suites of its declared capabilities against it.
func cmdConformance(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("conformance", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "authhost config file (YAML or JSON): the plugin's config, allowed hosts and limits come from its plugins.<name> entry")
	var allow stringList
	fs.Var(&allow, "allow-host", "also let the plugin's http_do reach host `H` (repeatable)")
	asJSON := fs.Bool("json", false, "print one JSON object per case")
	email := fs.String("user", "", "email of an existing account, for the credentials sign-in cases of a provider without sign-up")
	password := fs.String("password", "", "password of --user")
	cacheDir := fs.String("cache-dir", "", "wazero compilation cache directory (optional)")
	synopsis := "conformance [--config FILE.yaml|json] [--allow-host H]... [--user EMAIL --password PW] [--json] FILE.wasm"
	pos, err := parseArgs(fs, args, synopsis, stdout)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"conformance: want exactly one FILE.wasm"}
	}
	opts := conformanceOptions{file: pos[0], allow: allow, cacheDir: *cacheDir, known: authtest.Account{Email: *email, Password: *password}}
	if *cfgPath != "" {
		cfg, err := config.Load(*cfgPath, nil)
		if err != nil {
			return fmt.Errorf("conformance: %w", err)
		}
		opts.plugins = cfg.Plugins
	}
	rep := &reporter{w: stdout, json: *asJSON}
	if err := runConformance(ctx, opts, rep); err != nil {
		return fmt.Errorf("conformance: %w", err)
	}
	if rep.failed > 0 {
		fmt.Fprintf(stdout, "%d of %d cases failed\n", rep.failed, rep.total)
		return fmt.Errorf("conformance %s: %w", opts.file, errConformance)
	}
	if !rep.json {
		fmt.Fprintf(stdout, "all %d cases passed\n", rep.total)
	}
	return nil
}

type conformanceOptions struct {
	file     string
	plugins  map[string]config.Plugin
	allow    []string
	cacheDir string
	known    authtest.Account
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

// loadOne loads file alone in a fresh Manager over an in-memory store.
func loadOne(ctx context.Context, opts conformanceOptions, mutate func(*host.Config)) (*host.Manager, *host.Plugin, error) {
	dir, err := os.MkdirTemp("", "authhost-conformance-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir) // the Manager has compiled the module by the time this runs
	wasm, err := os.ReadFile(opts.file)
	if err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "plugin.wasm"), wasm, 0o600); err != nil {
		return nil, nil, err
	}
	plugins := map[string]host.PluginConfig{}
	for name, p := range opts.plugins {
		pc, err := hostConfig(p, opts.allow)
		if err != nil {
			return nil, nil, fmt.Errorf("plugins.%s: %w", name, err)
		}
		plugins[name] = pc
	}
	if len(opts.allow) > 0 {
		// The provider's name is known only from describe: give the extra
		// hosts to whichever plugin the file turns out to be.
		rep, err := host.Inspect(ctx, opts.file, opts.cacheDir)
		if err == nil && rep.Name != "" {
			if _, ok := plugins[rep.Name]; !ok {
				plugins[rep.Name] = host.PluginConfig{AllowedHosts: opts.allow}
			}
		}
	}
	cfg := host.Config{
		PluginsDir: dir,
		CacheDir:   opts.cacheDir,
		Store:      memory.New(memory.Options{}),
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Plugins:    plugins,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	m, err := host.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	loaded, errs := m.Load(ctx)
	if len(errs) > 0 || len(loaded) != 1 {
		_ = m.Close()
		return nil, nil, errors.Join(errs...)
	}
	return m, loaded[0], nil
}

// runConformance runs every case against opts.file, reporting to rep.
func runConformance(ctx context.Context, opts conformanceOptions, rep *reporter) error {
	var mu sync.Mutex
	var traps []string
	m, p, err := loadOne(ctx, opts, func(c *host.Config) {
		c.OnCall = func(r host.CallRecord) {
			if r.Outcome == "failure" || r.Outcome == "timeout" {
				mu.Lock()
				traps = append(traps, r.Export+" ("+r.Outcome+")")
				mu.Unlock()
			}
		}
	})
	root := newCase(ctx, rep, "")
	if err != nil {
		root.Run("abi/load", func(t authtest.T) {
			t.Fatalf("SPEC.md §2, §5: the host refused to load %s: %v", opts.file, err)
		})
		return nil
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
	root.Run("capabilities", func(t authtest.T) { runSuites(t, p, opts.known) })
	root.Run("abi/no-trap", func(t authtest.T) {
		mu.Lock()
		defer mu.Unlock()
		if len(traps) > 0 {
			t.Errorf("SPEC.md §3, §10: calls trapped or timed out instead of answering an error envelope: %s", strings.Join(slices.Compact(slices.Sorted(slices.Values(traps))), ", "))
		}
	})
	return nil
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

// reporter prints one line per case and counts failures.
type reporter struct {
	mu            sync.Mutex
	w             io.Writer
	json          bool
	total, failed int
}

// caseResult is one case's outcome, as printed with --json.
type caseResult struct {
	Case     string   `json:"case"`
	Pass     bool     `json:"pass"`
	Skipped  bool     `json:"skipped,omitempty"`
	Failures []string `json:"failures,omitempty"`
	Notes    []string `json:"notes,omitempty"`
}

func (r *reporter) report(res caseResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.total++
	if !res.Pass {
		r.failed++
	}
	if r.json {
		_ = json.NewEncoder(r.w).Encode(res)
		return
	}
	status := "PASS"
	switch {
	case !res.Pass:
		status = "FAIL"
	case res.Skipped:
		status = "SKIP"
	}
	fmt.Fprintf(r.w, "%s %s\n", status, res.Case)
	for _, f := range res.Failures {
		fmt.Fprintf(r.w, "    %s\n", f)
	}
	if res.Skipped {
		for _, n := range res.Notes {
			fmt.Fprintf(r.w, "    %s\n", n)
		}
	}
}

// conformanceCase implements authtest.T for the CLI: every case that runs
// no sub-case is reported as one line.
type conformanceCase struct {
	ctx      context.Context
	rep      *reporter
	name     string
	mu       sync.Mutex
	failures []string
	notes    []string
	skipped  bool
	children bool
}

var _ authtest.T = (*conformanceCase)(nil)

func newCase(ctx context.Context, rep *reporter, name string) *conformanceCase {
	return &conformanceCase{ctx: ctx, rep: rep, name: name}
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
	sub := newCase(c.ctx, c.rep, full)
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
	defer sub.mu.Unlock()
	if !sub.children || len(sub.failures) > 0 {
		sub.rep.report(caseResult{Case: full, Pass: len(sub.failures) == 0, Skipped: sub.skipped, Failures: sub.failures, Notes: sub.notes})
	}
	return len(sub.failures) == 0
}
