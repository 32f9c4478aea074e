package app

import (
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"slices"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/internal/config"
)

// applyMemoryLimit sets the process's soft memory limit from
// memory_limit_mib unless the GOMEMLIMIT environment variable set one, and
// returns the limit in force in bytes (math.MaxInt64: none).
func applyMemoryLimit(cfg config.Config, log *slog.Logger) int64 {
	if os.Getenv("GOMEMLIMIT") != "" {
		limit := debug.SetMemoryLimit(-1)
		log.Info("memory limit from GOMEMLIMIT", "bytes", limit)
		return limit
	}
	mib := cfg.MemoryLimitMiB
	switch mib {
	case -1:
		debug.SetMemoryLimit(math.MaxInt64)
		return math.MaxInt64
	case 0:
		mib = config.DefaultMemoryLimitMiB
	}
	debug.SetMemoryLimit(int64(mib) << 20)
	log.Info("memory limit", "mib", mib)
	return int64(mib) << 20
}

// selected returns the host's test of whether a provider may serve a
// capability: it is named in capabilities, or it declares a composed
// capability the file leaves unset (the default may then pick it).
// Webhook is not composed: a push reaches its provider either way.
func selected(cfg config.Config) func(name string, caps []abi.Capability) bool {
	composed := auth.Capabilities()
	named := map[string]bool{}
	for _, names := range cfg.Caps {
		for _, n := range names {
			named[n] = true
		}
	}
	return func(name string, caps []abi.Capability) bool {
		if named[name] {
			return true
		}
		return slices.ContainsFunc(caps, func(c abi.Capability) bool {
			_, set := cfg.Caps[string(c)]
			return !set && slices.Contains(composed, string(c))
		})
	}
}

// releaseLoadGarbage returns the heap left over from compiling the plugins
// to the operating system at once, instead of over the scavenger's minutes.
func releaseLoadGarbage() { debug.FreeOSMemory() }
