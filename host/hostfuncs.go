package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/abi/passhash"
	"github.com/authhost/authhost/auth/hashgate"
	"github.com/authhost/authhost/host/internal/egress"
	"github.com/authhost/authhost/host/internal/engine"
	"github.com/authhost/authhost/store"
)

// hostEnv is what the host functions of one plugin act on. It is bound by
// closure to the module compiled for that plugin, so a guest can only ever
// reach its own KV prefix, allow-list and logger.
type hostEnv struct {
	name   string
	kv     *kvSpace // nil without a store
	limits Limits
	// quotaWarned is when a refused kv_set was last logged (Unix ns).
	quotaWarned atomic.Int64
	allowed     hostMatcher
	client      *http.Client
	logger      *slog.Logger
	// onHostCall is Config.OnHostCall (nil: no tracing).
	onHostCall func(HostCallRecord)
	hashes     *hashgate.Gate
}

// errHostNotAllowed marks an http_do request or redirect to a host outside
// the plugin's allow-list.
var errHostNotAllowed = errors.New("host not allowed")

// hostMatcher checks host names against an allow-list of exact names and
// "*.domain" globs (any subdomain, not the apex), case-insensitively.
type hostMatcher struct {
	exact    map[string]bool
	suffixes []string
}

func newHostMatcher(patterns []string) hostMatcher {
	m := hostMatcher{exact: map[string]bool{}}
	for _, p := range patterns {
		p = strings.ToLower(strings.TrimSuffix(p, "."))
		if rest, ok := strings.CutPrefix(p, "*."); ok {
			m.suffixes = append(m.suffixes, "."+rest)
		} else {
			m.exact[p] = true
		}
	}
	return m
}

func (m hostMatcher) allows(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "" {
		return false
	}
	if m.exact[host] {
		return true
	}
	for _, s := range m.suffixes {
		if strings.HasSuffix(host, s) && len(host) > len(s) {
			return true
		}
	}
	return false
}

// newHostEnv builds the environment of plugin name; kv is nil without a
// store. hashes bounds the password host functions.
func newHostEnv(name string, pc PluginConfig, kv *kvSpace, hashes *hashgate.Gate, transport http.RoundTripper, logger *slog.Logger) *hostEnv {
	e := &hostEnv{
		name:    name,
		kv:      kv,
		limits:  pc.Limits,
		allowed: newHostMatcher(pc.AllowedHosts),
		logger:  logger,
		hashes:  hashes,
	}
	e.client = &http.Client{
		Transport: transport,
		Timeout:   pc.Limits.HTTPTimeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			if err := e.checkURL(req.URL); err != nil {
				return fmt.Errorf("redirect to %s: %w", req.URL.Redacted(), err)
			}
			return nil
		},
	}
	return e
}

func (e *hostEnv) checkURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme %q: %w", u.Scheme, errHostNotAllowed)
	}
	if !e.allowed.allows(u.Hostname()) {
		return fmt.Errorf("%w: %q is not in the allow-list of plugin %q", errHostNotAllowed, u.Hostname(), e.name)
	}
	return nil
}

// envSlot lets the host functions of a module compiled before the plugin's
// name is known (for describe) find their environment once it is set. Until
// then they answer with a failed envelope.
type envSlot struct{ env atomic.Pointer[hostEnv] }

func ok(data any) []byte {
	out, err := abi.Success(data)
	if err != nil {
		return abi.Failure(abi.Errorf(abi.CodeInternal, "%v", err))
	}
	return out
}

func fail(code abi.Code, format string, args ...any) []byte {
	return abi.Failure(abi.Errorf(code, format, args...))
}

