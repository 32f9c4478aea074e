package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/authhost/authhost/host"
	"github.com/authhost/authhost/internal/conformance"
)

// cmdCall runs one export of a plugin, loaded in the real host with its
// config, and prints the host function calls it made and its envelope.
func cmdCall(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("call", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "authhost config file (YAML or JSON) holding the plugin's plugins.<name> entry")
	var allow stringList
	fs.Var(&allow, "allow-host", "also let the plugin's http_do reach host `H` (repeatable)")
	cacheDir := fs.String("cache-dir", "", "wazero compilation cache directory (optional)")
	pos, err := parseArgs(fs, args, "call [--config FILE] [--allow-host H]... FILE.wasm EXPORT [JSON]", stdout)
	if err != nil {
		return err
	}
	if len(pos) < 2 || len(pos) > 3 {
		return usageError{"call: want FILE.wasm EXPORT [JSON]"}
	}
	input := []byte("{}")
	if len(pos) == 3 {
		input = []byte(pos[2])
	}
	opts, err := pluginOptions(*cfgPath, pos[0], allow, *cacheDir)
	if err != nil {
		return fmt.Errorf("call: %w", err)
	}
	var mu sync.Mutex
	m, p, err := conformance.Load(ctx, opts, func(c *host.Config) {
		c.OnHostCall = func(r host.HostCallRecord) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(stdout, "host %s %s -> %s (%s)\n", r.Func, r.Input, r.Output, r.Duration.Round(time.Microsecond))
		}
	})
	if err != nil {
		return fmt.Errorf("call: load %s: %w", opts.File, err)
	}
	defer m.Close()
	out, callErr := p.CallRaw(ctx, pos[1], input)
	mu.Lock()
	defer mu.Unlock()
	if callErr != nil {
		return fmt.Errorf("call %s: %w", pos[1], callErr)
	}
	var pretty any
	if json.Unmarshal(out, &pretty) == nil {
		out, _ = json.MarshalIndent(pretty, "", "  ")
	}
	fmt.Fprintf(stdout, "envelope %s\n", out)
	return nil
}
