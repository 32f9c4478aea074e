package main

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk"
	"github.com/authhost/authhost/pdk/jose"
)

// now is the clock; tests replace it to move time forward.
var now = time.Now

// discovery is the part of the OpenID Provider metadata the plugin uses.
type discovery struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	UserinfoEndpoint      string   `json:"userinfo_endpoint,omitempty"`
	JWKSURI               string   `json:"jwks_uri"`
	EndSessionEndpoint    string   `json:"end_session_endpoint,omitempty"`
	RevocationEndpoint    string   `json:"revocation_endpoint,omitempty"`
	TokenAuthMethods      []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	RevocationAuthMethods []string `json:"revocation_endpoint_auth_methods_supported,omitempty"`
	IDTokenAlgs           []string `json:"id_token_signing_alg_values_supported,omitempty"`
	CodeChallengeMethods  []string `json:"code_challenge_methods_supported,omitempty"`
}

// fetchJSON GETs u and decodes a 200 JSON answer into v. Transport
// failures keep the code the host gave them (unavailable, forbidden); 5xx
// and unreadable answers are unavailable.
func fetchJSON(ctx context.Context, what, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return abi.Errorf(abi.CodeInternal, "%s: %v", what, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := roundTrip(req)
	if err != nil {
		return transportError(what, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return abi.Errorf(abi.CodeUnavailable, "%s: read: %v", what, err)
	}
	if resp.StatusCode != http.StatusOK {
		return statusError(what, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return abi.Errorf(abi.CodeUnavailable, "%s: malformed JSON: %v", what, err)
	}
	return nil
}

// roundTrip sends req through the host's http_do. The host follows
// redirects itself (checking each against allowed_hosts), so an
// http.Client in the guest would add only its own work.
func roundTrip(req *http.Request) (*http.Response, error) { return pdk.Transport{}.RoundTrip(req) }

// transportError keeps the code the host's http_do gave a failed request
// (unavailable, forbidden for a host outside allowed_hosts) and prefixes
// what was being fetched; other errors are unavailable.
func transportError(what string, err error) error {
	code := abi.CodeOf(err)
	if code == abi.CodeInternal {
		code = abi.CodeUnavailable
	}
	return &abi.Error{Code: code, Message: what + ": " + err.Error()}
}

// statusError classifies a non-200 answer of the identity provider.
func statusError(what string, status int, body []byte) error {
	var oe struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &oe)
	msg := fmt.Sprintf("%s: status %d", what, status)
	if oe.Error != "" {
		msg += ": " + oe.Error
		if oe.Description != "" {
			msg += ": " + oe.Description
		}
	}
	switch {
	case status == http.StatusTooManyRequests:
		return abi.Errorf(abi.CodeRateLimited, "%s", msg)
	case status >= 500:
		return abi.Errorf(abi.CodeUnavailable, "%s", msg)
	case oe.Error == "invalid_grant" || oe.Error == "invalid_token" || status == http.StatusUnauthorized && oe.Error == "":
		return abi.Errorf(abi.CodeInvalidCredentials, "%s", msg)
	case oe.Error == "invalid_client" || oe.Error == "unauthorized_client":
		// The operator's client registration is wrong, not the user's input.
		return abi.Errorf(abi.CodeInternal, "%s (check client_id, client_secret and token_endpoint_auth_method)", msg)
	case status == http.StatusNotFound:
		return abi.Errorf(abi.CodeUnavailable, "%s", msg)
	}
	return abi.Errorf(abi.CodeInvalidCredentials, "%s", msg)
}

// discoveryMemo is the discovery document this instance last read, the
// KV bytes it came from (nil after a fetch) and when. KV stays the source
// shared by all instances (and its TTL the refresh rule); an instance
// uses its copy without reading KV for discoveryReuse (each KV read and
// decode costs ~0.2 ms in the sandbox, on every login URL and callback),
// and a KV value equal to raw is not decoded again.
var discoveryMemo struct {
	sync.Mutex
	key    string
	raw    []byte
	d      *discovery
	readAt time.Time
}

// discoveryReuse is the longest an instance uses the discovery document
// it read without reading KV again (never longer than
// discovery_ttl_seconds): a document the issuer changes reaches every
// instance at most this long after it reaches KV.
const discoveryReuse = time.Minute

// recentDiscovery returns this instance's copy of the document under key
// while it is fresh, else nil.
func recentDiscovery(key string, cfg *config) *discovery {
	discoveryMemo.Lock()
	defer discoveryMemo.Unlock()
	if discoveryMemo.d == nil || discoveryMemo.key != key || now().Sub(discoveryMemo.readAt) >= min(discoveryReuse, cfg.discoveryTTL()) {
		return nil
	}
	return discoveryMemo.d
}

// memoDiscovery returns the document decoded from raw, read from KV under
// key, decoding it only when raw is not what was decoded last; the result
// is shared and must not be changed.
func memoDiscovery(key string, raw []byte) (*discovery, error) {
	discoveryMemo.Lock()
	defer discoveryMemo.Unlock()
	if discoveryMemo.d != nil && discoveryMemo.key == key && bytes.Equal(raw, discoveryMemo.raw) {
		discoveryMemo.readAt = now()
		return discoveryMemo.d, nil
	}
	var d discovery
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, err
	}
	discoveryMemo.key, discoveryMemo.raw, discoveryMemo.d, discoveryMemo.readAt = key, raw, &d, now()
	return &d, nil
}

// forgetDiscovery drops this instance's copy (tests: a new KV).
func forgetDiscovery() {
	discoveryMemo.Lock()
	defer discoveryMemo.Unlock()
	discoveryMemo.key, discoveryMemo.raw, discoveryMemo.d = "", nil, nil
}

// getDiscovery returns the issuer's discovery document: this instance's
// recent copy, else the one cached in KV, else fetched (and cached for
// discovery_ttl_seconds).
func getDiscovery(ctx context.Context, cfg *config) (*discovery, error) {
	key := cfg.prefix + "discovery"
	memoKey := key + "\x00" + cfg.Issuer
	if d := recentDiscovery(memoKey, cfg); d != nil {
		return d, nil
	}
	if raw, ok, err := pdk.KV.Get(key); err != nil {
		pdk.Log.Warn("discovery cache unreadable", "error", err)
	} else if ok {
		d, err := memoDiscovery(memoKey, raw)
		if err == nil {
			return d, nil
		}
		pdk.Log.Warn("discovery cache unreadable", "error", err)
	}
	var d discovery
	if err := fetchJSON(ctx, "discovery", cfg.Issuer+"/.well-known/openid-configuration", &d); err != nil {
		return nil, err
	}
	if err := checkDiscovery(cfg, &d); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(d)
	if err == nil {
		err = pdk.KV.Set(key, raw, cfg.discoveryTTL())
	}
	if err != nil {
		pdk.Log.Warn("discovery cache not written", "error", err)
		return &d, nil
	}
	return memoDiscovery(memoKey, raw)
}

func checkDiscovery(cfg *config, d *discovery) error {
	// OpenID Connect Discovery 1.0 §4.3: the issuer must match exactly.
	if strings.TrimSuffix(d.Issuer, "/") != cfg.Issuer {
		return abi.Errorf(abi.CodeInternal, "discovery: issuer %q does not match the configured issuer %q", d.Issuer, cfg.Issuer)
	}
	for name, u := range map[string]string{"authorization_endpoint": d.AuthorizationEndpoint, "token_endpoint": d.TokenEndpoint, "jwks_uri": d.JWKSURI} {
		if !httpURL(u) {
			return abi.Errorf(abi.CodeInternal, "discovery: %s %q is not an absolute http(s) URL", name, u)
		}
	}
	for _, u := range []*string{&d.UserinfoEndpoint, &d.EndSessionEndpoint, &d.RevocationEndpoint} {
		if *u != "" && !httpURL(*u) {
			*u = "" // ignore a broken optional endpoint
		}
	}
	if len(d.CodeChallengeMethods) > 0 && !slices.Contains(d.CodeChallengeMethods, "S256") {
		return abi.Errorf(abi.CodeInternal, "discovery: the issuer does not support PKCE S256 (code_challenge_methods_supported %v)", d.CodeChallengeMethods)
	}
	return nil
}

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// idClaims are the ID token's claims: the registered ones jose checked,
// the OIDC ones checked here, and all of them in raw for the user mapping.
type idClaims struct {
	*jose.Claims
	azp    string
	atHash string
	raw    map[string]any
}

// verifyIDToken checks the ID token with pdk/jose (signature against the
// issuer's JWKS, algorithm allow-list, issuer, audience, expiry,
// not-before, nonce when wantNonce is not nil) and the OIDC rules on top:
// authorized party and at_hash (when accessToken is set). Every token
// failure is code; the caller decides it (invalid_credentials during
// sign-in); an unreachable JWKS keeps its own code.
func verifyIDToken(ctx context.Context, cfg *config, d *discovery, raw string, wantNonce *string, accessToken string, code abi.Code) (*idClaims, error) {
	fail := func(format string, args ...any) error {
		return abi.Errorf(code, "id token: "+format, args...)
	}
	skew := cfg.clockSkew
	if skew == 0 {
		skew = -1 // clock_skew_seconds: 0 means none
	}
	v := jose.Verifier{
		Keys: &jose.KeySet{URL: d.JWKSURI, KVKey: cfg.prefix + "jwks", TTL: cfg.jwksTTL(), MinRefresh: cfg.jwksMinRefresh(),
			Now: now, Fetch: func(ctx context.Context, u string) (*jose.JWKS, error) {
				var set jose.JWKS
				return &set, fetchJSON(ctx, "jwks", u, &set)
			}},
		Algorithms: cfg.AllowedAlgorithms,
		Issuers:    []string{cfg.Issuer, cfg.Issuer + "/"},
		Audience:   cfg.ClientID,
		ClockSkew:  skew,
		Now:        now,
	}
	if wantNonce != nil {
		if *wantNonce == "" {
			return nil, fail("no nonce to check")
		}
		v.Nonce = *wantNonce
	}
	jc, err := v.Verify(ctx, raw)
	if errors.Is(err, jose.ErrInvalid) {
		return nil, fail("%v", err)
	}
	if err != nil {
		return nil, err
	}
	// One decode of the claims serves azp, at_hash and the user mapping.
	c := idClaims{Claims: jc}
	dec := json.NewDecoder(bytes.NewReader(jc.Payload))
	dec.UseNumber()
	if err := dec.Decode(&c.raw); err != nil {
		return nil, fail("claims: %v", err)
	}
	for name, dst := range map[string]*string{"azp": &c.azp, "at_hash": &c.atHash} {
		switch v := c.raw[name].(type) {
		case nil:
		case string:
			*dst = v
		default:
			return nil, fail("claims: %s is not a string", name)
		}
	}
	if c.azp != "" && c.azp != cfg.ClientID {
		return nil, fail("authorized party %q is not the client id", c.azp)
	}
	if len(c.Audience) > 1 && c.azp == "" {
		return nil, fail("several audiences and no azp")
	}
	if c.atHash != "" && accessToken != "" {
		want, err := jose.TokenHash(jc.Alg, accessToken)
		if err != nil {
			return nil, fail("at_hash: %v", err)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(c.atHash)) != 1 {
			return nil, fail("at_hash does not match the access token")
		}
	}
	return &c, nil
}

// tokenResponse is the token endpoint's answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	ExpiresIn    int64  `json:"expires_in"`
}

