package auth

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// DefaultLicensePublicKey is the base64url Ed25519 public key that release
// builds verify licenses against. Its private half is held by the vendor,
// never in this repository.
const DefaultLicensePublicKey = "5BZOVs6rIQdeqQZrsKCun5dNCOv1pbJjWwsbWtjbc0A"

// Licensed features: the capabilities gated in production.
const (
	FeatureRBAC  = "rbac"
	FeatureACL   = "acl"
	FeatureAudit = "audit"
)

// GatedFeatures are off in production without a valid license. User,
// session, SSO and credentials are never gated.
var GatedFeatures = []string{FeatureRBAC, FeatureACL, FeatureAudit}

// License is the signed payload of a license token.
type License struct {
	Organization string    `json:"org"`
	Tier         string    `json:"tier"`
	Features     []string  `json:"features,omitempty"` // empty = every feature
	IssuedAt     time.Time `json:"iat"`
	ExpiresAt    time.Time `json:"exp"`
}

// Grants reports whether the license includes feature.
func (l *License) Grants(feature string) bool {
	if len(l.Features) == 0 {
		return true
	}
	for _, f := range l.Features {
		if f == feature {
			return true
		}
	}
	return false
}

// ErrLicenseExpired is returned for a correctly signed but expired token.
var ErrLicenseExpired = errors.New("license expired")

// ParseLicense verifies token (base64url(payload JSON) "." base64url(sig))
// against any of the trusted keys and returns its payload. A forged,
// malformed or expired token is an error saying which; an expired one also
// returns the payload so operators can see what lapsed.
func ParseLicense(token string, trusted []ed25519.PublicKey, now time.Time) (*License, error) {
	if len(trusted) == 0 {
		return nil, errors.New("license: no trusted public key")
	}
	for i, pub := range trusted {
		if len(pub) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("license: trusted key %d has %d bytes, want %d", i, len(pub), ed25519.PublicKeySize)
		}
	}
	payloadPart, sigPart, ok := strings.Cut(strings.TrimSpace(token), ".")
	if !ok || payloadPart == "" || sigPart == "" {
		return nil, errors.New("license: malformed token: want <payload>.<signature>")
	}
	payload, err := base64.RawURLEncoding.DecodeString(payloadPart)
	if err != nil {
		return nil, fmt.Errorf("license: malformed payload encoding: %w", err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(sigPart)
	if err != nil {
		return nil, fmt.Errorf("license: malformed signature encoding: %w", err)
	}
	if !slices.ContainsFunc(trusted, func(pub ed25519.PublicKey) bool { return ed25519.Verify(pub, payload, sig) }) {
		return nil, errors.New("license: signature does not verify against any trusted key: token forged or issued for another key")
	}
	var l License
	if err := json.Unmarshal(payload, &l); err != nil {
		return nil, fmt.Errorf("license: malformed payload: %w", err)
	}
	if l.ExpiresAt.IsZero() {
		return nil, errors.New("license: payload has no expiry")
	}
	if !now.Before(l.ExpiresAt) {
		return &l, fmt.Errorf("license: %w on %s", ErrLicenseExpired, l.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return &l, nil
}

// SignLicense produces a token for l with priv. `authhost license issue`
// and tests use it; the server only verifies.
func SignLicense(l License, priv ed25519.PrivateKey) (string, error) {
	payload, err := json.Marshal(l)
	if err != nil {
		return "", fmt.Errorf("license: encode payload: %w", err)
	}
	sig := ed25519.Sign(priv, payload)
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// DecodePublicKey decodes a base64url (or standard base64) Ed25519 key.
func DecodePublicKey(s string) (ed25519.PublicKey, error) {
	s = strings.TrimSpace(s)
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		if b, err = base64.StdEncoding.DecodeString(s); err != nil {
			return nil, fmt.Errorf("license: decode public key: %w", err)
		}
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("license: public key has %d bytes, want %d", len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// Mode is the deployment mode that decides license enforcement.
type Mode string

// Modes.
const (
	ModeDevelopment Mode = "development"
	ModeProduction  Mode = "production"
)

// LicenseState is the evaluated license policy the server applies.
type LicenseState struct {
	Mode     Mode     `json:"mode"`
	Licensed bool     `json:"licensed"`
	License  *License `json:"license,omitempty"`
	// Reason explains why no license is in force (absent, declined with
	// `license: none`, expired, forged).
	Reason string `json:"reason,omitempty"`
}

// ReasonDeclined is the Reason of a deployment whose operator chose to run
// without a license (`license: none`).
const ReasonDeclined = "no license: the configuration says license: none"

// EvaluateLicense applies the policy: in development every feature is on;
// in production a valid license turns on the features it grants, and
// without one RBAC, ACL and audit are off. declined records an operator's
// explicit `license: none`.
func EvaluateLicense(mode Mode, token string, declined bool, trusted []ed25519.PublicKey, now time.Time) LicenseState {
	st := LicenseState{Mode: mode}
	if declined {
		st.Reason = ReasonDeclined
		return st
	}
	if strings.TrimSpace(token) == "" {
		st.Reason = "no license configured"
		return st
	}
	l, err := ParseLicense(token, trusted, now)
	if err != nil {
		st.Reason = err.Error()
		return st
	}
	st.Licensed, st.License = true, l
	return st
}

// Usable reports whether a server may start under this state: anything in
// development; in production a valid license or an explicit `license: none`.
// The error says what to configure.
func (s LicenseState) Usable() error {
	if s.Mode != ModeProduction || s.Licensed || s.Reason == ReasonDeclined {
		return nil
	}
	return fmt.Errorf("production mode needs a valid license (%s): set `license: <token>` (see docs/licensing.md) or `license: none` to run with RBAC, ACL and audit off", s.Reason)
}

// TrustedKeys decodes the license keys to trust: the compiled-in vendor key
// and each extra base64url key, in that order.
func TrustedKeys(extra []string) ([]ed25519.PublicKey, error) {
	keys := make([]ed25519.PublicKey, 0, 1+len(extra))
	for _, s := range append([]string{DefaultLicensePublicKey}, extra...) {
		k, err := DecodePublicKey(s)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// Enabled reports whether feature is on under this state.
func (s LicenseState) Enabled(feature string) bool {
	if s.Mode != ModeProduction {
		return true
	}
	for _, g := range GatedFeatures {
		if g == feature {
			return s.Licensed && s.License.Grants(feature)
		}
	}
	return true
}
