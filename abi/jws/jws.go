// Package jws verifies compact JSON Web Signatures against a JSON Web Key
// Set: the native implementation of the jws_verify host function, which
// the host serves to plugins, pdk/pdktest runs in unit tests and pdk/jose
// runs inside the sandbox when the host lacks the function. One
// implementation keeps the three answering alike.
//
// Only asymmetric algorithms exist here (RS*, PS*, ES*, EdDSA): "none" and
// the HMAC family are not implemented at all, so neither a token naming
// them nor an allow-list listing them can make a check pass, and a key set
// of public keys can never be used as an HMAC secret. A key is used only
// for the algorithms of its own type and curve (JWK.Fits), so an RSA key
// cannot check an ECDSA signature or the reverse. The comparisons that
// decide a signature are the standard library's (crypto/rsa, crypto/ecdsa,
// crypto/ed25519); nothing secret is compared here.
package jws

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
	"slices"
	"strings"

	"github.com/authhost/authhost/abi"
)

// Bounds of a check: a longer token, a larger key set or more keys are
// refused before any decoding.
const (
	MaxTokenBytes  = 64 << 10
	MaxKeySetBytes = 256 << 10
	MaxKeys        = 100
	// minRSABits is the smallest RSA modulus accepted.
	minRSABits = 2048
	// maxRSABits bounds the modulus so that one check cannot cost much.
	maxRSABits = 8192
)

// Algorithms is every algorithm implemented, the allow-list of a check
// that names none.
var Algorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

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

// Reasons a check fails (Failure.Reason), the values of the jws_verify
// result's reason.
const (
	// ReasonMalformed: not a compact JWS (three base64url parts, a JSON
	// header), or longer than MaxTokenBytes.
	ReasonMalformed = "malformed"
	// ReasonAlgorithm: alg not in the allow-list, not implemented ("none",
	// HS256 …), or a crit header.
	ReasonAlgorithm = "algorithm"
	// ReasonUnknownKey: no key of the set has the token's kid and fits its
	// alg (for a token without kid: not exactly one key fits). The caller
	// may re-fetch the set and try again.
	ReasonUnknownKey = "unknown_key"
	// ReasonKey: the key found is unusable (bad encoding, RSA modulus
	// outside 2048–8192 bits, a point off its curve).
	ReasonKey = "key"
	// ReasonSignature: the signature does not verify.
	ReasonSignature = "signature"
)

// Failure is a token that did not pass a check.
type Failure struct {
	Reason  string
	Message string
}

func (f *Failure) Error() string { return f.Message }

// ErrMalformed marks a token that is not a compact JWS.
var ErrMalformed = errors.New("malformed token")

func b64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

