// Command authhost serves one auth API and web UI over authentication
// providers loaded as sandboxed WebAssembly plugins.
//
//	authhost serve [--config FILE] [flags]   run the server
//	authhost inspect [--json] [--config FILE] FILE.wasm  describe a provider plugin (and check its config)
//	authhost conformance [--config FILE] FILE.wasm     check a provider against SPEC.md in the real host
//	authhost call [--config FILE] FILE.wasm EXPORT [JSON]  run one export, print its envelope and host calls
//	authhost new-provider [--dir DIR] NAME             write a new Go provider (user + credentials)
//	authhost license keygen|issue|inspect    make and check licenses
//	authhost backup|restore                  copy the data dir's store
//	authhost roles list|assign|revoke        role assignments (data store or --url)
//	authhost version                         print the version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, errHelp) {
		return
	}
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(os.Stderr, "authhost:", err)
			fmt.Fprint(os.Stderr, usage)
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "authhost:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  authhost serve [--config FILE] [--listen ADDR] [--public-url URL] [--plugins-dir DIR] [--data-dir DIR] [--mode development|production] [--log-level LEVEL]
  authhost inspect [--json] [--config authhost.yaml] FILE.wasm
  authhost conformance [--config FILE.yaml|json] [--allow-host H]... [--user EMAIL --password PW] [--json] FILE.wasm
  authhost call [--config FILE] [--allow-host H]... FILE.wasm EXPORT [JSON]
  authhost new-provider [--dir DIR] NAME
  authhost license keygen --out FILE
  authhost license issue --key FILE --org NAME [--tier T] [--features rbac,acl,audit] [--days N | --expires DATE]
  authhost license inspect [--json] [--public-key KEY]... [--config FILE] TOKEN
  authhost backup [--config FILE | --data-dir DIR] --out FILE
  authhost restore [--config FILE | --data-dir DIR] BACKUP
  authhost roles list [--config FILE | --data-dir DIR | --url URL --token TOKEN] [USER_ID]
  authhost roles assign [--config FILE | --data-dir DIR | --url URL --token TOKEN] USER_ID ROLE...
  authhost roles revoke [--config FILE | --data-dir DIR | --url URL --token TOKEN] (USER_ID ROLE... | --all USER_ID)
  authhost version

Every command takes --help.
`

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// run dispatches a command line; it is main without the process exits.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"no command given"}
	}
	switch args[0] {
	case "serve":
		return cmdServe(ctx, args[1:], stdout, stderr)
	case "inspect":
		return cmdInspect(ctx, args[1:], stdout)
	case "conformance":
		return cmdConformance(ctx, args[1:], stdout)
	case "call":
		return cmdCall(ctx, args[1:], stdout)
	case "new-provider":
		return cmdNewProvider(ctx, args[1:], stdout)
	case "license":
		return cmdLicense(args[1:], stdout)
	case "backup":
		return cmdBackup(ctx, args[1:], stdout)
	case "restore":
		return cmdRestore(ctx, args[1:], stdout)
	case "roles":
		return cmdRoles(ctx, args[1:], stdout)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "authhost %s (abi %s)\n", version, abiVersion())
		return nil
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return usageError{fmt.Sprintf("unknown command %q", args[0])}
}
