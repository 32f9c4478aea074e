package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLicense(t *testing.T) {
	t.Parallel()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	otherPub, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	valid := License{Organization: "acme", Tier: "enterprise", Features: []string{"rbac", "audit"}, IssuedAt: now.Add(-time.Hour), ExpiresAt: now.Add(24 * time.Hour)}
	sign := func(l License, k ed25519.PrivateKey) string {
		tok, err := SignLicense(l, k)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := sign(valid, priv)
	expired := valid
	expired.ExpiresAt = now.Add(-time.Minute)
	noExp := valid
	noExp.ExpiresAt = time.Time{}
	payload, sig, _ := strings.Cut(good, ".")
	tampered := sign(License{Organization: "evil", Tier: "enterprise", ExpiresAt: now.Add(time.Hour)}, priv)
	tamperedPayload, _, _ := strings.Cut(tampered, ".")

	cases := []struct {
		name, token, wantErr string
	}{
		{"valid", good, ""},
		{"expired", sign(expired, priv), "license expired"},
		{"other key", sign(valid, otherPriv), "signature does not verify"},
		{"payload swapped", tamperedPayload + "." + sig, "signature does not verify"},
		{"no signature", payload, "malformed token"},
		{"garbage", "!!!.???", "malformed payload encoding"},
		{"empty", "", "malformed token"},
		{"no expiry", sign(noExp, priv), "no expiry"},
	}
	for _, c := range cases {
		l, err := ParseLicense(c.token, []ed25519.PublicKey{pub}, now)
		if c.wantErr == "" {
			if err != nil || l.Organization != "acme" || !l.Grants("rbac") || l.Grants("acl") {
				t.Errorf("%s: got %+v, %v", c.name, l, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("%s: err = %v, want containing %q", c.name, err, c.wantErr)
		}
	}
	if _, err := ParseLicense(sign(expired, priv), []ed25519.PublicKey{pub}, now); !errors.Is(err, ErrLicenseExpired) {
		t.Errorf("expired license error must wrap ErrLicenseExpired, got %v", err)
	}
	// Several trusted keys: a token of either verifies, one of neither does not.
	both := []ed25519.PublicKey{otherPub, pub}
	if l, err := ParseLicense(good, both, now); err != nil || l.Organization != "acme" {
		t.Errorf("second trusted key: %+v, %v", l, err)
	}
	if _, err := ParseLicense(good, []ed25519.PublicKey{otherPub}, now); err == nil {
		t.Error("a token signed by an untrusted key verified")
	}
	if _, err := ParseLicense(good, nil, now); err == nil || !strings.Contains(err.Error(), "no trusted public key") {
		t.Errorf("no trusted keys: %v", err)
	}
	if _, err := ParseLicense(good, []ed25519.PublicKey{pub[:5]}, now); err == nil || !strings.Contains(err.Error(), "has 5 bytes") {
		t.Errorf("short key: %v", err)
	}
}

func TestLicensePolicy(t *testing.T) {
	t.Parallel()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Now()
	all, _ := SignLicense(License{Organization: "acme", ExpiresAt: now.Add(time.Hour)}, priv)
	rbacOnly, _ := SignLicense(License{Organization: "acme", Features: []string{"rbac"}, ExpiresAt: now.Add(time.Hour)}, priv)
	cases := []struct {
		name          string
		mode          Mode
		token         string
		declined      bool
		rbac, acl, au bool
		usable        bool
	}{
		{"development without license: everything on", ModeDevelopment, "", false, true, true, true, true},
		{"production without license: gated off, refuses to start", ModeProduction, "", false, false, false, false, false},
		{"production with forged license: refuses to start", ModeProduction, "abc.def", false, false, false, false, false},
		{"production with license: none: gated off, starts", ModeProduction, "", true, false, false, false, true},
		{"production with license: none and a token: none wins", ModeProduction, all, true, false, false, false, true},
		{"production licensed for all", ModeProduction, all, false, true, true, true, true},
		{"production licensed for rbac", ModeProduction, rbacOnly, false, true, false, false, true},
	}
	for _, c := range cases {
		st := EvaluateLicense(c.mode, c.token, c.declined, []ed25519.PublicKey{pub}, now)
		if err := st.Usable(); (err == nil) != c.usable {
			t.Errorf("%s: Usable() = %v, want usable=%v", c.name, err, c.usable)
		} else if err != nil && !strings.Contains(err.Error(), "license: none") {
			t.Errorf("%s: the refusal must say how to opt out: %v", c.name, err)
		}
		if st.Enabled(FeatureRBAC) != c.rbac || st.Enabled(FeatureACL) != c.acl || st.Enabled(FeatureAudit) != c.au {
			t.Errorf("%s: rbac=%v acl=%v audit=%v", c.name, st.Enabled(FeatureRBAC), st.Enabled(FeatureACL), st.Enabled(FeatureAudit))
		}
		for _, f := range []string{CapUser, CapSession, CapSSO, CapCredentials} {
			if !st.Enabled(f) {
				t.Errorf("%s: %s must never be gated", c.name, f)
			}
		}
	}
	if k, err := DecodePublicKey(DefaultLicensePublicKey); err != nil || len(k) != ed25519.PublicKeySize {
		t.Fatalf("compiled-in key does not decode: %v", err)
	}
}

func TestTrustedKeys(t *testing.T) {
	t.Parallel()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	enc := base64.RawURLEncoding.EncodeToString(pub)
	keys, err := TrustedKeys([]string{enc})
	if err != nil || len(keys) != 2 || !keys[1].Equal(pub) {
		t.Fatalf("TrustedKeys = %d keys, %v", len(keys), err)
	}
	if _, err := TrustedKeys([]string{"not a key"}); err == nil {
		t.Error("a malformed extra key was accepted")
	}
}