// Compact reports whether tok is at most MaxTokenBytes of the compact
// serialization's alphabet: base64url without padding, and dots. (The
// base64 decoder alone would skip line breaks.)
func Compact(tok string) bool {
	if len(tok) > MaxTokenBytes {
		return false
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Parse splits and decodes a compact JWS without verifying it.
func Parse(tok string) (*Token, error) {
	if len(tok) > MaxTokenBytes {
		return nil, fmt.Errorf("%w: %d bytes exceeds %d", ErrMalformed, len(tok), MaxTokenBytes)
	}
	if !Compact(tok) {
		return nil, fmt.Errorf("%w: a character outside base64url and dots", ErrMalformed)
	}
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
	return &Token{Header: h, signed: []byte(tok[:len(parts[0])+1+len(parts[1])]), Payload: payload, signature: sig}, nil
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
	return 0, fmt.Errorf("unsupported algorithm %q", alg)
}

// PublicKey decodes k into a Go public key (*rsa.PublicKey of 2048 to 8192
// bits, *ecdsa.PublicKey on its curve, or ed25519.PublicKey).
func (k JWK) PublicKey() (crypto.PublicKey, error) {
	switch k.Kty {
	case "RSA":
		n, err := b64(k.N)
		if err != nil || len(n) == 0 || len(n) > maxRSABits/8 {
			return nil, fmt.Errorf("jwk %q: bad n", k.Kid)
		}
		e, err := b64(k.E)
		if err != nil || len(e) == 0 || len(e) > 4 {
			return nil, fmt.Errorf("jwk %q: bad e", k.Kid)
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < minRSABits {
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

// Find returns the key that verifies a token with header h: the key with
// h.Kid fitting h.Alg, or, for a token without kid, the only key fitting
// h.Alg; nil when there is none (or, without kid, several).
func (s *JWKS) Find(h Header) *JWK {
	var match *JWK
	for i := range s.Keys {
		k := &s.Keys[i]
		if k.Fits(h.Alg) && (h.Kid == "" || k.Kid == h.Kid) {
			if match != nil {
				return nil
			}
			match = k
		}
	}
	return match
}

// Verify checks the signature of t with key pub under the algorithm of its
// header. Callers check that algorithm against their allow-list and the
// key's type (JWK.Fits) first; Check does both.
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

// Check parses the compact JWS tok and verifies it with the key of set
// that Find picks, under an algorithm of allowed (empty: Algorithms). A
// token that fails returns a *Failure saying why, with the parsed token
// when it could be parsed (nil when malformed); a nil set is an empty one.
func Check(tok string, set *JWKS, allowed []string) (*Token, error) {
	t, err := Parse(tok)
	if err != nil {
		return nil, &Failure{Reason: ReasonMalformed, Message: err.Error()}
	}
	fail := func(reason, format string, args ...any) (*Token, error) {
		return t, &Failure{Reason: reason, Message: fmt.Sprintf(format, args...)}
	}
	alg := t.Header.Alg
	if len(allowed) == 0 {
		allowed = Algorithms
	}
	if !slices.Contains(allowed, alg) {
		return fail(ReasonAlgorithm, "algorithm %q is not allowed (allowed %v)", alg, allowed)
	}
	if _, err := algHash(alg); err != nil {
		return fail(ReasonAlgorithm, "%v", err)
	}
	if len(t.Header.Crit) > 0 {
		return fail(ReasonAlgorithm, "unsupported critical header %q", t.Header.Crit)
	}
	if set == nil {
		set = &JWKS{}
	}
	k := set.Find(t.Header)
	if k == nil {
		return fail(ReasonUnknownKey, "no key for kid %q and alg %q", t.Header.Kid, alg)
	}
	pub, err := k.PublicKey()
	if err != nil {
		return fail(ReasonKey, "%v", err)
	}
	if err := t.Verify(pub); err != nil {
		return fail(ReasonSignature, "%v", err)
	}
	return t, nil
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

// Serve answers a jws_verify request (abi.JWSVerifyRequest): a token that
// fails, however malformed or long, is a result with Verified false and
// its reason; a request that cannot be served (a key set over
// MaxKeySetBytes, not a JWKS document, or with more than MaxKeys keys) is
// an error with code invalid_request.
func Serve(req abi.JWSVerifyRequest) (*abi.JWSVerifyResult, error) {
	if len(req.JWKS) > MaxKeySetBytes {
		return nil, abi.Errorf(abi.CodeInvalidRequest, "jws_verify: jwks of %d bytes exceeds %d", len(req.JWKS), MaxKeySetBytes)
	}
	var set JWKS
	if err := json.Unmarshal(req.JWKS, &set); err != nil || set.Keys == nil {
		return nil, abi.Errorf(abi.CodeInvalidRequest, "jws_verify: jwks is not a key set ({\"keys\": [...]})")
	}
	if len(set.Keys) > MaxKeys {
		return nil, abi.Errorf(abi.CodeInvalidRequest, "jws_verify: jwks of %d keys exceeds %d", len(set.Keys), MaxKeys)
	}
	res, err := Result(Check(req.JWS, &set, req.Algorithms))
	if err != nil {
		return nil, abi.Errorf(abi.CodeInternal, "jws_verify: %v", err)
	}
	return res, nil
}

// Result turns Check's answer into jws_verify's: a verified token, or a
// *Failure as Verified false with its reason (and the header's alg and kid
// when the token parsed). Any other error is returned as it is: the check
// could not be made. The host's jws_verify and the PDK's in-guest fallback
// both answer through it, so the two give the same result.
func Result(t *Token, err error) (*abi.JWSVerifyResult, error) {
	var f *Failure
	if errors.As(err, &f) {
		res := &abi.JWSVerifyResult{Reason: f.Reason, Message: f.Message}
		if t != nil {
			res.Alg, res.Kid = t.Header.Alg, t.Header.Kid
		}
		return res, nil
	}
	if err != nil {
		return nil, err
	}
	return &abi.JWSVerifyResult{Verified: true, Alg: t.Header.Alg, Kid: t.Header.Kid, Payload: t.Payload}, nil
}
