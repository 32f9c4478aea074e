package jose

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/abi/jws"
	"github.com/authhost/authhost/pdk/internal/hostcall"
)

// DefaultAlgorithms is the allow-list of a Verifier without Algorithms:
// every algorithm implemented.
var DefaultAlgorithms = jws.Algorithms

// DefaultClockSkew is the leeway of a Verifier without ClockSkew.
const DefaultClockSkew = 30 * time.Second

var (
	// ErrInvalid marks a token that failed verification; every error
	// Verify returns for the token itself (not for the key set) wraps it.
	ErrInvalid = errors.New("invalid token")
	// ErrExpired marks a token that is valid but expired; it wraps
	// ErrInvalid, and Verify returns the claims alongside it.
	ErrExpired = fmt.Errorf("%w: expired", ErrInvalid)
)

// Verifier checks a JWT: its algorithm against an allow-list, its signature
// against Keys, and issuer, audience, expiry, not-before, issued-at and
// nonce. It is a value: copy it to set Nonce for one call.
type Verifier struct {
	// Keys is the key set the signature is checked with.
	Keys *KeySet
	// Algorithms is the allow-list; empty means DefaultAlgorithms. Only
	// asymmetric algorithms are implemented: "none" or "HS256" here
	// makes every token fail.
	Algorithms []string
	// Issuers are the accepted iss values (exact match); one is required.
	Issuers []string
	// Audience, when set, must be in aud (a string or an array).
	Audience string
	// Nonce, when set, must equal the nonce claim (constant time).
	Nonce string
	// ClockSkew is the leeway for exp, nbf and iat; 0 means
	// DefaultClockSkew, a negative value none.
	ClockSkew time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Claims are the registered claims of a verified token; Payload has them
// all for the provider's own decoding.
type Claims struct {
	Issuer    string
	Subject   string
	Audience  []string
	Expiry    time.Time
	NotBefore time.Time // zero when absent
	IssuedAt  time.Time // zero when absent
	Nonce     string
	// Alg is the algorithm the token was signed with (for at_hash).
	Alg string
	// Payload is the token's decoded JSON payload.
	Payload []byte
}

// Decode unmarshals the payload into v.
func (c *Claims) Decode(v any) error {
	if err := json.Unmarshal(c.Payload, v); err != nil {
		return fmt.Errorf("jose: claims: %w", err)
	}
	return nil
}

// registered is the wire form of the registered claims.
type registered struct {
	Iss   string          `json:"iss"`
	Sub   string          `json:"sub"`
	Aud   audience        `json:"aud"`
	Exp   json.RawMessage `json:"exp"`
	Nbf   json.RawMessage `json:"nbf"`
	Iat   json.RawMessage `json:"iat"`
	Nonce string          `json:"nonce"`
}

// audience accepts a string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*a = audience{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return fmt.Errorf("aud: %w", err)
	}
	*a = l
	return nil
}

// numTime decodes a NumericDate: a JSON number (a string holding digits
// is refused), absent or null being (zero, false, nil).
func numTime(raw json.RawMessage) (time.Time, bool, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, false, nil
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("not a NumericDate: %s", raw)
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), true, nil
}

