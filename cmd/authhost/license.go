package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/auth"
)

func abiVersion() string { return abi.Version }

// licenseReport is what `license inspect` prints.
type licenseReport struct {
	Valid   bool          `json:"valid"`
	Reason  string        `json:"reason,omitempty"`
	License *auth.License `json:"license,omitempty"`
}

func cmdLicenseInspect(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("license inspect", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if fs.NArg() != 1 {
		return usageError{"license inspect: want exactly one TOKEN"}
	}
	pub, err := auth.DecodePublicKey(auth.DefaultLicensePublicKey)
	if err != nil {
		return fmt.Errorf("license inspect: %w", err)
	}
	l, perr := auth.ParseLicense(fs.Arg(0), pub, time.Now())
	rep := licenseReport{Valid: perr == nil, License: l}
	if perr != nil {
		rep.Reason = perr.Error()
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("license inspect: %w", err)
		}
	} else {
		printLicense(stdout, rep)
	}
	if perr != nil {
		return fmt.Errorf("license inspect: %w", perr)
	}
	return nil
}

func printLicense(w io.Writer, rep licenseReport) {
	if rep.Valid {
		fmt.Fprintln(w, "valid:        yes")
	} else {
		fmt.Fprintf(w, "valid:        no (%s)\n", rep.Reason)
	}
	if l := rep.License; l != nil {
		features := "all"
		if len(l.Features) > 0 {
			features = strings.Join(l.Features, ", ")
		}
		fmt.Fprintf(w, "organization: %s\ntier:         %s\nfeatures:     %s\nissued:       %s\nexpires:      %s\n",
			l.Organization, l.Tier, features, l.IssuedAt.UTC().Format(time.RFC3339), l.ExpiresAt.UTC().Format(time.RFC3339))
	}
}
