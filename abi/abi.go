// Package abi holds the authhost provider ABI v1: the version rules, the
// export names of every capability, the result envelope with its closed set
// of error codes, and the JSON wire types exchanged between the host and a
// provider. SPEC.md in this directory is the language-neutral contract; this
// package is its Go rendering and imports nothing of the engine.
package abi

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Major and Minor are the ABI version this host and PDK implement. Minor 1
// added the optional audit exports audit_export_create and audit_export_get;
// minor 2 added describe's implements, session_transport and demo fields,
// a session's cache_seconds and the optional authhost_configure export.
const (
	Major = 1
	Minor = 2
)

// Version is the ABI version string a provider reports in Describe.ABI.
var Version = fmt.Sprintf("%d.%d", Major, Minor)

// ParseVersion parses "MAJOR.MINOR" (a trailing ".PATCH" is accepted and
// ignored, so "1.0.3" is 1.0).
func ParseVersion(s string) (major, minor int, err error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, 0, fmt.Errorf("abi version %q: want MAJOR.MINOR", s)
	}
	nums := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || (len(p) > 1 && p[0] == '0') {
			return 0, 0, fmt.Errorf("abi version %q: %q is not a non-negative integer", s, p)
		}
		nums[i] = n
	}
	return nums[0], nums[1], nil
}

// CheckCompatible reports whether a provider built for ABI version v can be
// loaded by this host. The host accepts the same major and any minor up to
// its own; a different major or a newer minor is refused with an error that
// tells the operator what to rebuild or upgrade.
func CheckCompatible(v string) error {
	major, minor, err := ParseVersion(v)
	if err != nil {
		return err
	}
	switch {
	case major != Major:
		return fmt.Errorf("abi %s is not supported by this host (abi %s): rebuild the provider against a PDK for abi %d.x", v, Version, Major)
	case minor > Minor:
		return fmt.Errorf("abi %s is newer than this host's abi %s: upgrade authhost or rebuild the provider against a PDK for abi %s", v, Version, Version)
	}
	return nil
}

// NamePattern is the rule a provider name follows (SPEC §2): lower-case
// letters, digits and '-', starting with a letter, at most 64 characters.
// The host refuses any other name, and operators key a plugin's
// configuration by it.
var NamePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,63}$`)

// CheckName reports why name is not a valid provider name, or nil.
func CheckName(name string) error {
	if !NamePattern.MatchString(name) {
		return fmt.Errorf("provider name %q is invalid: want lower-case letters, digits and '-', starting with a letter, at most 64 characters", name)
	}
	return nil
}

// AtLeast reports whether version v (as in Describe.ABI) is at least
// major.minor; an unparsable v is not.
func AtLeast(v string, major, minor int) bool {
	ma, mi, err := ParseVersion(v)
	if err != nil {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
}
