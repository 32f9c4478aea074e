package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/authhost/authhost/auth/authtest"
	"github.com/authhost/authhost/internal/config"
	"github.com/authhost/authhost/internal/conformance"
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
	opts, err := pluginOptions(*cfgPath, pos[0], allow, *cacheDir)
	if err != nil {
		return fmt.Errorf("conformance: %w", err)
	}
	opts.Known = authtest.Account{Email: *email, Password: *password}
	var total, failed int
	conformance.Run(ctx, opts, func(r conformance.Result) {
		total++
		if !r.Pass {
			failed++
		}
		printResult(stdout, r, *asJSON)
	})
	if failed > 0 {
		if !*asJSON {
			fmt.Fprintf(stdout, "%d of %d cases failed\n", failed, total)
		}
		return fmt.Errorf("conformance %s: %w", opts.File, errConformance)
	}
	if !*asJSON {
		fmt.Fprintf(stdout, "all %d cases passed\n", total)
	}
	return nil
}

// pluginOptions reads the plugins section of the config file, if any.
func pluginOptions(cfgPath, file string, allow []string, cacheDir string) (conformance.Options, error) {
	opts := conformance.Options{File: file, Allow: allow, CacheDir: cacheDir}
	if cfgPath != "" {
		cfg, err := config.Load(cfgPath, nil)
		if err != nil {
			return opts, err
		}
		opts.Plugins = cfg.Plugins
	}
	return opts, nil
}

// printResult writes one case: a JSON line, or a PASS/FAIL/SKIP line with
// the failures (or a skip's notes) indented below it.
func printResult(w io.Writer, r conformance.Result, asJSON bool) {
	if asJSON {
		_ = json.NewEncoder(w).Encode(r)
		return
	}
	status := "PASS"
	switch {
	case !r.Pass:
		status = "FAIL"
	case r.Skipped:
		status = "SKIP"
	}
	fmt.Fprintf(w, "%s %s\n", status, r.Case)
	for _, f := range r.Failures {
		fmt.Fprintf(w, "    %s\n", f)
	}
	if r.Skipped {
		for _, n := range r.Notes {
			fmt.Fprintf(w, "    %s\n", n)
		}
	}
}