// Verify checks raw and returns its claims. A token that fails is an
// error wrapping ErrInvalid (ErrExpired, with the claims, when only its
// expiry fails; ErrUnknownKey too when its key is not in the set); any
// other error means the key set could not be had.
func (v Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
	}
	if len(v.Issuers) == 0 {
		return nil, errors.New("jose: verifier has no issuer")
	}
	if v.Keys == nil {
		return nil, errors.New("jose: verifier has no key set")
	}
	allowed := v.Algorithms
	if len(allowed) == 0 {
		allowed = DefaultAlgorithms
	}
	var res *abi.JWSVerifyResult
	var herr error
	try := func(c *cachedSet) (string, bool) {
		res, herr = checkSignature(raw, c, allowed)
		return res.Kid, herr != nil || res.Verified || res.Reason != jws.ReasonUnknownKey
	}
	if v.Keys.fromMemory() == nil {
		// Nothing remembered: refuse a malformed token or a refused
		// algorithm before the key set is read or fetched for it.
		if try(&cachedSet{raw: []byte(`{"keys":[]}`)}); herr == nil && res.Reason == jws.ReasonUnknownKey {
			res = nil
		}
	}
	if res == nil {
		if err := v.Keys.lookup(ctx, try); err != nil && !errors.Is(err, ErrUnknownKey) {
			return nil, err
		}
	}
	if herr != nil {
		return nil, herr
	}
	if !res.Verified {
		if res.Reason == jws.ReasonUnknownKey {
			return nil, fmt.Errorf("%w: %w (kid %q, alg %s)", ErrInvalid, ErrUnknownKey, res.Kid, res.Alg)
		}
		return nil, fail("%s", res.Message)
	}
	var r registered
	if err := json.Unmarshal(res.Payload, &r); err != nil {
		return nil, fail("claims: %v", err)
	}
	c := &Claims{Issuer: r.Iss, Subject: r.Sub, Audience: r.Aud, Nonce: r.Nonce, Alg: res.Alg, Payload: res.Payload}
	var ok bool
	var err error
	if c.Expiry, ok, err = numTime(r.Exp); err != nil || !ok {
		return nil, fail("no valid exp (%v)", err)
	}
	if c.NotBefore, _, err = numTime(r.Nbf); err != nil {
		return nil, fail("nbf: %v", err)
	}
	if c.IssuedAt, _, err = numTime(r.Iat); err != nil {
		return nil, fail("iat: %v", err)
	}
	if !slices.Contains(v.Issuers, c.Issuer) {
		return nil, fail("issuer %q is not accepted", c.Issuer)
	}
	if c.Subject == "" {
		return nil, fail("no sub")
	}
	if v.Audience != "" && !slices.Contains(c.Audience, v.Audience) {
		return nil, fail("audience %v does not contain %q", c.Audience, v.Audience)
	}
	if v.Nonce != "" && subtle.ConstantTimeCompare([]byte(c.Nonce), []byte(v.Nonce)) != 1 {
		if c.Nonce == "" {
			return nil, fail("nonce missing")
		}
		return nil, fail("nonce mismatch")
	}
	skew := v.ClockSkew
	switch {
	case skew == 0:
		skew = DefaultClockSkew
	case skew < 0:
		skew = 0
	}
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	if !c.NotBefore.IsZero() && now.Add(skew).Before(c.NotBefore) {
		return nil, fail("not valid before %s", c.NotBefore.UTC().Format(time.RFC3339))
	}
	if !c.IssuedAt.IsZero() && now.Add(skew).Before(c.IssuedAt) {
		return nil, fail("issued in the future (%s)", c.IssuedAt.UTC().Format(time.RFC3339))
	}
	if !now.Before(c.Expiry.Add(skew)) {
		return c, fmt.Errorf("%w at %s", ErrExpired, c.Expiry.UTC().Format(time.RFC3339))
	}
	return c, nil
}

// checkSignature checks the signature of raw with the keys of c under an
// algorithm of allowed: by the host's jws_verify, or, when the host lacks
// it (not_supported), by the same code in the guest. A token that fails is
// a result with Verified false; an error means the check could not be made.
func checkSignature(raw string, c *cachedSet, allowed []string) (*abi.JWSVerifyResult, error) {
	if jws.Compact(raw) && len(c.raw) <= jws.MaxKeySetBytes && len(c.Keys) <= jws.MaxKeys {
		// Built by hand: raw is base64url and dots, c.raw a JWKS document
		// this package encoded, so neither needs escaping or re-encoding.
		algs, _ := json.Marshal(allowed)
		req := make([]byte, 0, len(raw)+len(c.raw)+len(algs)+40)
		req = append(req, `{"jws":"`...)
		req = append(req, raw...)
		req = append(req, `","jwks":`...)
		req = append(req, c.raw...)
		req = append(req, `,"algorithms":`...)
		req = append(req, algs...)
		req = append(req, '}')
		var res abi.JWSVerifyResult
		err := abi.Decode(hostcall.Current().Call(abi.HostJWSVerify, req), &res)
		if err == nil {
			return &res, nil
		}
		if !abi.IsCode(err, abi.CodeNotSupported) {
			return &abi.JWSVerifyResult{}, fmt.Errorf("jose: %s: %w", abi.HostJWSVerify, err)
		}
	}
	res, err := jws.Result(jws.Check(raw, &JWKS{Keys: c.Keys}, allowed))
	if err != nil {
		return &abi.JWSVerifyResult{}, fmt.Errorf("jose: %w", err)
	}
	return res, nil
}
