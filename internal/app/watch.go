package app

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchSettle is how long the plugins directory must stay quiet after a
// change before it is reloaded: editors and cp write a file in several
// steps, and a half-written file must not be loaded. A file that is still
// incomplete when the reload runs fails its header check or compilation
// and the previous version keeps serving; its last write triggers the
// next reload.
const watchSettle = 250 * time.Millisecond

// watchPlugins reloads whenever a *.wasm file of dir is created, written,
// renamed or removed, debounced by settle. It returns once the watcher is
// set up; the returned func stops it.
func (a *App) watchPlugins(dir string, settle time.Duration) (func() error, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch plugins: %w", err)
	}
	if err := w.Add(dir); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("watch plugins: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		timer := time.NewTimer(settle)
		timer.Stop()
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if strings.HasSuffix(ev.Name, ".wasm") && ev.Op != fsnotify.Chmod {
					a.log.Debug("plugins dir changed", "file", filepath.Base(ev.Name), "op", ev.Op.String())
					timer.Reset(settle)
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				a.log.Error("watch plugins", "error", err)
			case <-timer.C:
				if problems, err := a.Reload(ctx); err != nil {
					a.log.Error("plugin reload failed", "error", err)
				} else if len(problems) > 0 {
					a.log.Error("plugin reload: some files did not load", "problems", problems)
				}
			}
		}
	}()
	return func() error {
		cancel()
		<-done
		if err := w.Close(); err != nil {
			return fmt.Errorf("watch plugins: %w", err)
		}
		return nil
	}, nil
}
