package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk"
)

// JWKS handling: the key set is cached in the instance and in KV (shared by
// all instances, with expiry cfg.jwksTTL). A token signed by a key the cache
// does not know triggers one refetch, at most every jwksMinRefresh, so
// tokens with made-up kids cannot make the plugin hammer Better Auth.
const (
	jwksKVKey      = "jwks"
	jwksMinRefresh = 30 * time.Second
)

// jwk is one JSON Web Key as Better Auth's jwt plugin publishes it.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
}

// jwks is a key set plus when it was fetched (the KV record).
type jwks struct {
	Keys      []jwk     `json:"keys"`
	FetchedAt time.Time `json:"fetched_at"`
	URL       string    `json:"url"`
}

var (
	jwksMu    sync.Mutex
	jwksMem   *jwks
	jwksUntil time.Time
)

// isJWT reports whether token looks like a compact JWS (three parts).
func isJWT(token string) bool { return strings.Count(token, ".") == 2 }

// claims are the verified claims of a Better Auth JWT: the user object plus
// sub, iat, exp, iss, aud.
type claims map[string]any

// verifyJWT checks token's EdDSA signature against Better Auth's JWKS and
// its exp, nbf, iss and aud claims. An invalid token is (nil, nil) with the
// reason; an error means the JWKS could not be obtained (unavailable).
func verifyJWT(ctx context.Context, cfg *config, token string, now time.Time) (claims, string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, "not a compact JWS", nil
	}
	var hdr struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return nil, "header: " + err.Error(), nil
	}
	if hdr.Alg != "EdDSA" {
		return nil, fmt.Sprintf("alg %q is not EdDSA", hdr.Alg), nil
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, "malformed signature", nil
	}
	key, err := lookupKey(ctx, cfg, hdr.Kid, now)
	if err != nil {
		return nil, "", err
	}
	if key == nil {
		return nil, fmt.Sprintf("unknown key id %q", hdr.Kid), nil
	}
	if !ed25519.Verify(key, []byte(parts[0]+"."+parts[1]), sig) {
		return nil, "bad signature", nil
	}
	var c claims
	if err := decodeSegment(parts[1], &c); err != nil {
		return nil, "claims: " + err.Error(), nil
	}
	if reason := c.check(cfg, now); reason != "" {
		return nil, reason, nil
	}
	return c, "", nil
}

func decodeSegment(seg string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return fmt.Errorf("base64: %w", err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("json: %w", err)
	}
	return nil
}

// check validates the registered claims; "" means valid.
func (c claims) check(cfg *config, now time.Time) string {
	exp, ok := c.time("exp")
	if !ok {
		return "no exp claim"
	}
	if !now.Before(exp.Add(cfg.clockSkew)) {
		return "expired"
	}
	if nbf, ok := c.time("nbf"); ok && now.Add(cfg.clockSkew).Before(nbf) {
		return "not valid yet"
	}
	if iat, ok := c.time("iat"); ok && now.Add(cfg.clockSkew).Before(iat) {
		return "issued in the future"
	}
	if iss, _ := c["iss"].(string); iss != cfg.issuer {
		return fmt.Sprintf("issuer %q, want %q", iss, cfg.issuer)
	}
	if !c.hasAudience(cfg.audience) {
		return fmt.Sprintf("audience does not include %q", cfg.audience)
	}
	if sub, _ := c["sub"].(string); sub == "" {
		return "no sub claim"
	}
	return ""
}

// time reads a NumericDate claim.
func (c claims) time(name string) (time.Time, bool) {
	f, ok := c[name].(float64)
	if !ok {
		return time.Time{}, false
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), true
}

func (c claims) hasAudience(want string) bool {
	switch aud := c["aud"].(type) {
	case string:
		return aud == want
	case []any:
		for _, a := range aud {
			if s, _ := a.(string); s == want {
				return true
			}
		}
	}
	return false
}

