// Package jose verifies the JSON Web Tokens a provider receives (OIDC ID
// tokens, access tokens, session JWTs) against a JSON Web Key Set fetched
// through the host and cached in the plugin's KV store.
//
// Only asymmetric algorithms exist here (RS*, PS*, ES*, EdDSA): "none" and
// the HMAC family are not implemented at all, so neither a token naming them
// nor an allow-list listing them can make a verifier accept one, and a key
// set of public keys can never be used as an HMAC secret.
//
// The signature is checked by the host's jws_verify function (ABI 1.2,
// SPEC §6.8), natively: RSA and ECDSA arithmetic runs tens of times slower
// inside the sandbox. Where the host answers that it lacks the function
// (not_supported, e.g. a pdktest.Env told so with FailHost), the same
// check, package abi/jws, runs in the guest. Both give the same answers.
// The standard library does the cryptography: a JOSE library would add
// size to every Wasm binary for features (encryption, JSON serialisation)
// a verifier does not need.
package jose

import "github.com/authhost/authhost/abi/jws"

// JWK is one JSON Web Key as published in a JWKS (public members only).
type JWK = jws.JWK

// JWKS is a JSON Web Key Set.
type JWKS = jws.JWKS

// Header is the protected header of a compact JWS.
type Header = jws.Header

// Token is a parsed, not yet verified compact JWS.
type Token = jws.Token

// ErrMalformed marks a token that is not a compact JWS.
var ErrMalformed = jws.ErrMalformed

// Parse splits and decodes a compact JWS without verifying it.
func Parse(tok string) (*Token, error) { return jws.Parse(tok) }

// TokenHash computes at_hash / c_hash: the left half of the hash of value
// with the hash of the ID token's algorithm (SHA-512 for EdDSA with
// Ed25519), base64url without padding.
func TokenHash(alg, value string) (string, error) { return jws.TokenHash(alg, value) }
