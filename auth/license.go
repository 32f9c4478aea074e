package auth

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
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
// against pub and returns its payload. A forged, malformed or expired token
// is an error saying which; an expired one also returns the payload so
// operators can see what lapsed.
func ParseLicense(token string, pub ed25519.PublicKey, now time.Time) (*License, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("license: public key has %d bytes, want %d", len(pub), ed25519.PublicKeySize)
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
	if !ed25519.Verify(pub, payload, sig) {
		return nil, errors.New("license: signature does not verify: token forged or issued for another key")
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

// SignLicense produces a token for l with priv. Used by tests and vendor
// tooling; the server only verifies.
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
	// Reason explains why no license is in force (absent, expired, forged).
	Reason string `json:"reason,omitempty"`
}

// EvaluateLicense applies the policy: in development every feature is on;
// in production a valid license turns on the features it grants, and
// without one RBAC, ACL and audit are off.
func EvaluateLicense(mode Mode, token string, pub ed25519.PublicKey, now time.Time) LicenseState {
	st := LicenseState{Mode: mode}
	if strings.TrimSpace(token) == "" {
		st.Reason = "no license configured"
		return st
	}
	l, err := ParseLicense(token, pub, now)
	if err != nil {
		st.Reason = err.Error()
		return st
	}
	st.Licensed, st.License = true, l
	return st
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
