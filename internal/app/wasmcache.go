package app

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/authhost/authhost/internal/config"
)

// maxCacheBytes bounds the compilation cache: past it, the least recently
// written compilations (other plugin builds, other wazero versions) go
// first. Four plugins take about 160 MB.
const maxCacheBytes = 1 << 30

// cacheDir is where compiled plugins are kept between starts: cache_dir,
// else the user's cache dir (shared by every data dir), else
// <data_dir>/wasm-cache.
func cacheDir(cfg config.Config) string {
	if cfg.CacheDir != "" {
		return cfg.CacheDir
	}
	if d, err := os.UserCacheDir(); err == nil {
		dir := filepath.Join(d, "authhost", "wasm")
		if os.MkdirAll(dir, 0o700) == nil {
			return dir
		}
	}
	return filepath.Join(cfg.DataDir, "wasm-cache")
}

// cacheEntry is one file of the compilation cache.
type cacheEntry struct {
	path string
	size int64
	mod  time.Time
}

// pruneCache removes the oldest files of the compilation cache under dir
// until it holds at most max bytes, and returns the bytes it holds then.
func pruneCache(dir string, max int64, log *slog.Logger) int64 {
	var entries []cacheEntry
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		entries = append(entries, cacheEntry{path: path, size: info.Size(), mod: info.ModTime()})
		total += info.Size()
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		log.Warn("compilation cache: size unknown", "dir", dir, "error", err)
	}
	slices.SortFunc(entries, func(a, b cacheEntry) int { return a.mod.Compare(b.mod) })
	for _, e := range entries {
		if total <= max {
			break
		}
		if err := os.Remove(e.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			log.Warn("compilation cache: prune", "file", e.path, "error", err)
			continue
		}
		total -= e.size
		log.Info("compilation cache: pruned", "file", e.path, "bytes", e.size)
	}
	return total
}
