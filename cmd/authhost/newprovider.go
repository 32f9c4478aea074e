package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/authhost/authhost/internal/scaffold"
	"github.com/authhost/authhost/internal/wasmenv"
)

// cmdNewProvider writes a new Go provider from the scaffold templates.
func cmdNewProvider(_ context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("new-provider", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory to create (default: examples/NAME)")
	pos, err := parseArgs(fs, args, "new-provider [--dir DIR] NAME", stdout)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"new-provider: want exactly one NAME"}
	}
	name := pos[0]
	if *dir == "" {
		*dir = filepath.Join("examples", name)
	}
	if err := scaffold.Write(*dir, name); err != nil {
		return fmt.Errorf("new-provider: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s (main.go, main_test.go, authhost.yaml)\nbuild:  %s\ncheck:  authhost conformance --config %s %s.wasm\n",
		*dir, wasmenv.Command("./"+filepath.ToSlash(*dir), name+".wasm"), filepath.Join(*dir, "authhost.yaml"), name)
	return nil
}