// hostFuncs returns the authhost host functions bound to slot.
func hostFuncs(slot *envSlot, limits Limits) []engine.HostFunc {
	wrap := func(name string, fn func(e *hostEnv, ctx context.Context, in []byte) []byte) func(context.Context, []byte) []byte {
		return func(ctx context.Context, in []byte) (out []byte) {
			e := slot.env.Load()
			if e == nil {
				return fail(abi.CodeUnavailable, "%s is not available before the plugin is loaded", name)
			}
			start := time.Now()
			defer func() {
				if r := recover(); r != nil {
					e.logger.Error("host function panicked", "fn", name, "panic", r)
					out = fail(abi.CodeInternal, "%s: host error", name)
				}
				if e.onHostCall != nil {
					e.onHostCall(HostCallRecord{Plugin: e.name, Func: name, Input: in, Output: out, Duration: time.Since(start)})
				}
			}()
			return fn(e, ctx, in)
		}
	}
	kvMax := limits.MaxKVKeyBytes + limits.MaxKVValueBytes*4/3 + 1024
	return []engine.HostFunc{
		{Name: abi.HostKVGet, MaxInput: kvMax, Fn: wrap(abi.HostKVGet, (*hostEnv).kvGet)},
		{Name: abi.HostKVSet, MaxInput: kvMax, Fn: wrap(abi.HostKVSet, (*hostEnv).kvSet)},
		{Name: abi.HostKVDelete, MaxInput: kvMax, Fn: wrap(abi.HostKVDelete, (*hostEnv).kvDelete)},
		{Name: abi.HostKVCAS, MaxInput: kvMax + limits.MaxKVValueBytes*4/3, Fn: wrap(abi.HostKVCAS, (*hostEnv).kvCAS)},
		{Name: abi.HostPasswordHash, MaxInput: passwordMax, Fn: wrap(abi.HostPasswordHash, (*hostEnv).passwordHash)},
		{Name: abi.HostPasswordVerify, MaxInput: passwordMax, Fn: wrap(abi.HostPasswordVerify, (*hostEnv).passwordVerify)},
		{Name: abi.HostJWSVerify, MaxInput: jwsVerifyMax, Fn: wrap(abi.HostJWSVerify, (*hostEnv).jwsVerify)},
		{Name: abi.HostHTTPDo, MaxInput: int(limits.MaxHTTPBodyBytes*4/3) + 1<<20, Fn: wrap(abi.HostHTTPDo, (*hostEnv).httpDo)},
		{Name: abi.HostLog, MaxInput: 4*limits.MaxLogMessageBytes + 64<<10, Fn: wrap(abi.HostLog, (*hostEnv).log)},
	}
}

// passwordMax bounds a password_hash or password_verify request: a
// password of passhash.MaxPasswordBytes, JSON-escaped, plus a hash.
const passwordMax = 6*passhash.MaxPasswordBytes + 4096

func (e *hostEnv) checkKey(key string) []byte {
	switch {
	case key == "":
		return fail(abi.CodeInvalidRequest, "kv: key is empty")
	case len(key) > e.limits.MaxKVKeyBytes:
		return fail(abi.CodeInvalidRequest, "kv: key of %d bytes exceeds %d", len(key), e.limits.MaxKVKeyBytes)
	case e.kv == nil:
		return fail(abi.CodeUnavailable, "kv: no store configured")
	}
	return nil
}

func (e *hostEnv) kvGet(ctx context.Context, in []byte) []byte {
	var req abi.KVGetRequest
	if err := json.Unmarshal(in, &req); err != nil {
		return fail(abi.CodeInvalidRequest, "kv_get: %v", err)
	}
	if f := e.checkKey(req.Key); f != nil {
		return f
	}
	v, err := e.kv.get(ctx, req.Key)
	if errors.Is(err, store.ErrNotFound) {
		return ok(abi.KVGetResult{})
	}
	if err != nil {
		e.logger.Warn("kv_get failed", "err", err)
		return fail(abi.CodeUnavailable, "kv_get: store error")
	}
	return ok(abi.KVGetResult{Value: v, Found: true})
}

func (e *hostEnv) kvSet(ctx context.Context, in []byte) []byte {
	var req abi.KVSetRequest
	if err := json.Unmarshal(in, &req); err != nil {
		return fail(abi.CodeInvalidRequest, "kv_set: %v", err)
	}
	if f := e.checkKey(req.Key); f != nil {
		return f
	}
	if len(req.Value) > e.limits.MaxKVValueBytes {
		return fail(abi.CodeInvalidRequest, "kv_set: value of %d bytes exceeds %d", len(req.Value), e.limits.MaxKVValueBytes)
	}
	if req.TTLSeconds < 0 {
		return fail(abi.CodeInvalidRequest, "kv_set: ttl_seconds must not be negative")
	}
	err := e.kv.put(ctx, req.Key, req.Value, time.Duration(req.TTLSeconds)*time.Second)
	if errors.Is(err, errQuotaExceeded) {
		e.warnQuota(err)
		return fail(abi.CodeInvalidRequest, "kv_set: %v", err)
	}
	if err != nil {
		e.logger.Warn("kv_set failed", "err", err)
		return fail(abi.CodeUnavailable, "kv_set: store error")
	}
	return ok(nil)
}

