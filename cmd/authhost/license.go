package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/internal/config"
)

func abiVersion() string { return abi.Version }

// cmdLicense dispatches `license keygen|issue|inspect`.
func cmdLicense(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError{"license: want keygen, issue or inspect"}
	}
	switch args[0] {
	case "keygen":
		return cmdLicenseKeygen(args[1:], stdout)
	case "issue":
		return cmdLicenseIssue(args[1:], stdout)
	case "inspect":
		return cmdLicenseInspect(args[1:], stdout)
	}
	return usageError{fmt.Sprintf("license: unknown subcommand %q (want keygen, issue or inspect)", args[0])}
}

// cmdLicenseKeygen makes an Ed25519 key pair for an operator's own
// licenses: the private key goes to a new 0600 file, the public key to
// stdout with the config line that trusts it.
func cmdLicenseKeygen(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("license keygen", flag.ContinueOnError)
	out := fs.String("out", "", "file to create for the private key (mode 0600; never overwritten)")
	pos, err := parseArgs(fs, args, "license keygen --out FILE", stdout)
	if err != nil {
		return err
	}
	if len(pos) > 0 || *out == "" {
		return usageError{"license keygen: want --out FILE and no arguments"}
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("license keygen: %w", err)
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("license keygen: %w", err)
	}
	if _, err := fmt.Fprintln(f, base64.RawURLEncoding.EncodeToString(priv.Seed())); err != nil {
		f.Close()
		return fmt.Errorf("license keygen: write %s: %w", *out, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("license keygen: write %s: %w", *out, err)
	}
	enc := base64.RawURLEncoding.EncodeToString(pub)
	fmt.Fprintf(stdout, "private key: %s (keep it secret; it signs licenses)\npublic key:  %s\n\ntrust it in the server's config:\n  license:\n    token: ${AUTHHOST_LICENSE}\n    public_keys: [%s]\n", *out, enc, enc)
	return nil
}

// readPrivateKey reads a key file written by keygen.
func readPrivateKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	seed, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%s: not a private key written by `authhost license keygen`", path)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// cmdLicenseIssue signs a license with a keygen private key.
func cmdLicenseIssue(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("license issue", flag.ContinueOnError)
	keyFile := fs.String("key", "", "private key file from `license keygen`")
	org := fs.String("org", "", "organization the license is for")
	tier := fs.String("tier", "enterprise", "tier name shown to operators")
	features := fs.String("features", "", "comma-separated features (rbac, acl, audit); empty grants all")
	days := fs.Int("days", 365, "validity in days from now")
	expires := fs.String("expires", "", "expiry date (YYYY-MM-DD or RFC 3339); overrides --days")
	pos, err := parseArgs(fs, args, "license issue --key FILE --org NAME [flags]", stdout)
	if err != nil {
		return err
	}
	if len(pos) > 0 || *keyFile == "" || strings.TrimSpace(*org) == "" {
		return usageError{"license issue: want --key FILE and --org NAME"}
	}
	priv, err := readPrivateKey(*keyFile)
	if err != nil {
		return fmt.Errorf("license issue: %w", err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	l := auth.License{Organization: strings.TrimSpace(*org), Tier: *tier, IssuedAt: now, ExpiresAt: now.AddDate(0, 0, *days)}
	if *expires != "" {
		if l.ExpiresAt, err = parseDate(*expires); err != nil {
			return usageError{"license issue: --expires: " + err.Error()}
		}
	}
	if !l.ExpiresAt.After(now) {
		return usageError{"license issue: the license would already be expired"}
	}
	for f := range strings.SplitSeq(*features, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if !isGated(f) {
			return usageError{fmt.Sprintf("license issue: unknown feature %q (want %s)", f, strings.Join(auth.GatedFeatures, ", "))}
		}
		l.Features = append(l.Features, f)
	}
	tok, err := auth.SignLicense(l, priv)
	if err != nil {
		return fmt.Errorf("license issue: %w", err)
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

func isGated(f string) bool {
	for _, g := range auth.GatedFeatures {
		if g == f {
			return true
		}
	}
	return false
}

func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, errors.New("want YYYY-MM-DD or RFC 3339")
	}
	return t.UTC(), nil
}

// licenseReport is what `license inspect` prints.
type licenseReport struct {
	Valid   bool          `json:"valid"`
	Reason  string        `json:"reason,omitempty"`
	License *auth.License `json:"license,omitempty"`
}

// cmdLicenseInspect verifies a token against the compiled-in key, the keys
// of --config's license.public_keys and each --public-key.
func cmdLicenseInspect(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("license inspect", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	var extra stringList
	fs.Var(&extra, "public-key", "also trust this base64url public key (repeatable)")
	cfgFile := fs.String("config", "", "also trust the config file's license.public_keys")
	pos, err := parseArgs(fs, args, "license inspect [--json] [--public-key KEY]... [--config FILE] TOKEN", stdout)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"license inspect: want exactly one TOKEN"}
	}
	if *cfgFile != "" {
		cfg, err := config.Load(*cfgFile, nil)
		if err != nil {
			return fmt.Errorf("license inspect: %w", err)
		}
		extra = append(extra, cfg.License.PublicKeys...)
	}
	keys, err := auth.TrustedKeys(extra)
	if err != nil {
		return fmt.Errorf("license inspect: %w", err)
	}
	l, perr := auth.ParseLicense(pos[0], keys, time.Now())
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
