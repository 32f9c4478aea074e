package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk"
)

// maxResponseBytes caps what the plugin reads of one Better Auth answer
// (the host caps http_do bodies too).
const maxResponseBytes = 1 << 20

// apiCall is one call to Better Auth's HTTP API.
type apiCall struct {
	op     string // for error messages, e.g. "sign-in"
	method string
	path   string // below the API URL, e.g. /sign-in/email
	body   any    // JSON-encoded when non-nil
	token  string // session token to authenticate with, when set
	client *abi.Request
}

// apiResponse is Better Auth's answer.
type apiResponse struct {
	status int
	header http.Header
	body   []byte
}

// baError is Better Auth's error body.
type baError struct {
	Message string `json:"message"`
	Code    string `json:"code"`
}

// do sends c and returns the response for any HTTP status; the error is a
// transport failure (coded unavailable or forbidden by the host).
func do(ctx context.Context, cfg *config, c apiCall) (*apiResponse, error) {
	var body io.Reader
	if c.body != nil {
		raw, err := json.Marshal(c.body)
		if err != nil {
			return nil, abi.Errorf(abi.CodeInternal, "betterauth %s: encode request: %v", c.op, err)
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, cfg.apiURL+c.path, body)
	if err != nil {
		return nil, abi.Errorf(abi.CodeInternal, "betterauth %s: %v", c.op, err)
	}
	req.Header.Set("Accept", "application/json")
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.method != http.MethodGet && c.method != http.MethodHead {
		req.Header.Set("Origin", cfg.origin)
	}
	if c.token != "" {
		setCredential(req.Header, cfg, c.token)
	}
	forwardClient(req.Header, c.client)
	resp, err := pdk.HTTPClient().Do(req)
	if err != nil {
		return nil, transportError(c.op, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, abi.Errorf(abi.CodeUnavailable, "betterauth %s: read response: %v", c.op, err)
	}
	if len(raw) > maxResponseBytes {
		return nil, abi.Errorf(abi.CodeUnavailable, "betterauth %s: response larger than %d bytes", c.op, maxResponseBytes)
	}
	return &apiResponse{status: resp.StatusCode, header: resp.Header, body: raw}, nil
}

// transportError classifies a failed round trip: the host's code when it
// gave one (unavailable, forbidden), unavailable otherwise.
func transportError(op string, err error) error {
	var e *abi.Error
	if errors.As(err, &e) && e.Code.Valid() {
		return abi.Errorf(e.Code, "betterauth %s: %s", op, e.Message)
	}
	return abi.Errorf(abi.CodeUnavailable, "betterauth %s: %v", op, err)
}

// setCredential authenticates a request with a session token: a signed
// token (<token>.<signature>, the cookie value) goes in the session cookie,
// which Better Auth reads without the bearer plugin; a raw token goes in
// Authorization: Bearer (needs the bearer plugin). Both cookie names are
// sent, so the token works whether or not Better Auth uses __Secure- names.
func setCredential(h http.Header, cfg *config, token string) {
	if isSigned(token) {
		v := url.QueryEscape(token)
		plain := cfg.CookiePrefix + ".session_token"
		h.Set("Cookie", plain+"="+v+"; __Secure-"+plain+"="+v)
		return
	}
	h.Set("Authorization", "Bearer "+token)
}

// isSigned reports whether token has the form <token>.<base64 HMAC>.
func isSigned(token string) bool { return strings.Count(token, ".") == 1 }

// forwardClient passes the end user's address and user agent on, so Better
// Auth records them on the session and rate-limits per client rather than
// per authhost instance.
func forwardClient(h http.Header, r *abi.Request) {
	if r == nil {
		return
	}
	if ua := firstHeader(r.Headers, "User-Agent"); ua != "" {
		h.Set("User-Agent", ua)
	}
	if r.RemoteAddr != "" {
		ip := r.RemoteAddr
		if host, _, err := net.SplitHostPort(ip); err == nil {
			ip = host
		}
		h.Set("X-Forwarded-For", ip)
	}
}

func firstHeader(h map[string][]string, name string) string {
	if vs := h[http.CanonicalHeaderKey(name)]; len(vs) > 0 {
		return vs[0]
	}
	for k, vs := range h { // tolerate non-canonical keys
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}

// decode parses a successful JSON answer into v; a body that is not the
// JSON Better Auth sends means something else answered (a proxy, a wrong
// base_path), so it is unavailable.
func (r *apiResponse) decode(op string, v any) error {
	if err := json.Unmarshal(r.body, v); err != nil {
		return abi.Errorf(abi.CodeUnavailable, "betterauth %s: unexpected response (status %d): %v", op, r.status, err)
	}
	return nil
}

// ok reports a 2xx status.
func (r *apiResponse) ok() bool { return r.status >= 200 && r.status < 300 }

// baErr returns Better Auth's error code and message.
func (r *apiResponse) baErr() baError {
	var e baError
	_ = json.Unmarshal(r.body, &e)
	return e
}

// mapError turns a non-2xx answer into an ABI error. unauthorized is the
// code for a 401 (invalid_credentials for sign-in, unauthenticated for
// session calls).
func (r *apiResponse) mapError(op string, unauthorized abi.Code) error {
	e := r.baErr()
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(r.status)
	}
	if e.Code != "" {
		msg += " (" + e.Code + ")"
	}
	code := classify(r.status, e.Code, unauthorized)
	if code == abi.CodeInternal && (e.Code == "MISSING_OR_NULL_ORIGIN" || e.Code == "INVALID_ORIGIN") {
		msg += ": set the plugin's origin to one of Better Auth's trustedOrigins"
	}
	if r.status == http.StatusNotFound && e.Code == "" {
		msg += ": check base_url and base_path, and that the Better Auth plugin serving this endpoint is enabled"
	}
	return abi.Errorf(code, "betterauth %s: status %d: %s", op, r.status, msg)
}

// classify maps a Better Auth status and error code to an ABI code.
func classify(status int, code string, unauthorized abi.Code) abi.Code {
	switch {
	case status == http.StatusTooManyRequests:
		return abi.CodeRateLimited
	case status >= 500:
		return abi.CodeUnavailable
	case strings.Contains(code, "ALREADY_EXISTS"):
		return abi.CodeAlreadyExists
	case strings.Contains(code, "SIGN_UP_DISABLED") || strings.Contains(code, "SIGNUP_DISABLED"):
		return abi.CodeSignUpDisabled
	case code == "INVALID_EMAIL_OR_PASSWORD" || code == "INVALID_PASSWORD" || code == "INVALID_TOKEN" || code == "CREDENTIAL_ACCOUNT_NOT_FOUND":
		return abi.CodeInvalidCredentials
	case code == "EMAIL_NOT_VERIFIED":
		return abi.CodeForbidden
	case code == "MISSING_OR_NULL_ORIGIN" || code == "INVALID_ORIGIN":
		return abi.CodeInternal // the operator's configuration, not the caller
	case code == "RESET_PASSWORD_DISABLED":
		return abi.CodeNotSupported
	case status == http.StatusUnauthorized:
		return unauthorized
	case status == http.StatusForbidden:
		if strings.HasPrefix(code, "INVALID_") && strings.HasSuffix(code, "URL") {
			return abi.CodeInvalidRequest // redirectTo / callbackURL not trusted
		}
		return abi.CodeForbidden
	case status == http.StatusNotFound:
		return abi.CodeInternal
	case status == http.StatusBadRequest || status == http.StatusUnprocessableEntity:
		return abi.CodeInvalidRequest
	}
	return abi.CodeInternal
}

// call sends c and decodes a 2xx answer into out (may be nil); any other
// status is mapped with mapError.
func call(ctx context.Context, cfg *config, c apiCall, unauthorized abi.Code, out any) (*apiResponse, error) {
	resp, err := do(ctx, cfg, c)
	if err != nil {
		return nil, err
	}
	if !resp.ok() {
		return resp, resp.mapError(c.op, unauthorized)
	}
	if out != nil {
		if err := resp.decode(c.op, out); err != nil {
			return resp, err
		}
	}
	return resp, nil
}

// errorf wraps err with context, keeping its ABI code (internal when it has
// none) so the failed envelope says where the error came from.
func errorf(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	prefix := fmt.Sprintf(format, args...)
	var e *abi.Error
	if errors.As(err, &e) && e.Code.Valid() {
		return abi.Errorf(e.Code, "%s: %s", prefix, e.Message)
	}
	return abi.Errorf(abi.CodeInternal, "%s: %v", prefix, err)
}
