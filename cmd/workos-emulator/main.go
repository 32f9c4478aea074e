// Command workos-emulator serves the WorkOS emulator of the tests
// (internal/testenv/workos) on a fixed local address, seeded with a demo
// organization and users, so the WorkOS provider can be tried without a
// WorkOS account:
//
//	go tool task run-workos
//
// runs it next to authhost with examples/authhost-workos.yaml. Sign in at
// http://localhost:8080/login with "Sign in with SSO"; the emulator's
// hosted page asks only for an email (admin@example.com or
// member@example.com). It keeps everything in memory.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/authhost/authhost/internal/testenv/workos"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8090", "address to listen on")
	flag.Parse()
	if err := run(*listen); err != nil {
		fmt.Fprintln(os.Stderr, "workos-emulator:", err)
		os.Exit(1)
	}
}

func run(addr string) error {
	emu, err := workos.NewAt(addr)
	if err != nil {
		return err
	}
	defer emu.Close()
	users := emu.SeedDemo()
	fmt.Printf("WorkOS emulator on %s (API key %s, client id %s; not WorkOS, for local use only)\n", emu.URL, emu.APIKey, emu.ClientID)
	for _, u := range users {
		fmt.Printf("  demo user %s (organization %s)\n", u.Email, workos.DemoOrganizationID)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return nil
}