func (c claims) str(name string) string { s, _ := c[name].(string); return s }

// user maps the claims (Better Auth puts the whole user object in the JWT)
// to our user shape.
func (c claims) user() *abi.User {
	u := baUser{ID: c.str("sub"), Email: c.str("email"), Name: c.str("name"), Role: c.str("role")}
	if img, ok := c["image"].(string); ok {
		u.Image = &img
	}
	u.EmailVerified, _ = c["emailVerified"].(bool)
	u.CreatedAt, _ = time.Parse(time.RFC3339Nano, c.str("createdAt"))
	u.UpdatedAt, _ = time.Parse(time.RFC3339Nano, c.str("updatedAt"))
	return u.toABI()
}

// lookupKey returns the Ed25519 key with kid (any Ed25519 key when kid is
// empty and the set has exactly one), or nil when there is none.
func lookupKey(ctx context.Context, cfg *config, kid string, now time.Time) (ed25519.PublicKey, error) {
	jwksMu.Lock()
	defer jwksMu.Unlock()
	set := jwksMem
	if set == nil || set.URL != cfg.jwksURL || !now.Before(jwksUntil) {
		set = nil
		var stored jwks
		found, err := pdk.KV.GetJSON(jwksKVKey, &stored)
		if err != nil {
			pdk.Log.Warn("jwks cache read failed", "error", err)
		} else if found && stored.URL == cfg.jwksURL && now.Before(stored.FetchedAt.Add(cfg.jwksTTL)) {
			set = &stored
		}
	}
	if set != nil {
		if k := set.find(kid); k != nil {
			jwksMem, jwksUntil = set, set.FetchedAt.Add(cfg.jwksTTL)
			return k, nil
		}
		if now.Sub(set.FetchedAt) < jwksMinRefresh {
			jwksMem, jwksUntil = set, set.FetchedAt.Add(cfg.jwksTTL)
			return nil, nil // unknown kid, refreshed too recently
		}
	}
	fresh, err := fetchJWKS(ctx, cfg, now)
	if err != nil {
		if set != nil { // keep serving known keys while Better Auth is down
			return set.find(kid), nil
		}
		return nil, err
	}
	jwksMem, jwksUntil = fresh, now.Add(cfg.jwksTTL)
	if err := pdk.KV.SetJSON(jwksKVKey, fresh, cfg.jwksTTL); err != nil {
		pdk.Log.Warn("jwks cache write failed", "error", err)
	}
	return fresh.find(kid), nil
}

func (s *jwks) find(kid string) ed25519.PublicKey {
	var only ed25519.PublicKey
	n := 0
	for _, k := range s.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" || (k.Alg != "" && k.Alg != "EdDSA") {
			continue
		}
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			continue
		}
		if kid != "" && k.Kid == kid {
			return ed25519.PublicKey(x)
		}
		only, n = ed25519.PublicKey(x), n+1
	}
	if kid == "" && n == 1 {
		return only
	}
	return nil
}

// fetchJWKS downloads the key set.
func fetchJWKS(ctx context.Context, cfg *config, now time.Time) (*jwks, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.jwksURL, nil)
	if err != nil {
		return nil, abi.Errorf(abi.CodeInternal, "betterauth jwks: %v", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := pdk.HTTPClient().Do(req)
	if err != nil {
		return nil, transportError("jwks", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		code := abi.CodeUnavailable
		if resp.StatusCode == http.StatusTooManyRequests {
			code = abi.CodeRateLimited
		}
		return nil, abi.Errorf(code, "betterauth jwks: %s answered status %d", cfg.jwksURL, resp.StatusCode)
	}
	var set jwks
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return nil, abi.Errorf(abi.CodeUnavailable, "betterauth jwks: decode %s: %v", cfg.jwksURL, err)
	}
	set.FetchedAt, set.URL = now, cfg.jwksURL
	return &set, nil
}
