package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk"
	"github.com/authhost/authhost/pdk/jose"
)

// claims are the WorkOS access-token claims the plugin uses beyond the
// registered ones.
type claims struct {
	Sub         string   `json:"sub"`
	Sid         string   `json:"sid"`
	OrgID       string   `json:"org_id"`
	Role        string   `json:"role"`
	Roles       []string `json:"roles"`
	Permissions []string `json:"permissions"`
	Exp         int64    `json:"exp"`
}

// clockSkew is the leeway for exp and iat.
const clockSkew = 30 * time.Second

// jwksMinRefresh is the least time between two JWKS fetches for one
// unknown key id, so tokens with made-up kids cannot make the plugin hammer
// WorkOS (a rotated key still works at once).
const jwksMinRefresh = 10 * time.Second

// errExpired marks an access token that is valid but expired.
var errExpired = pdk.Errorf(abi.CodeUnauthenticated, "workos: access token expired")

// verifyToken checks an access token with pdk/jose: RS256 only, against
// the JWKS at {Endpoint}/sso/jwks/{client_id}, issuer and expiry. There is
// no audience check (WorkOS tokens carry none). An expired but otherwise
// valid token returns its claims and errExpired.
func verifyToken(ctx context.Context, c *clients, token string) (*claims, error) {
	jwksURL, err := c.users.GetJWKSURL(c.cfg.ClientID)
	if err != nil {
		return nil, pdk.Errorf(abi.CodeInternal, "workos: jwks url: %v", err)
	}
	issuers := []string{c.cfg.Endpoint, c.cfg.Endpoint + "/user_management/" + c.cfg.ClientID}
	if c.cfg.Issuer != "" {
		issuers = []string{c.cfg.Issuer}
	}
	v := jose.Verifier{
		Keys:       &jose.KeySet{URL: jwksURL.String(), MinRefresh: jwksMinRefresh},
		Algorithms: []string{"RS256"},
		Issuers:    issuers,
		ClockSkew:  clockSkew,
	}
	jc, err := v.Verify(ctx, token)
	expired := errors.Is(err, jose.ErrExpired)
	switch {
	case errors.Is(err, jose.ErrInvalid) && !expired:
		return nil, pdk.Errorf(abi.CodeUnauthenticated, "workos: access token: %v", err)
	case err != nil && !expired:
		return nil, fmt.Errorf("workos: access token: %w", err)
	}
	var cl claims
	if err := jc.Decode(&cl); err != nil {
		return nil, pdk.Errorf(abi.CodeUnauthenticated, "workos: access token claims: %v", err)
	}
	if expired {
		return &cl, errExpired
	}
	return &cl, nil
}
