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
)

// DefaultAlgorithms is the allow-list of a Verifier without Algorithms.
var DefaultAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

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
	t, err := Parse(raw)
	if err != nil {
		return nil, fail("%v", err)
	}
	alg := t.Header.Alg
	allowed := v.Algorithms
	if len(allowed) == 0 {
		allowed = DefaultAlgorithms
	}
	if !slices.Contains(allowed, alg) {
		return nil, fail("algorithm %q is not allowed (allowed %v)", alg, allowed)
	}
	if _, err := algHash(alg); err != nil {
		return nil, fail("%v", err)
	}
	if len(t.Header.Crit) > 0 {
		return nil, fail("unsupported critical header %v", t.Header.Crit)
	}
	k, err := v.Keys.Key(ctx, t.Header)
	if errors.Is(err, ErrUnknownKey) {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err != nil {
		return nil, err
	}
	pub, err := k.PublicKey()
	if err != nil {
		return nil, fail("%v", err)
	}
	if err := t.Verify(pub); err != nil {
		return nil, fail("%v", err)
	}
	var r registered
	if err := json.Unmarshal(t.Payload, &r); err != nil {
		return nil, fail("claims: %v", err)
	}
	c := &Claims{Issuer: r.Iss, Subject: r.Sub, Audience: r.Aud, Nonce: r.Nonce, Alg: alg, Payload: t.Payload}
	var ok bool
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