func (e *hostEnv) kvCAS(ctx context.Context, in []byte) []byte {
	var req abi.KVCASRequest
	if err := json.Unmarshal(in, &req); err != nil {
		return fail(abi.CodeInvalidRequest, "kv_cas: %v", err)
	}
	if f := e.checkKey(req.Key); f != nil {
		return f
	}
	switch {
	case len(req.Value) > e.limits.MaxKVValueBytes:
		return fail(abi.CodeInvalidRequest, "kv_cas: value of %d bytes exceeds %d", len(req.Value), e.limits.MaxKVValueBytes)
	case req.TTLSeconds < 0:
		return fail(abi.CodeInvalidRequest, "kv_cas: ttl_seconds must not be negative")
	case req.Absent && req.Expected != nil:
		return fail(abi.CodeInvalidRequest, "kv_cas: absent and expected are exclusive")
	}
	var cond casCond
	if !req.Absent {
		cond.expected = req.Expected
		if cond.expected == nil {
			cond.expected = []byte{}
		}
	}
	res, err := e.kv.cas(ctx, req.Key, cond, req.Value, time.Duration(req.TTLSeconds)*time.Second)
	if errors.Is(err, errQuotaExceeded) {
		e.warnQuota(err)
		return fail(abi.CodeInvalidRequest, "kv_cas: %v", err)
	}
	if err != nil {
		e.logger.Warn("kv_cas failed", "err", err)
		return fail(abi.CodeUnavailable, "kv_cas: store error")
	}
	return ok(res)
}

// warnQuota logs a write refused by the KV quota, at most once a minute.
func (e *hostEnv) warnQuota(err error) {
	if now := time.Now().UnixNano(); now-e.quotaWarned.Load() >= int64(time.Minute) {
		e.quotaWarned.Store(now)
		e.logger.Warn("plugin kv quota exceeded", "err", err)
	}
}

// hashing runs fn holding a slot of the host-wide hash gate (or the slot
// the calling provider call already holds); a refusal is rate_limited.
func (e *hostEnv) hashing(ctx context.Context, fn string, call func() []byte) []byte {
	release, err := e.hashes.Acquire(ctx)
	if err != nil {
		return fail(abi.CodeRateLimited, "%s: too many password hashes in progress", fn)
	}
	defer release()
	return call()
}

func (e *hostEnv) passwordHash(ctx context.Context, in []byte) []byte {
	var req abi.PasswordHashRequest
	if err := json.Unmarshal(in, &req); err != nil {
		return fail(abi.CodeInvalidRequest, "password_hash: %v", err)
	}
	return e.hashing(ctx, abi.HostPasswordHash, func() []byte {
		h, err := passhash.Hash(req)
		if errors.Is(err, passhash.ErrInvalid) {
			return fail(abi.CodeInvalidRequest, "password_hash: %v", err)
		}
		if err != nil {
			e.logger.Warn("password_hash failed", "err", err)
			return fail(abi.CodeInternal, "password_hash: host error")
		}
		return ok(abi.PasswordHashResult{Hash: h})
	})
}

func (e *hostEnv) passwordVerify(ctx context.Context, in []byte) []byte {
	var req abi.PasswordVerifyRequest
	if err := json.Unmarshal(in, &req); err != nil {
		return fail(abi.CodeInvalidRequest, "password_verify: %v", err)
	}
	if err := passhash.Check(req.Hash); err != nil {
		return fail(abi.CodeInvalidRequest, "password_verify: %v", err)
	}
	return e.hashing(ctx, abi.HostPasswordVerify, func() []byte {
		match, err := passhash.Verify(req.Hash, req.Password)
		if err != nil {
			return fail(abi.CodeInvalidRequest, "password_verify: %v", err)
		}
		return ok(abi.PasswordVerifyResult{Match: match})
	})
}

func (e *hostEnv) kvDelete(ctx context.Context, in []byte) []byte {
	var req abi.KVDeleteRequest
	if err := json.Unmarshal(in, &req); err != nil {
		return fail(abi.CodeInvalidRequest, "kv_delete: %v", err)
	}
	if f := e.checkKey(req.Key); f != nil {
		return f
	}
	if err := e.kv.delete(ctx, req.Key); err != nil {
		e.logger.Warn("kv_delete failed", "err", err)
		return fail(abi.CodeUnavailable, "kv_delete: store error")
	}
	return ok(nil)
}

