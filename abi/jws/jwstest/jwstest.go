// Package jwstest is the conformance table of jws_verify: token, key set
// and allow-list with the answer every implementation must give (the
// host function on both engines, pdk/pdktest, and pdk/jose with and
// without the host function). Keys are generated per process.
package jwstest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"sync"
	"testing"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/abi/jws"
)

// Vector is one check and its expected answer.
type Vector struct {
	Name       string
	JWS        string
	JWKS       []byte // a JWKS document
	Algorithms []string
	// Verified is the expected outcome; Reason (a jws.Reason*) says why
	// not. Payload is the payload a verified token carries.
	Verified bool
	Reason   string
	Payload  string
}

// RequestError is a jws_verify request the host refuses as a whole
// (invalid_request), whatever the token.
type RequestError struct {
	Name string
	// Request is the raw JSON request.
	Request []byte
}

type keys struct {
	rsa, rsaOther, rsaSmall *rsa.PrivateKey
	ec256, ec384            *ecdsa.PrivateKey
	ed                      ed25519.PrivateKey
}

var (
	once sync.Once
	ks   keys
	kerr error
)

func genKeys() (keys, error) {
	once.Do(func() {
		var k keys
		if k.rsa, kerr = rsa.GenerateKey(rand.Reader, 2048); kerr != nil {
			return
		}
		if k.rsaOther, kerr = rsa.GenerateKey(rand.Reader, 2048); kerr != nil {
			return
		}
		if k.rsaSmall, kerr = rsa.GenerateKey(rand.Reader, 1024); kerr != nil {
			return
		}
		if k.ec256, kerr = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); kerr != nil {
			return
		}
		if k.ec384, kerr = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); kerr != nil {
			return
		}
		if _, k.ed, kerr = ed25519.GenerateKey(rand.Reader); kerr != nil {
			return
		}
		ks = k
	})
	return ks, kerr
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaJWK(kid string, k *rsa.PrivateKey) jws.JWK {
	return jws.JWK{Kty: "RSA", Kid: kid, N: b64(k.N.Bytes()), E: b64(big.NewInt(int64(k.E)).Bytes())}
}

func ecJWK(kid, crv string, k *ecdsa.PrivateKey) jws.JWK {
	size := (k.Curve.Params().BitSize + 7) / 8
	x, y := make([]byte, size), make([]byte, size)
	k.X.FillBytes(x)
	k.Y.FillBytes(y)
	return jws.JWK{Kty: "EC", Kid: kid, Crv: crv, X: b64(x), Y: b64(y)}
}

// Set is the key set of the table: one key of each kind, and the kids
// the vectors use.
func (k keys) set() jws.JWKS {
	return jws.JWKS{Keys: []jws.JWK{
		rsaJWK("rsa", k.rsa),
		ecJWK("ec256", "P-256", k.ec256),
		ecJWK("ec384", "P-384", k.ec384),
		{Kty: "OKP", Kid: "ed", Crv: "Ed25519", X: b64(k.ed.Public().(ed25519.PublicKey))},
		rsaJWK("small", k.rsaSmall),
		func() jws.JWK { j := rsaJWK("enc", k.rsaOther); j.Use = "enc"; return j }(),
		func() jws.JWK { j := rsaJWK("ps-only", k.rsaOther); j.Alg = "PS256"; return j }(),
	}}
}

