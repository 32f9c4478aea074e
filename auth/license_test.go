package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLicense(t *testing.T) {
	t.Parallel()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	otherPub, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	_ = otherPub
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
		l, err := ParseLicense(c.token, pub, now)
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
	if _, err := ParseLicense(sign(expired, priv), pub, now); !errors.Is(err, ErrLicenseExpired) {
		t.Errorf("expired license error must wrap ErrLicenseExpired, got %v", err)
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
		rbac, acl, au bool
	}{
		{"development without license: everything on", ModeDevelopment, "", true, true, true},
		{"production without license: gated off", ModeProduction, "", false, false, false},
		{"production with forged license: gated off", ModeProduction, "abc.def", false, false, false},
		{"production licensed for all", ModeProduction, all, true, true, true},
		{"production licensed for rbac", ModeProduction, rbacOnly, true, false, false},
	}
	for _, c := range cases {
		st := EvaluateLicense(c.mode, c.token, pub, now)
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
