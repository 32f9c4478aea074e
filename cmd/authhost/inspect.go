package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/authhost/authhost/host"
	"github.com/authhost/authhost/internal/config"
)

// errProblems makes `inspect` exit non-zero for a plugin that would not load.
var errProblems = errors.New("plugin would not load")

func cmdInspect(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	cacheDir := fs.String("cache-dir", "", "wazero compilation cache directory (optional)")
	cfgPath := fs.String("config", "", "authhost config file: also check the plugin's configuration with its authhost_configure (optional)")
	pos, err := parseArgs(fs, args, "inspect [--json] [--cache-dir DIR] [--config FILE] FILE.wasm", stdout)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"inspect: want exactly one FILE.wasm"}
	}
	file := pos[0]
	var configs map[string]json.RawMessage
	if *cfgPath != "" {
		cfg, err := config.Load(*cfgPath, nil)
		if err != nil {
			return fmt.Errorf("inspect: %w", err)
		}
		configs = map[string]json.RawMessage{}
		for name, p := range cfg.Plugins {
			js, err := p.ConfigJSON()
			if err != nil {
				return fmt.Errorf("inspect: plugins.%s: %w", name, err)
			}
			configs[name] = js
		}
	}
	rep, err := host.InspectConfig(ctx, file, *cacheDir, configs)
	if err != nil && len(rep.Problems) == 0 {
		return fmt.Errorf("inspect: %w", err) // unreadable: no report to print
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("inspect: %w", err)
		}
	} else {
		printReport(stdout, rep)
	}
	if err != nil {
		return fmt.Errorf("inspect: %w", err)
	}
	if !rep.OK() {
		return fmt.Errorf("inspect %s: %w", file, errProblems)
	}
	return nil
}

func printReport(w io.Writer, r host.Report) {
	caps := make([]string, len(r.Capabilities))
	for i, c := range r.Capabilities {
		caps[i] = string(c)
	}
	det := make([]string, len(r.Detected))
	for i, c := range r.Detected {
		det[i] = string(c)
	}
	fmt.Fprintf(w, "file:         %s\nname:         %s\nversion:      %s\nabi:          %s\n", r.File, r.Name, r.Version, r.ABI)
	fmt.Fprintf(w, "capabilities: %s\ndetected:     %s\nexports:      %s\n", orNone(caps), orNone(det), orNone(r.Exports))
	if r.Describe != nil && r.Describe.Declares() {
		fmt.Fprintf(w, "implements:   %s\n", orNone(r.Describe.Implements))
	}
	if len(r.Problems) == 0 {
		fmt.Fprintln(w, "problems:     none")
		return
	}
	fmt.Fprintln(w, "problems:")
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  - %s\n", p)
	}
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, ", ")
}
