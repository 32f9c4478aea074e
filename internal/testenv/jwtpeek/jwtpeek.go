// Package jwtpeek reads the claims of a compact JWS without verifying it,
// for tests that inspect or re-sign tokens a provider issued.
package jwtpeek

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// Claims returns token's payload claims; a token that is not a three-part
// compact JWS with a JSON payload fails t.
func Claims(t testing.TB, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("jwtpeek: not a JWT: %q", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("jwtpeek: payload: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatalf("jwtpeek: payload: %v", err)
	}
	return claims
}