// authMethod chooses how the client authenticates at the token endpoint.
func authMethod(cfg *config, supported []string) string {
	if cfg.TokenEndpointAuthMethod != "" {
		return cfg.TokenEndpointAuthMethod
	}
	if cfg.ClientSecret == "" {
		return "none"
	}
	// RFC 8414: absent means client_secret_basic.
	if len(supported) == 0 || slices.Contains(supported, "client_secret_basic") {
		return "client_secret_basic"
	}
	if slices.Contains(supported, "client_secret_post") {
		return "client_secret_post"
	}
	return "client_secret_basic"
}

// postForm POSTs a client-authenticated form to an endpoint of the issuer.
func postForm(ctx context.Context, cfg *config, what, endpoint, method string, form url.Values) (int, []byte, error) {
	switch method {
	case "client_secret_post":
		form.Set("client_id", cfg.ClientID)
		form.Set("client_secret", cfg.ClientSecret)
	case "none":
		form.Set("client_id", cfg.ClientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, abi.Errorf(abi.CodeInternal, "%s: %v", what, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if method == "client_secret_basic" {
		// RFC 6749 §2.3.1: form-encode id and secret before Basic auth.
		req.SetBasicAuth(url.QueryEscape(cfg.ClientID), url.QueryEscape(cfg.ClientSecret))
	}
	resp, err := roundTrip(req)
	if err != nil {
		return 0, nil, transportError(what, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, abi.Errorf(abi.CodeUnavailable, "%s: read: %v", what, err)
	}
	return resp.StatusCode, body, nil
}

// tokenRequest runs a grant at the token endpoint.
func tokenRequest(ctx context.Context, cfg *config, d *discovery, form url.Values) (*tokenResponse, error) {
	status, body, err := postForm(ctx, cfg, "token", d.TokenEndpoint, authMethod(cfg, d.TokenAuthMethods), form)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, statusError("token", status, body)
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return nil, abi.Errorf(abi.CodeUnavailable, "token: malformed JSON: %v", err)
	}
	if tr.AccessToken == "" || !strings.EqualFold(tr.TokenType, "bearer") && tr.TokenType != "" {
		return nil, abi.Errorf(abi.CodeUnavailable, "token: no bearer access token in the answer")
	}
	return &tr, nil
}

// fetchUserinfo GETs the userinfo endpoint with the access token.
func fetchUserinfo(ctx context.Context, d *discovery, accessToken string) (map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.UserinfoEndpoint, nil)
	if err != nil {
		return nil, abi.Errorf(abi.CodeInternal, "userinfo: %v", err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := roundTrip(req)
	if err != nil {
		return nil, transportError("userinfo", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, abi.Errorf(abi.CodeUnavailable, "userinfo: read: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, statusError("userinfo", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/jwt") {
		return nil, abi.Errorf(abi.CodeInternal, "userinfo: signed userinfo (application/jwt) is not supported; set userinfo: false")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil {
		return nil, abi.Errorf(abi.CodeUnavailable, "userinfo: malformed JSON: %v", err)
	}
	return claims, nil
}

// revoke revokes a token at the revocation endpoint (RFC 7009), best effort.
func revoke(ctx context.Context, cfg *config, d *discovery, token, hint string) error {
	if d.RevocationEndpoint == "" || token == "" {
		return nil
	}
	methods := d.RevocationAuthMethods
	if len(methods) == 0 {
		methods = d.TokenAuthMethods
	}
	status, body, err := postForm(ctx, cfg, "revoke", d.RevocationEndpoint, authMethod(cfg, methods),
		url.Values{"token": {token}, "token_type_hint": {hint}})
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return statusError("revoke", status, body)
	}
	return nil
}
