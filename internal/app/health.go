package app

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/host"
	"github.com/authhost/authhost/internal/config"
	"github.com/authhost/authhost/server"
)

// missingProvider is a capability choice naming a provider that did not
// load; the capability fails closed.
type missingProvider struct {
	capability, name string
	cause            error // the load error of its file, when one is known
}

func (m *missingProvider) Error() string {
	msg := fmt.Sprintf("capabilities.%s: provider %q is not loaded", m.capability, m.name)
	if hint := didYouMean(m.name); hint != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", hint)
	}
	if m.cause != nil {
		msg += ": " + m.cause.Error()
	}
	return msg
}

// didYouMean suggests the reserved name that a typo like "bultin" was
// meant to be.
func didYouMean(name string) string {
	for _, want := range []string{auth.BuiltinName, auth.NoneName} {
		if name != want && editDistance(strings.ToLower(name), want) <= 2 {
			return want
		}
	}
	return ""
}

// editDistance is the Levenshtein distance of two short ASCII names.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// health sorts what went wrong at start into problems (something the
// configuration needs is not there: the server is not ready, and a
// production server refuses to start) and degraded plugins (a file that
// failed to load but that nothing selects or configures: reported, never a
// reason to be unready).
type health struct {
	problems []string
	degraded []server.DegradedPlugin
}

// assess builds the health from the loaded plugins, the host's load errors
// and the selection's missing providers.
func assess(cfg config.Config, loaded map[string]bool, loadErrs, missing []error) health {
	wanted := map[string]bool{}
	for name := range cfg.Plugins {
		wanted[name] = true
	}
	for _, names := range cfg.Caps {
		for _, n := range names {
			wanted[n] = true
		}
	}
	var h health
	fileErr := map[string]error{} // provider name -> load error of its file
	for _, e := range loadErrs {
		var le *host.LoadError
		if !errors.As(e, &le) {
			h.problems = append(h.problems, e.Error()) // e.g. no plugins dir
			continue
		}
		name := le.Name
		if name == "" {
			name = strings.TrimSuffix(filepath.Base(le.File), ".wasm")
		}
		if wanted[name] {
			fileErr[name] = le
		} else {
			h.degraded = append(h.degraded, server.DegradedPlugin{File: filepath.Base(le.File), Error: le.Error()})
		}
	}
	reported := map[string]bool{}
	for _, e := range missing {
		var mp *missingProvider
		if errors.As(e, &mp) {
			mp.cause = fileErr[mp.name]
			reported[mp.name] = true
		}
		h.problems = append(h.problems, e.Error())
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.Plugins)) {
		if loaded[name] || reported[name] || cfg.Plugins[name].Optional {
			continue
		}
		msg := fmt.Sprintf("configured plugin %q is not loaded", name)
		if err, ok := fileErr[name]; ok {
			msg += ": " + err.Error()
		}
		h.problems = append(h.problems, msg)
	}
	return h
}

// readiness reports the problems; degraded plugins do not count.
func (h health) readiness() server.Readiness {
	problems := slices.Clone(h.problems)
	return func() (bool, []string) { return len(problems) == 0, problems }
}
