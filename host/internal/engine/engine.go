// Package engine is the narrow interface between authhost's plugin manager
// and a WebAssembly engine: compile module bytes into a Module, instantiate
// it into Instances, call exports by name with bytes in and bytes out. The
// only implementation today is the Extism go-sdk on wazero (NewExtism);
// everything Extism-specific stays in this package so that a direct wazero
// engine can replace it without touching the manager.
package engine

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Engine compiles modules. It is safe for concurrent use.
type Engine interface {
	// Compile validates and compiles wasm with the given options. The
	// result can create any number of instances.
	Compile(ctx context.Context, wasm []byte, opts Options) (Module, error)
	// Close releases the engine's shared resources (the compilation cache
	// handle). Modules compiled by it must be closed first.
	Close(ctx context.Context) error
}

// Module is a compiled plugin. Instantiate is safe for concurrent use.
type Module interface {
	// Instantiate creates a fresh, isolated instance.
	Instantiate(ctx context.Context) (Instance, error)
	// CodeBytes returns the size of the module's machine code (0 where
	// the engine cannot tell).
	CodeBytes() uint64
	// Close releases the module and every instance still open.
	Close(ctx context.Context) error
}

// Instance is one instantiated plugin. It is not safe for concurrent use:
// one goroutine at a time.
type Instance interface {
	// Call runs export with input and returns its output. A non-nil error
	// means the instance may be corrupted (trap, exit, deadline, guest
	// error return code) and must not be used again; see ErrTimeout,
	// ErrTrap and ErrClosed.
	Call(ctx context.Context, export string, input []byte) ([]byte, error)
	// Exports returns the names of the module's exported functions. The
	// map must not be modified.
	Exports() map[string]bool
	// MemoryBytes returns the size of the instance's linear memory (the
	// guest's, plus the Extism kernel's where the engine keeps one). Not
	// to be called while a Call is in flight.
	MemoryBytes() uint64
	// Close releases the instance.
	Close(ctx context.Context) error
}

// HostFunc is a host function taking one JSON document and returning one.
// Fn is called concurrently from many instances and must not panic (a
// panic traps the calling instance). The ctx is the ctx of the Call that
// reached it, with its deadline.
type HostFunc struct {
	Name string
	// MaxInput bounds the request size; a larger request traps the guest
	// call. Zero means 1 MiB.
	MaxInput int
	Fn       func(ctx context.Context, in []byte) []byte
}

// Options configure one compiled module and every instance of it.
type Options struct {
	// Namespace is the Wasm import module of HostFuncs.
	Namespace string
	// HostFuncs are the host functions the module may import.
	HostFuncs []HostFunc
	// MemoryPages caps each linear memory (guest and Extism kernel), in
	// 64 KiB pages. Zero means 1024 pages (64 MiB).
	MemoryPages uint32
	// MaxVarBytes caps Extism plugin variables. Zero means 1 MiB (Extism
	// itself would read zero as "disabled").
	MaxVarBytes int64
	// Config is the Extism configuration every instance reads with the PDK's
	// config_get (shared, read-only).
	Config map[string]string
	// Logger receives the guest's stdout, stderr and Extism log lines,
	// bounded per line and per instance. Nil discards them.
	Logger *slog.Logger
	// MaxLogLine truncates each captured line; zero means 8 KiB.
	MaxLogLine int
}

// Errors returned (wrapped) by Instance.Call.
var (
	// ErrTimeout means the call ran past its ctx deadline or the ctx was
	// canceled; the instance is closed.
	ErrTimeout = errors.New("engine: call deadline exceeded")
	// ErrTrap means the guest trapped, panicked, exited or ran out of
	// memory; the instance must be discarded.
	ErrTrap = errors.New("engine: guest trapped")
	// ErrClosed means the instance was already closed.
	ErrClosed = errors.New("engine: instance closed")
	// ErrNoExport means the export does not exist; the instance is intact.
	ErrNoExport = errors.New("engine: no such export")
)

// CallDeadline returns ctx with the deadline d for Instance.Call, without
// the timer context.WithDeadline arms: the engine enforces d itself (the
// wazero engine with its watchdog) and hands host functions a real
// deadline context only when the guest calls one. Done and Err remain the
// parent's. An earlier deadline of ctx wins.
func CallDeadline(ctx context.Context, d time.Time) context.Context {
	if cur, ok := ctx.Deadline(); ok && !d.Before(cur) {
		return ctx
	}
	return &deadlineCtx{Context: ctx, d: d}
}

type deadlineCtx struct {
	context.Context
	d time.Time
}

func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.d, true }

// realDeadline returns a ctx whose Done closes at ctx's deadline when ctx
// came from CallDeadline (ctx itself otherwise), and its cancel func.
func realDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if c, ok := ctx.(*deadlineCtx); ok {
		return context.WithDeadline(c.Context, c.d)
	}
	return ctx, func() {}
}
