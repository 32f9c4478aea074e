package host

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"sync"

	"github.com/authhost/authhost/host/internal/engine"
)

// lazyModule is a compiled module that can give its compiled code back
// while no instance exists (a plugin nothing selects) and compiles it again
// from its file, through the compilation cache, when an instance is next
// needed. The file must still hold the bytes that were loaded: a changed
// file is refused until the plugins are reloaded.
type lazyModule struct {
	file    string
	sum     [sha256.Size]byte
	compile func(ctx context.Context, wasm []byte) (engine.Module, error)

	mu     sync.Mutex
	mod    engine.Module // nil while dropped
	closed bool
}

func newLazyModule(mod engine.Module, file string, wasm []byte, compile func(context.Context, []byte) (engine.Module, error)) *lazyModule {
	return &lazyModule{file: file, sum: sha256.Sum256(wasm), compile: compile, mod: mod}
}

// Instantiate creates an instance, compiling the module first if it was
// dropped.
func (l *lazyModule) Instantiate(ctx context.Context) (engine.Instance, error) {
	mod, err := l.module(ctx)
	if err != nil {
		return nil, err
	}
	return mod.Instantiate(ctx)
}

func (l *lazyModule) module(ctx context.Context) (engine.Module, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return nil, fmt.Errorf("host: %s: %w", l.file, ErrClosed)
	case l.mod != nil:
		return l.mod, nil
	}
	wasm, err := os.ReadFile(l.file)
	if err != nil {
		return nil, fmt.Errorf("host: recompile: %w", err)
	}
	if sum := sha256.Sum256(wasm); !bytes.Equal(sum[:], l.sum[:]) {
		return nil, fmt.Errorf("host: recompile: %s changed since it was loaded; reload the plugins", l.file)
	}
	mod, err := l.compile(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("host: recompile %s: %w", l.file, err)
	}
	l.mod = mod
	return mod, nil
}

// CodeBytes returns the machine code of the compiled module, 0 while it is
// dropped.
func (l *lazyModule) CodeBytes() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mod == nil {
		return 0
	}
	return l.mod.CodeBytes()
}

// drop closes the compiled module; the pool must hold no instance of it.
func (l *lazyModule) drop() {
	l.mu.Lock()
	mod := l.mod
	l.mod = nil
	l.mu.Unlock()
	if mod != nil {
		_ = mod.Close(context.Background())
	}
}

// Close releases the module for good.
func (l *lazyModule) Close(ctx context.Context) error {
	l.mu.Lock()
	mod := l.mod
	l.mod, l.closed = nil, true
	l.mu.Unlock()
	if mod == nil {
		return nil
	}
	return mod.Close(ctx)
}