// httpDeadlineMargin is the most time http_do leaves a plugin, between
// giving up on an upstream and the call's deadline, to return its error.
const httpDeadlineMargin = 500 * time.Millisecond

func (e *hostEnv) httpDo(ctx context.Context, in []byte) []byte {
	var req abi.HTTPRequest
	if err := json.Unmarshal(in, &req); err != nil {
		return fail(abi.CodeInvalidRequest, "http_do: %v", err)
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		return fail(abi.CodeInvalidRequest, "http_do: url: %v", err)
	}
	if err := e.checkURL(u); err != nil {
		return fail(abi.CodeForbidden, "http_do: %v", err)
	}
	max := e.limits.MaxHTTPBodyBytes
	if int64(len(req.Body)) > max {
		return fail(abi.CodeInvalidRequest, "http_do: request body of %d bytes exceeds %d", len(req.Body), max)
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	// Give up on the upstream shortly before the call's own deadline, so a
	// hung server becomes an "unavailable" error the plugin can return
	// instead of a call the deadline has to kill (and an instance lost).
	if dl, ok := ctx.Deadline(); ok {
		margin := min(time.Until(dl)/4, httpDeadlineMargin) // a loaded box needs room to unwind
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-margin))
		defer cancel()
	}
	hreq, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(req.Body))
	if err != nil {
		return fail(abi.CodeInvalidRequest, "http_do: %v", err)
	}
	for k, vs := range req.Headers {
		for _, v := range vs {
			hreq.Header.Add(k, v)
		}
	}
	resp, err := e.client.Do(hreq)
	if err != nil {
		if errors.Is(err, errHostNotAllowed) {
			return fail(abi.CodeForbidden, "http_do: %v", err)
		}
		if f := e.refused(u, err); f != nil {
			return f
		}
		if ctx.Err() != nil {
			return fail(abi.CodeUnavailable, "http_do: %s %s: no answer before the plugin call's deadline", method, u.Redacted())
		}
		return fail(abi.CodeUnavailable, "http_do: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return fail(abi.CodeUnavailable, "http_do: read response: %v", err)
	}
	if int64(len(body)) > max {
		return fail(abi.CodeUnavailable, "http_do: response body exceeds %d bytes", max)
	}
	return ok(abi.HTTPResponse{Status: resp.StatusCode, Headers: resp.Header, Body: body})
}

// refused turns a connection the egress guard refused into a forbidden
// envelope naming the address class, and logs it; nil for other errors.
func (e *hostEnv) refused(reqURL *url.URL, err error) []byte {
	var be *egress.BlockedError
	if !errors.As(err, &be) {
		return nil
	}
	target := reqURL.Redacted()
	if ue, ok := errors.AsType[*url.Error](err); ok {
		target = ue.URL // the redirect that was refused, if any
	}
	e.logger.Warn("http_do refused a non-public address", "url", target, "host", be.Host,
		"addr", be.Addr.String(), "class", string(be.Class))
	return fail(abi.CodeForbidden, "http_do: %s: %v: private networks are not allowed for this plugin", target, be)
}

func (e *hostEnv) log(ctx context.Context, in []byte) []byte {
	var req abi.LogRequest
	if err := json.Unmarshal(in, &req); err != nil {
		return fail(abi.CodeInvalidRequest, "log: %v", err)
	}
	var level slog.Level
	switch strings.ToLower(req.Level) {
	case "debug", "trace":
		level = slog.LevelDebug
	case "", "info":
		level = slog.LevelInfo
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return fail(abi.CodeInvalidRequest, "log: unknown level %q", req.Level)
	}
	msg := req.Message
	if max := e.limits.MaxLogMessageBytes; len(msg) > max {
		msg = msg[:max] + "…(truncated)"
	}
	const maxAttrs = 32
	attrs := make([]any, 0, 2*min(len(req.Attrs), maxAttrs)+2)
	for i, k := range slices.Sorted(maps.Keys(req.Attrs)) {
		if i == maxAttrs {
			attrs = append(attrs, slog.Int("attrs_dropped", len(req.Attrs)-maxAttrs))
			break
		}
		attrs = append(attrs, slog.Any("guest."+k, req.Attrs[k]))
	}
	e.logger.Log(context.WithoutCancel(ctx), level, msg, attrs...)
	return ok(nil)
}