// sign makes a compact JWS of payload with header hdr; signer picks the
// key by the header's alg: rsa (RS*, PS*), ec256, ec384, ed, or an HMAC
// keyed with the RSA key's public modulus for HS256.
func sign(k keys, priv any, hdr map[string]any, payload string) string {
	hb, _ := json.Marshal(hdr)
	in := b64(hb) + "." + b64([]byte(payload))
	alg, _ := hdr["alg"].(string)
	var sig []byte
	var err error
	hashOf := map[string]crypto.Hash{"256": crypto.SHA256, "384": crypto.SHA384, "512": crypto.SHA512}
	switch {
	case alg == "EdDSA":
		sig = ed25519.Sign(priv.(ed25519.PrivateKey), []byte(in))
	case alg == "HS256":
		m := hmac.New(sha256.New, []byte(rsaJWK("", k.rsa).N))
		m.Write([]byte(in))
		sig = m.Sum(nil)
	case strings.HasPrefix(alg, "RS"), strings.HasPrefix(alg, "PS"):
		h := hashOf[alg[2:]]
		hh := h.New()
		hh.Write([]byte(in))
		if alg[0] == 'R' {
			sig, err = rsa.SignPKCS1v15(rand.Reader, priv.(*rsa.PrivateKey), h, hh.Sum(nil))
		} else {
			sig, err = rsa.SignPSS(rand.Reader, priv.(*rsa.PrivateKey), h, hh.Sum(nil), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
	case strings.HasPrefix(alg, "ES"):
		h := hashOf[alg[2:]]
		hh := h.New()
		hh.Write([]byte(in))
		pk := priv.(*ecdsa.PrivateKey)
		var r, s *big.Int
		r, s, err = ecdsa.Sign(rand.Reader, pk, hh.Sum(nil))
		size := (pk.Curve.Params().BitSize + 7) / 8
		sig = make([]byte, 2*size)
		if err == nil {
			r.FillBytes(sig[:size])
			s.FillBytes(sig[size:])
		}
	}
	if err != nil {
		panic("jwstest: sign: " + err.Error())
	}
	return in + "." + b64(sig)
}

// Payload is the payload of the table's tokens.
const Payload = `{"iss":"https://issuer.test","sub":"u1","exp":4102444800}`

// Vectors returns the table.
func Vectors(tb testing.TB) []Vector {
	tb.Helper()
	k, err := genKeys()
	if err != nil {
		tb.Fatalf("jwstest: keys: %v", err)
	}
	raw, err := json.Marshal(k.set())
	if err != nil {
		tb.Fatal(err)
	}
	withKeys := func(keys ...jws.JWK) []byte {
		b, _ := json.Marshal(jws.JWKS{Keys: keys})
		return b
	}
	parts := func(tok string) []string { return strings.Split(tok, ".") }
	rs := sign(k, k.rsa, map[string]any{"alg": "RS256", "kid": "rsa"}, Payload)
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	ok := func(name, tok string) Vector {
		return Vector{Name: name, JWS: tok, JWKS: raw, Verified: true, Payload: Payload}
	}
	no := func(name, tok, reason string) Vector {
		return Vector{Name: name, JWS: tok, JWKS: raw, Reason: reason}
	}
	p := parts(rs)
	offCurve := ecJWK("ec256", "P-256", k.ec256)
	offCurve.Y = offCurve.X
	vs := []Vector{
		ok("RS256", rs),
		ok("RS384", sign(k, k.rsa, map[string]any{"alg": "RS384", "kid": "rsa"}, Payload)),
		ok("RS512", sign(k, k.rsa, map[string]any{"alg": "RS512", "kid": "rsa"}, Payload)),
		ok("PS256", sign(k, k.rsa, map[string]any{"alg": "PS256", "kid": "rsa"}, Payload)),
		ok("PS384", sign(k, k.rsa, map[string]any{"alg": "PS384", "kid": "rsa"}, Payload)),
		ok("ES256", sign(k, k.ec256, map[string]any{"alg": "ES256", "kid": "ec256"}, Payload)),
		ok("ES384", sign(k, k.ec384, map[string]any{"alg": "ES384", "kid": "ec384"}, Payload)),
		ok("EdDSA", sign(k, k.ed, map[string]any{"alg": "EdDSA", "kid": "ed"}, Payload)),
		ok("no kid: the only fitting key", sign(k, k.ed, map[string]any{"alg": "EdDSA"}, Payload)),
		ok("key restricted to its alg", sign(k, k.rsaOther, map[string]any{"alg": "PS256", "kid": "ps-only"}, Payload)),
		ok("typ header", sign(k, k.rsa, map[string]any{"alg": "RS256", "kid": "rsa", "typ": "JWT"}, Payload)),
		{Name: "allow-list names the alg", JWS: rs, JWKS: raw, Algorithms: []string{"RS256"}, Verified: true, Payload: Payload},

		no("wrong key, same kid", sign(k, k.rsaOther, map[string]any{"alg": "RS256", "kid": "rsa"}, Payload), jws.ReasonSignature),
		no("tampered payload", p[0]+"."+b64([]byte(strings.Replace(Payload, "u1", "admin", 1)))+"."+p[2], jws.ReasonSignature),
		no("tampered header", b64([]byte(`{"alg":"RS256","kid":"rsa","typ":"JWT"}`))+"."+p[1]+"."+p[2], jws.ReasonSignature),
		no("tampered signature", p[0]+"."+p[1]+"."+flip(p[2], 10), jws.ReasonSignature),
		no("signature cut short", p[0]+"."+p[1]+"."+p[2][:len(p[2])/2], jws.ReasonSignature),
		no("empty signature", p[0]+"."+p[1]+".", jws.ReasonSignature),
		no("ES256 with a P-384 sized signature", b64([]byte(`{"alg":"ES256","kid":"ec256"}`))+"."+p[1]+"."+b64(make([]byte, 96)), jws.ReasonSignature),
		no("alg none", b64([]byte(`{"alg":"none","kid":"rsa"}`))+"."+p[1]+".", jws.ReasonAlgorithm),
		{Name: "alg none even when allowed", JWS: b64([]byte(`{"alg":"none"}`)) + "." + p[1] + ".", JWKS: raw, Algorithms: []string{"none", "RS256"}, Reason: jws.ReasonAlgorithm},
		{Name: "HS256 keyed with the public key", JWS: sign(k, nil, map[string]any{"alg": "HS256", "kid": "rsa"}, Payload), JWKS: raw, Algorithms: []string{"HS256", "RS256"}, Reason: jws.ReasonAlgorithm},
		{Name: "alg outside the allow-list", JWS: sign(k, k.ed, map[string]any{"alg": "EdDSA", "kid": "ed"}, Payload), JWKS: raw, Algorithms: []string{"RS256"}, Reason: jws.ReasonAlgorithm},
		no("alg look-alike (Cyrillic S)", b64([]byte(`{"alg":"R\u0405256","kid":"rsa"}`))+"."+p[1]+"."+p[2], jws.ReasonAlgorithm),
		no("alg lower case", b64([]byte(`{"alg":"rs256","kid":"rsa"}`))+"."+p[1]+"."+p[2], jws.ReasonAlgorithm),
		no("alg null", b64([]byte(`{"alg":null,"kid":"rsa"}`))+"."+p[1]+"."+p[2], jws.ReasonAlgorithm),
		no("crit header", sign(k, k.rsa, map[string]any{"alg": "RS256", "kid": "rsa", "crit": []string{"b64"}, "b64": false}, Payload), jws.ReasonAlgorithm),
		no("RS256 header on an EC key id", b64([]byte(`{"alg":"RS256","kid":"ec256"}`))+"."+p[1]+"."+p[2], jws.ReasonUnknownKey),
		no("ES256 header on the RSA key id", b64([]byte(`{"alg":"ES256","kid":"rsa"}`))+"."+p[1]+"."+p[2], jws.ReasonUnknownKey),
		no("kid mismatch", sign(k, k.rsa, map[string]any{"alg": "RS256", "kid": "other"}, Payload), jws.ReasonUnknownKey),
		no("kid with a control character", sign(k, k.rsa, map[string]any{"alg": "RS256", "kid": "rsa\x00"}, Payload), jws.ReasonUnknownKey),
		no("kid look-alike (Cyrillic a)", sign(k, k.rsa, map[string]any{"alg": "RS256", "kid": "rs\u0430"}, Payload), jws.ReasonUnknownKey),
		no("no kid, several fitting keys", sign(k, k.rsa, map[string]any{"alg": "RS256"}, Payload), jws.ReasonUnknownKey),
		no("encryption key", sign(k, k.rsaOther, map[string]any{"alg": "RS256", "kid": "enc"}, Payload), jws.ReasonUnknownKey),
		no("key restricted to another alg", sign(k, k.rsaOther, map[string]any{"alg": "RS256", "kid": "ps-only"}, Payload), jws.ReasonUnknownKey),
		{Name: "empty key set", JWS: rs, JWKS: []byte(`{"keys":[]}`), Reason: jws.ReasonUnknownKey},
		no("RSA key under 2048 bits", sign(k, k.rsaSmall, map[string]any{"alg": "RS256", "kid": "small"}, Payload), jws.ReasonKey),
		{Name: "EC point off the curve", JWS: sign(k, k.ec256, map[string]any{"alg": "ES256", "kid": "ec256"}, Payload), JWKS: withKeys(offCurve), Reason: jws.ReasonKey},
		no("empty", "", jws.ReasonMalformed),
		no("garbage", "garbage", jws.ReasonMalformed),
		no("two parts", p[0]+"."+p[1], jws.ReasonMalformed),
		no("four parts", rs+".x", jws.ReasonMalformed),
		no("padding", p[0]+"."+p[1]+"."+p[2]+"==", jws.ReasonMalformed),
		no("standard base64", strings.NewReplacer("-", "+", "_", "/").Replace(rs)+"+/", jws.ReasonMalformed),
		no("line break", p[0]+"."+p[1][:4]+"\n"+p[1][4:]+"."+p[2], jws.ReasonMalformed),
		no("NUL", rs+"\x00", jws.ReasonMalformed),
		no("unicode full stops", strings.ReplaceAll(rs, ".", "\u3002"), jws.ReasonMalformed),
		no("header not JSON", b64([]byte("RS256"))+"."+p[1]+"."+p[2], jws.ReasonMalformed),
		no("header null", b64([]byte("null"))+"."+p[1]+"."+p[2], jws.ReasonAlgorithm),
		no("oversize", p[0]+"."+strings.Repeat("A", jws.MaxTokenBytes)+"."+p[2], jws.ReasonMalformed),
	}
	return vs
}

// RequestErrors returns requests jws_verify refuses as a whole.
func RequestErrors(tb testing.TB) []RequestError {
	tb.Helper()
	k, err := genKeys()
	if err != nil {
		tb.Fatalf("jwstest: keys: %v", err)
	}
	rs := sign(k, k.rsa, map[string]any{"alg": "RS256", "kid": "rsa"}, Payload)
	key, _ := json.Marshal(rsaJWK("rsa", k.rsa))
	many := `{"keys":[` + strings.TrimSuffix(strings.Repeat(string(key)+",", jws.MaxKeys+1), ",") + `]}`
	req := func(jwks string) []byte { return []byte(`{"jws":"` + rs + `","jwks":` + jwks + `}`) }
	return []RequestError{
		{"not JSON", []byte("jws")},
		{"null", []byte("null")},
		{"no jwks", []byte(`{"jws":"` + rs + `"}`)},
		{"jwks null", req("null")},
		{"jwks an array", req("[]")},
		{"jwks without keys", req(`{}`)},
		{"jwks keys null", req(`{"keys":null}`)},
		{"jwks a string", req(`"{\"keys\":[]}"`)},
		{"too many keys", req(many)},
		{"jwks over the size bound", req(`{"keys":[],"pad":"` + strings.Repeat("x", jws.MaxKeySetBytes) + `"}`)},
		{"algorithms not a list", []byte(`{"jws":"` + rs + `","jwks":{"keys":[]},"algorithms":"RS256"}`)},
	}
}

// Check fails t unless res is the answer v expects.
func Check(tb testing.TB, v Vector, res *abi.JWSVerifyResult) {
	tb.Helper()
	switch {
	case res == nil:
		tb.Fatalf("%s: no result", v.Name)
	case res.Verified != v.Verified:
		tb.Fatalf("%s: verified = %v (%s: %s), want %v (%s)", v.Name, res.Verified, res.Reason, res.Message, v.Verified, v.Reason)
	case v.Verified && string(res.Payload) != v.Payload:
		tb.Fatalf("%s: payload %q, want %q", v.Name, res.Payload, v.Payload)
	case !v.Verified && (res.Reason != v.Reason || res.Message == ""):
		tb.Fatalf("%s: reason %q (%s), want %q", v.Name, res.Reason, res.Message, v.Reason)
	case !v.Verified && len(res.Payload) > 0:
		tb.Fatalf("%s: a failed check returned a payload", v.Name)
	}
}
