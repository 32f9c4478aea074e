// Package jose verifies the JSON Web Tokens a provider receives (OIDC ID
// tokens, access tokens, session JWTs) against a JSON Web Key Set fetched
// through the host and cached in the plugin's KV store.
//
// Only asymmetric algorithms exist here (RS*, PS*, ES*, EdDSA): "none" and
// the HMAC family are not implemented at all, so neither a token naming them
// nor an allow-list listing them can make a verifier accept one, and a key
// set of public keys can never be used as an HMAC secret. The standard
// library does the cryptography: a JOSE library would add size to every Wasm
// binary for features (encryption, JSON serialisation) a verifier does not
// need.
package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"strings"
)

// JWK is one JSON Web Key as published in a JWKS (public members only).
type JWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid,omitempty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

// JWKS is a JSON Web Key Set.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// Header is the protected header of a compact JWS.
type Header struct {
	Alg  string   `json:"alg"`
	Kid  string   `json:"kid"`
	Typ  string   `json:"typ"`
	Crit []string `json:"crit"`
}

// Token is a parsed, not yet verified compact JWS.
type Token struct {
	Header Header
	// Payload is the decoded payload (the claims for a JWT).
	Payload   []byte
	signed    []byte // base64url(header) "." base64url(payload)
	signature []byte
}

// ErrMalformed marks a token that is not a compact JWS.
var ErrMalformed = errors.New("malformed token")

func b64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

// Parse splits and decodes a compact JWS without verifying it.
func Parse(tok string) (*Token, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: want 3 parts, got %d", ErrMalformed, len(parts))
	}
	hdr, err := b64(parts[0])
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	var h Header
	if err := json.Unmarshal(hdr, &h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	payload, err := b64(parts[1])
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	sig, err := b64(parts[2])
	if err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrMalformed, err)
	}
	return &Token{Header: h, signed: []byte(parts[0] + "." + parts[1]), Payload: payload, signature: sig}, nil
}

// algHash returns the hash of a JWS algorithm (EdDSA signs the message
// itself and returns 0).
func algHash(alg string) (crypto.Hash, error) {
	switch alg {
	case "RS256", "PS256", "ES256":
		return crypto.SHA256, nil
	case "RS384", "PS384", "ES384":
		return crypto.SHA384, nil
	case "RS512", "PS512", "ES512":
		return crypto.SHA512, nil
	case "EdDSA":
		return 0, nil
	}
	return 0, fmt.Errorf("jose: unsupported algorithm %q", alg)
}

// PublicKey decodes k into a Go public key (*rsa.PublicKey of at least 2048
// bits, *ecdsa.PublicKey on its curve, or ed25519.PublicKey).
func (k JWK) PublicKey() (crypto.PublicKey, error) {
	switch k.Kty {
	case "RSA":
		n, err := b64(k.N)
		if err != nil || len(n) == 0 {
			return nil, fmt.Errorf("jwk %q: bad n", k.Kid)
		}
		e, err := b64(k.E)
		if err != nil || len(e) == 0 || len(e) > 4 {
			return nil, fmt.Errorf("jwk %q: bad e", k.Kid)
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < 2048 {
			return nil, fmt.Errorf("jwk %q: rsa key of %d bits is too small", k.Kid, pub.N.BitLen())
		}
		return pub, nil
	case "EC":
		var curve elliptic.Curve
		switch k.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil, fmt.Errorf("jwk %q: unsupported curve %q", k.Kid, k.Crv)
		}
		x, errX := b64(k.X)
		y, errY := b64(k.Y)
		size := (curve.Params().BitSize + 7) / 8
		if errX != nil || errY != nil || len(x) != size || len(y) != size {
			return nil, fmt.Errorf("jwk %q: bad ec point", k.Kid)
		}
		// Encode as an uncompressed point so ecdsa.ParseUncompressedPublicKey
		// checks that it lies on the curve.
		raw := append(append([]byte{4}, x...), y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, raw)
		if err != nil {
			return nil, fmt.Errorf("jwk %q: %w", k.Kid, err)
		}
		return pub, nil
	case "OKP":
		if k.Crv != "Ed25519" {
			return nil, fmt.Errorf("jwk %q: unsupported OKP curve %q", k.Kid, k.Crv)
		}
		x, err := b64(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("jwk %q: bad ed25519 key", k.Kid)
		}
		return ed25519.PublicKey(x), nil
	}
	return nil, fmt.Errorf("jwk %q: unsupported key type %q", k.Kid, k.Kty)
}

// Fits reports whether key k may verify a signature made with alg: a
// signing key (use absent or "sig") of the algorithm's key type and curve,
// whose own alg, when set, is alg.
func (k JWK) Fits(alg string) bool {
	if k.Use != "" && k.Use != "sig" {
		return false
	}
	if k.Alg != "" && k.Alg != alg {
		return false
	}
	switch {
	case strings.HasPrefix(alg, "RS"), strings.HasPrefix(alg, "PS"):
		return k.Kty == "RSA"
	case strings.HasPrefix(alg, "ES"):
		want := map[string]string{"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}[alg]
		return k.Kty == "EC" && k.Crv == want
	case alg == "EdDSA":
		return k.Kty == "OKP"
	}
	return false
}

// Verify checks the signature of t with key pub under the algorithm of its
// header. Callers check that algorithm against their allow-list and the
// key's type (JWK.Fits) first; Verifier does both.
func (t *Token) Verify(pub crypto.PublicKey) error {
	alg := t.Header.Alg
	h, err := algHash(alg)
	if err != nil {
		return err
	}
	var digest []byte
	if h != 0 {
		hh := h.New()
		hh.Write(t.signed)
		digest = hh.Sum(nil)
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if strings.HasPrefix(alg, "PS") {
			err = rsa.VerifyPSS(k, h, digest, t.signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			err = rsa.VerifyPKCS1v15(k, h, digest, t.signature)
		}
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		if len(t.signature) != 2*size {
			return errors.New("bad signature length")
		}
		r := new(big.Int).SetBytes(t.signature[:size])
		s := new(big.Int).SetBytes(t.signature[size:])
		if !ecdsa.Verify(k, digest, r, s) {
			err = errors.New("ecdsa verification failed")
		}
	case ed25519.PublicKey:
		if !ed25519.Verify(k, t.signed, t.signature) {
			err = errors.New("ed25519 verification failed")
		}
	default:
		return fmt.Errorf("unsupported key %T", pub)
	}
	if err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	return nil
}

// TokenHash computes at_hash / c_hash: the left half of the hash of value
// with the hash of the ID token's algorithm (SHA-512 for EdDSA with
// Ed25519), base64url without padding.
func TokenHash(alg, value string) (string, error) {
	h, err := algHash(alg)
	if err != nil {
		return "", err
	}
	var hh hash.Hash
	if h == 0 {
		hh = sha512.New()
	} else {
		hh = h.New()
	}
	hh.Write([]byte(value))
	sum := hh.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]), nil
}
