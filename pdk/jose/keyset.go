package jose

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk"
	"github.com/authhost/authhost/pdk/internal/hostcall"
)

// Defaults of a KeySet.
const (
	DefaultKeySetTTL  = time.Hour
	DefaultMinRefresh = 10 * time.Second
	// maxMissingKids bounds the key ids a cached set remembers as missing;
	// past it, unknown key ids share the set's own refetch interval.
	maxMissingKids = 32
	// maxJWKSBytes bounds a fetched key set.
	maxJWKSBytes = 1 << 20
)

// ErrUnknownKey marks a token signed with a key the key set does not hold
// (after the re-fetch the rules allowed).
var ErrUnknownKey = errors.New("unknown signing key")

// KeySet is a JWKS fetched from URL through the host's http_do and cached
// in the plugin's KV under KVKey, shared by every instance of the plugin.
//
// A key id never looked for before always gets one re-fetch, so a key the
// issuer just rotated in works at once however recently the set was
// fetched. A key id that a re-fetch did not find is not fetched for again
// within MinRefresh, nor is any key for a token without a key id; once
// maxMissingKids ids are remembered as missing, every further unknown id
// waits for MinRefresh too. So tokens with made-up key ids cause at most
// about maxMissingKids+1 fetches per MinRefresh. A failed re-fetch keeps
// verifying with the keys already cached.
//
// KeySet holds no state of its own: build one per call from configuration.
type KeySet struct {
	// URL is the JWKS endpoint (jwks_uri).
	URL string
	// KVKey is where the set is cached; "" uses "jose/jwks".
	KVKey string
	// TTL is how long a fetched set is used; 0 means DefaultKeySetTTL.
	TTL time.Duration
	// MinRefresh is the least time between re-fetches for one unknown key
	// id; 0 means DefaultMinRefresh.
	MinRefresh time.Duration
	// Fetch replaces the default fetch (GET URL via pdk.HTTPClient); a
	// provider sets it to classify its issuer's errors its own way.
	Fetch func(ctx context.Context, url string) (*JWKS, error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// cachedSet is the KV record of a KeySet. Once remembered in an
// instance's memory it is never changed.
type cachedSet struct {
	URL       string    `json:"url"`
	Keys      []JWK     `json:"keys"`
	FetchedAt time.Time `json:"fetched_at"`
	// Missing are key ids a re-fetch did not find, with its time.
	Missing map[string]time.Time `json:"missing,omitempty"`
	// raw is Keys as a JWKS document, for jws_verify.
	raw []byte
}

// memKey names a set remembered in memory: per host (one in the sandbox,
// one per pdktest.Env in tests) and KV key.
type memKey struct {
	host  hostcall.Host
	kvKey string
}

// memory holds the sets this instance last read or fetched (memKey →
// *cachedSet), so that a warm instance neither reads KV nor decodes the
// set for every token. SPEC §10 allows such per-instance caches; the KV
// record stays the source shared by all instances, and a key id missing
// from the remembered set always consults it. So a key the issuer removed
// keeps verifying on an instance until the set it remembers is TTL old,
// even after another instance re-fetched the set: keep TTL as short as
// key removal must take effect.
var memory sync.Map

// fromMemory returns the set remembered for s while it is fresh, or nil.
func (s *KeySet) fromMemory() *cachedSet {
	v, ok := memory.Load(memKey{hostcall.Current(), s.kvKey()})
	if !ok {
		return nil
	}
	c := v.(*cachedSet)
	if c.URL != s.URL || !s.now().Before(c.FetchedAt.Add(s.ttl())) {
		return nil
	}
	return c
}

// remember keeps c in memory with its keys encoded for jws_verify.
func (s *KeySet) remember(c *cachedSet) {
	if c.raw == nil {
		raw, err := json.Marshal(JWKS{Keys: c.Keys})
		if err != nil {
			return
		}
		c.raw = raw
	}
	memory.Store(memKey{hostcall.Current(), s.kvKey()}, c)
}

// lookup runs try with the freshest set this instance knows until try
// finds its key (try returns the token's key id and whether the key was
// there): the set in memory, then the one in KV, then one re-fetched under
// the rules of KeySet. It returns ErrUnknownKey when none has the key;
// other errors mean the set could not be had at all.
func (s *KeySet) lookup(ctx context.Context, try func(*cachedSet) (kid string, found bool)) error {
	mem := s.fromMemory()
	var kid string
	if mem != nil {
		var found bool
		if kid, found = try(mem); found {
			return nil
		}
	}
	c, fetched, err := s.cached(ctx)
	if err != nil {
		return err
	}
	s.remember(c)
	if mem == nil || fetched || !c.FetchedAt.Equal(mem.FetchedAt) {
		var found bool
		if kid, found = try(c); found {
			return nil
		}
	}
	if fetched {
		return ErrUnknownKey
	}
	n, err := s.refresh(ctx, c, kid)
	if err != nil {
		return err
	}
	if n == c { // held off: nothing new to try
		return ErrUnknownKey
	}
	s.remember(n)
	if _, found := try(n); found {
		return nil
	}
	return ErrUnknownKey
}

func (s *KeySet) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *KeySet) kvKey() string {
	if s.KVKey != "" {
		return s.KVKey
	}
	return "jose/jwks"
}

func (s *KeySet) ttl() time.Duration {
	if s.TTL > 0 {
		return s.TTL
	}
	return DefaultKeySetTTL
}

func (s *KeySet) minRefresh() time.Duration {
	if s.MinRefresh > 0 {
		return s.MinRefresh
	}
	return DefaultMinRefresh
}

// Key returns the key that verifies a token with header h: the key with
// h.Kid fitting h.Alg, or, for a token without kid, the only key fitting
// h.Alg. A key the set lacks is re-fetched for under the rules of KeySet;
// still missing, it is ErrUnknownKey. Other errors mean the set could not
// be had at all (abi codes unavailable, rate_limited, forbidden …).
func (s *KeySet) Key(ctx context.Context, h Header) (*JWK, error) {
	var k *JWK
	err := s.lookup(ctx, func(c *cachedSet) (string, bool) {
		k = c.find(h)
		return h.Kid, k != nil
	})
	if errors.Is(err, ErrUnknownKey) {
		return nil, fmt.Errorf("%w (kid %q, alg %s)", ErrUnknownKey, h.Kid, h.Alg)
	}
	if err != nil {
		return nil, err
	}
	return k, nil
}

// cached returns the set from KV while fresh and for URL, else fetches it
// (fetched true).
func (s *KeySet) cached(ctx context.Context) (*cachedSet, bool, error) {
	var c cachedSet
	ok, err := pdk.KV.GetJSON(s.kvKey(), &c)
	if err != nil {
		pdk.Log.Warn("jwks cache unreadable", "error", err)
	} else if ok && c.URL == s.URL && s.now().Before(c.FetchedAt.Add(s.ttl())) {
		return &c, false, nil
	}
	set, err := s.refresh(ctx, nil, "")
	return set, true, err
}

// refresh re-fetches the set because kid is not in old (nil: nothing
// cached), unless the rules of KeySet hold the fetch off.
func (s *KeySet) refresh(ctx context.Context, old *cachedSet, kid string) (*cachedSet, error) {
	t0 := s.now()
	recent := func(at time.Time) bool { return t0.Sub(at) < s.minRefresh() }
	if old != nil {
		if at, ok := old.Missing[kid]; ok && recent(at) {
			return old, nil
		}
		if (kid == "" || len(old.Missing) >= maxMissingKids) && recent(old.FetchedAt) {
			return old, nil
		}
	}
	fetch := s.Fetch
	if fetch == nil {
		fetch = FetchJWKS
	}
	set, err := fetch(ctx, s.URL)
	if err != nil {
		if old != nil { // keep verifying with the keys we have
			pdk.Log.Warn("jwks refresh failed", "url", s.URL, "error", err)
			return old, nil
		}
		return nil, err
	}
	c := &cachedSet{URL: s.URL, Keys: set.Keys, FetchedAt: t0, Missing: map[string]time.Time{}}
	if old != nil {
		for k, at := range old.Missing {
			if recent(at) && len(c.Missing) < maxMissingKids {
				c.Missing[k] = at
			}
		}
	}
	if kid != "" && !slices.ContainsFunc(c.Keys, func(k JWK) bool { return k.Kid == kid }) && len(c.Missing) < maxMissingKids {
		c.Missing[kid] = t0
	}
	if err := pdk.KV.SetJSON(s.kvKey(), c, s.ttl()); err != nil {
		pdk.Log.Warn("jwks cache not written", "error", err)
	}
	return c, nil
}

// find picks the key verifying a token with header h (JWKS.Find).
func (c *cachedSet) find(h Header) *JWK {
	return (&JWKS{Keys: c.Keys}).Find(h)
}

// FetchJWKS GETs a key set through the host. A transport failure keeps the
// code the host gave it (unavailable, forbidden for a host outside
// allowed_hosts); 429 is rate_limited, any other non-200 answer or an
// unreadable body is unavailable.
func FetchJWKS(ctx context.Context, url string) (*JWKS, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, abi.Errorf(abi.CodeInternal, "jwks: %v", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := pdk.HTTPClient().Do(req)
	if err != nil {
		code := abi.CodeOf(err)
		if code == abi.CodeInternal {
			code = abi.CodeUnavailable
		}
		return nil, &abi.Error{Code: code, Message: "jwks: " + err.Error()}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes))
	if err != nil {
		return nil, abi.Errorf(abi.CodeUnavailable, "jwks: read %s: %v", url, err)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return nil, abi.Errorf(abi.CodeRateLimited, "jwks: %s answered status %d", url, resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return nil, abi.Errorf(abi.CodeUnavailable, "jwks: %s answered status %d", url, resp.StatusCode)
	}
	var set JWKS
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, abi.Errorf(abi.CodeUnavailable, "jwks: decode %s: %v", url, err)
	}
	return &set, nil
}
