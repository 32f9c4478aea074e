package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk/jose"
)

// JWKS handling is pdk/jose's: the key set is cached in KV under jwksKVKey
// (shared by all instances, for cfg.jwksTTL), and a token signed by a key
// the cache does not know triggers a re-fetch at most every
// jwksMinRefresh per key id, so tokens with made-up kids cannot make the
// plugin hammer Better Auth.
const (
	jwksKVKey      = "jwks"
	jwksMinRefresh = 30 * time.Second
)

// isJWT reports whether token looks like a compact JWS (three parts).
func isJWT(token string) bool { return strings.Count(token, ".") == 2 }

// claims are the verified claims of a Better Auth JWT: the user object plus
// sub, iat, exp, iss, aud.
type claims map[string]any

// verifyJWT checks token's EdDSA signature against Better Auth's JWKS and
// its exp, nbf, iat, iss and aud claims. An invalid token is (nil, reason,
// nil); an error means the JWKS could not be obtained (unavailable).
func verifyJWT(ctx context.Context, cfg *config, token string, now time.Time) (claims, *jose.Claims, string, error) {
	skew := cfg.clockSkew
	if skew == 0 {
		skew = -1 // clock_skew_seconds: 0 means none
	}
	v := jose.Verifier{
		Keys:       &jose.KeySet{URL: cfg.jwksURL, KVKey: jwksKVKey, TTL: cfg.jwksTTL, MinRefresh: jwksMinRefresh, Now: func() time.Time { return now }},
		Algorithms: []string{"EdDSA"},
		Issuers:    []string{cfg.issuer},
		Audience:   cfg.audience,
		ClockSkew:  skew,
		Now:        func() time.Time { return now },
	}
	jc, err := v.Verify(ctx, token)
	if errors.Is(err, jose.ErrInvalid) {
		return nil, nil, err.Error(), nil
	}
	if err != nil {
		return nil, nil, "", fmt.Errorf("betterauth jwks: %w", err)
	}
	var c claims
	if err := jc.Decode(&c); err != nil {
		return nil, nil, err.Error(), nil
	}
	return c, jc, "", nil
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
