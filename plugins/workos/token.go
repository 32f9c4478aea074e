package main

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk"
)

// claims are the WorkOS access-token claims the plugin uses.
type claims struct {
	Iss         string   `json:"iss"`
	Sub         string   `json:"sub"`
	Sid         string   `json:"sid"`
	OrgID       string   `json:"org_id"`
	Role        string   `json:"role"`
	Roles       []string `json:"roles"`
	Permissions []string `json:"permissions"`
	Jti         string   `json:"jti"`
	Exp         int64    `json:"exp"`
	Iat         int64    `json:"iat"`
}

// clockSkew is the leeway for exp and iat.
const clockSkew = 30 * time.Second

// jwksMinRefresh is the least time between two JWKS fetches caused by
// unknown key ids, so tokens with made-up kids cannot make the plugin hammer
// WorkOS (a rotated key still works at once after the first fetch).
const jwksMinRefresh = 10 * time.Second

var (
	jwksMu      sync.Mutex
	jwksKeys    map[string]*rsa.PublicKey
	jwksFetched time.Time
)

func jwksReset() {
	jwksMu.Lock()
	jwksKeys, jwksFetched = nil, time.Time{}
	jwksMu.Unlock()
}

// jwksKey returns the RSA key kid from {Endpoint}/sso/jwks/{client_id},
// fetching the set when kid is unknown (at most once per jwksMinRefresh).
func jwksKey(ctx context.Context, c *clients, kid string) (*rsa.PublicKey, error) {
	jwksMu.Lock()
	k := jwksKeys[kid]
	recent := jwksKeys != nil && time.Since(jwksFetched) < jwksMinRefresh
	jwksMu.Unlock()
	if k != nil {
		return k, nil
	}
	if recent {
		return nil, pdk.Errorf(abi.CodeUnauthenticated, "workos: access token signed with unknown key %q", kid)
	}
	jwksURL, err := c.users.GetJWKSURL(c.cfg.ClientID)
	if err != nil {
		return nil, pdk.Errorf(abi.CodeInternal, "workos: jwks url: %v", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, jwksURL.String(), nil)
	if err != nil {
		return nil, pdk.Errorf(abi.CodeInternal, "workos: jwks request: %v", err)
	}
	res, err := pdk.HTTPClient().Do(req)
	if err != nil {
		return nil, classify("fetch jwks", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, pdk.Errorf(abi.CodeUnavailable, "workos: read jwks: %v", err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, pdk.Errorf(abi.CodeUnavailable, "workos: fetch jwks: HTTP %d from %s", res.StatusCode, jwksURL)
	}
	var set struct {
		Keys []struct {
			Kty, Kid, N, E string
		} `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, pdk.Errorf(abi.CodeUnavailable, "workos: decode jwks: %v", err)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, jk := range set.Keys {
		if jk.Kty != "RSA" {
			continue
		}
		n, err1 := base64.RawURLEncoding.DecodeString(jk.N)
		e, err2 := base64.RawURLEncoding.DecodeString(jk.E)
		if err1 != nil || err2 != nil || len(e) > 4 {
			continue
		}
		keys[jk.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	jwksMu.Lock()
	jwksKeys, jwksFetched = keys, time.Now()
	jwksMu.Unlock()
	if k := keys[kid]; k != nil {
		return k, nil
	}
	return nil, pdk.Errorf(abi.CodeUnauthenticated, "workos: access token signed with unknown key %q", kid)
}

// errExpired marks an access token that is valid but expired.
var errExpired = pdk.Errorf(abi.CodeUnauthenticated, "workos: access token expired")

// verifyToken checks an access token's RS256 signature against the JWKS,
// its issuer and its expiry. There is no audience check (WorkOS tokens
// carry none). An expired but otherwise valid token returns its claims and
// errExpired.
func verifyToken(ctx context.Context, c *clients, token string) (*claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, pdk.Errorf(abi.CodeUnauthenticated, "workos: access token is not a JWT")
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, pdk.Errorf(abi.CodeUnauthenticated, "workos: access token header: %v", err)
	}
	var hdr struct{ Alg, Kid string }
	if err := json.Unmarshal(hb, &hdr); err != nil {
		return nil, pdk.Errorf(abi.CodeUnauthenticated, "workos: access token header: %v", err)
	}
	if hdr.Alg != "RS256" {
		return nil, pdk.Errorf(abi.CodeUnauthenticated, "workos: access token alg %q, want RS256", hdr.Alg)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, pdk.Errorf(abi.CodeUnauthenticated, "workos: access token signature: %v", err)
	}
	key, err := jwksKey(ctx, c, hdr.Kid)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig); err != nil {
		return nil, pdk.Errorf(abi.CodeUnauthenticated, "workos: access token signature is invalid")
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, pdk.Errorf(abi.CodeUnauthenticated, "workos: access token payload: %v", err)
	}
	var cl claims
	if err := json.Unmarshal(pb, &cl); err != nil {
		return nil, pdk.Errorf(abi.CodeUnauthenticated, "workos: access token claims: %v", err)
	}
	if !issuerOK(c.cfg, cl.Iss) {
		return nil, pdk.Errorf(abi.CodeUnauthenticated, "workos: access token issuer %q is not accepted", cl.Iss)
	}
	if cl.Sub == "" {
		return nil, pdk.Errorf(abi.CodeUnauthenticated, "workos: access token has no sub")
	}
	now := time.Now()
	if cl.Iat != 0 && time.Unix(cl.Iat, 0).After(now.Add(clockSkew)) {
		return nil, pdk.Errorf(abi.CodeUnauthenticated, "workos: access token issued in the future")
	}
	if cl.Exp == 0 || !now.Before(time.Unix(cl.Exp, 0).Add(clockSkew)) {
		return &cl, errExpired
	}
	return &cl, nil
}

// issuerOK applies the configured issuer, or the two documented defaults.
func issuerOK(cfg *config, iss string) bool {
	if cfg.Issuer != "" {
		return iss == cfg.Issuer
	}
	return iss == cfg.Endpoint || iss == cfg.Endpoint+"/user_management/"+cfg.ClientID
}

// unverifiedClaims decodes claims without checking anything; only for
// reading sid from a token already verified or about to be discarded.
func unverifiedClaims(token string) (*claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("not a JWT")
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("decode payload: %w", err)
	}
	var cl claims
	if err := json.Unmarshal(pb, &cl); err != nil {
		return nil, fmt.Errorf("decode claims: %w", err)
	}
	return &cl, nil
}
