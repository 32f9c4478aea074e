// Package pdktest runs authhost providers natively, outside the Wasm
// sandbox, for unit tests. An Env installs in-memory stand-ins for every
// host function (kv_get/kv_set/kv_delete/kv_cas with TTL, password_hash,
// password_verify and jws_verify natively, http_do over any
// http.RoundTripper, log into a slice), hands the provider a configuration
// document, and calls exports through the same code path as the sandbox
// (JSON in, envelope out).
//
// The stand-ins are process-wide, as the host functions are inside the
// sandbox: tests that use an Env must not run in parallel with each other.
package pdktest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/abi/jws"
	"github.com/authhost/authhost/abi/passhash"
	"github.com/authhost/authhost/pdk"
	"github.com/authhost/authhost/pdk/internal/hostcall"
)

// LogRecord is one record the provider logged.
type LogRecord = abi.LogRequest

// Env is a stand-in host for one test.
type Env struct {
	tb       testing.TB
	provider *pdk.Provider

	mu        sync.Mutex
	config    []byte
	kv        map[string]kvEntry
	transport http.RoundTripper
	logs      []LogRecord
	now       func() time.Time
	failures  map[string]*abi.Error
}

type kvEntry struct {
	value   []byte
	expires time.Time // zero: never
}

// Option configures an Env.
type Option func(*Env)

// WithProvider serves p instead of the provider registered with pdk.Register.
func WithProvider(p *pdk.Provider) Option { return func(e *Env) { e.provider = p } }

// WithConfig sets the configuration document (see Env.SetConfig).
func WithConfig(v any) Option { return func(e *Env) { e.SetConfig(v) } }

// WithTransport makes http_do use rt (see Env.SetTransport).
func WithTransport(rt http.RoundTripper) Option { return func(e *Env) { e.SetTransport(rt) } }

// New installs a fresh Env as the host until the test ends. Without
// WithProvider it serves the registered provider (package main's init has
// run by the time a test runs).
func New(tb testing.TB, opts ...Option) *Env {
	tb.Helper()
	e := &Env{tb: tb, kv: map[string]kvEntry{}, now: time.Now, failures: map[string]*abi.Error{}}
	for _, o := range opts {
		o(e)
	}
	if e.provider == nil {
		e.provider = pdk.Registered()
	}
	if e.provider == nil {
		tb.Fatal("pdktest: no provider: call pdk.Register in init or pass WithProvider")
	}
	if err := e.provider.Validate(); err != nil {
		tb.Fatalf("pdktest: %v", err)
	}
	restore := hostcall.Set(host{e})
	tb.Cleanup(restore)
	return e
}

// Provider returns the provider the Env serves.
func (e *Env) Provider() *pdk.Provider { return e.provider }

// SetConfig sets the `config` document: a string, []byte or
// json.RawMessage is used verbatim; anything else is encoded as JSON; nil
// removes it (the provider then sees {}).
func (e *Env) SetConfig(v any) {
	var raw []byte
	switch x := v.(type) {
	case nil:
	case string:
		raw = []byte(x)
	case []byte:
		raw = x
	case json.RawMessage:
		raw = x
	default:
		b, err := json.Marshal(v)
		if err != nil {
			e.tb.Fatalf("pdktest: encode config: %v", err)
		}
		raw = b
	}
	e.mu.Lock()
	e.config = raw
	e.mu.Unlock()
}

// SetTransport makes http_do send requests through rt (for example an
// httptest.Server's Client().Transport). Without one, http_do fails with
// code unavailable.
func (e *Env) SetTransport(rt http.RoundTripper) {
	e.mu.Lock()
	e.transport = rt
	e.mu.Unlock()
}

// SetClock replaces the clock used for KV expiry.
func (e *Env) SetClock(now func() time.Time) {
	e.mu.Lock()
	e.now = now
	e.mu.Unlock()
}

// FailHost makes every call of host function fn (an abi.Host* name) fail
// with err, until FailHost(fn, nil).
func (e *Env) FailHost(fn string, err *abi.Error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err == nil {
		delete(e.failures, fn)
		return
	}
	e.failures[fn] = err
}

// KV returns a copy of the live (unexpired) KV contents.
func (e *Env) KV() map[string][]byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string][]byte{}
	now := e.now()
	for k, v := range e.kv {
		if v.expires.IsZero() || now.Before(v.expires) {
			out[k] = append([]byte(nil), v.value...)
		}
	}
	return out
}

// Logs returns the records logged so far.
func (e *Env) Logs() []LogRecord {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]LogRecord(nil), e.logs...)
}

// Call runs export with input (bytes/string/json.RawMessage verbatim,
// anything else JSON-encoded, nil as empty input) and returns its raw output.
func (e *Env) Call(export string, input any) []byte {
	e.tb.Helper()
	var in []byte
	switch x := input.(type) {
	case nil:
	case []byte:
		in = x
	case string:
		in = []byte(x)
	case json.RawMessage:
		in = x
	default:
		b, err := json.Marshal(input)
		if err != nil {
			e.tb.Fatalf("pdktest: encode %s input: %v", export, err)
		}
		in = b
	}
	return e.provider.Call(export, in)
}

// Invoke runs export and decodes its envelope: the data into out (may be
// nil); a failed envelope is returned as *abi.Error. Output that is not a
// valid envelope fails the test.
func (e *Env) Invoke(export string, input, out any) error {
	e.tb.Helper()
	raw := e.Call(export, input)
	var env abi.Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		e.tb.Fatalf("pdktest: %s returned a malformed envelope %q: %v", export, raw, err)
	}
	if !env.OK && (env.Error == nil || !env.Error.Code.Valid()) {
		e.tb.Fatalf("pdktest: %s returned a failed envelope without a valid code: %s", export, raw)
	}
	return abi.Decode(raw, out)
}

// Describe calls authhost_describe and checks the answer the way the host
// does: ABI version compatible, capabilities valid.
func (e *Env) Describe() abi.Describe {
	e.tb.Helper()
	raw := e.Call(abi.ExportDescribe, nil)
	var d abi.Describe
	if err := json.Unmarshal(raw, &d); err != nil {
		e.tb.Fatalf("pdktest: describe: %v (%s)", err, raw)
	}
	if err := abi.CheckCompatible(d.ABI); err != nil {
		e.tb.Fatalf("pdktest: describe: %v", err)
	}
	for _, c := range d.Capabilities {
		if !c.Valid() {
			e.tb.Fatalf("pdktest: describe: unknown capability %q", c)
		}
	}
	return d
}

// host adapts an Env to hostcall.Host, speaking the same JSON as the real
// host functions.
type host struct{ e *Env }

func (h host) Config() ([]byte, bool) {
	h.e.mu.Lock()
	defer h.e.mu.Unlock()
	return h.e.config, h.e.config != nil
}

func (h host) Call(fn string, req []byte) []byte {
	h.e.mu.Lock()
	ferr := h.e.failures[fn]
	h.e.mu.Unlock()
	if ferr != nil {
		return abi.Failure(ferr)
	}
	var data any
	var err error
	switch fn {
	case abi.HostKVGet:
		data, err = h.kvGet(req)
	case abi.HostKVSet:
		data, err = h.kvSet(req)
	case abi.HostKVDelete:
		data, err = h.kvDelete(req)
	case abi.HostHTTPDo:
		data, err = h.httpDo(req)
	case abi.HostLog:
		data, err = h.log(req)
	case abi.HostKVCAS:
		data, err = h.kvCAS(req)
	case abi.HostPasswordHash:
		data, err = passwordHash(req)
	case abi.HostPasswordVerify:
		data, err = passwordVerify(req)
	case abi.HostJWSVerify:
		data, err = jwsVerify(req)
	default:
		err = abi.Errorf(abi.CodeNotSupported, "unknown host function %q", fn)
	}
	if err != nil {
		return abi.Failure(err)
	}
	out, err := abi.Success(data)
	if err != nil {
		return abi.Failure(err)
	}
	return out
}

func decodeReq(fn string, raw []byte, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return abi.Errorf(abi.CodeInvalidRequest, "%s: malformed request: %v", fn, err)
	}
	return nil
}

func checkKey(key string) error {
	if key == "" || len(key) > abi.DefaultMaxKVKeyBytes {
		return abi.Errorf(abi.CodeInvalidRequest, "kv: key must be 1..%d bytes", abi.DefaultMaxKVKeyBytes)
	}
	return nil
}

func (h host) kvGet(raw []byte) (any, error) {
	var r abi.KVGetRequest
	if err := decodeReq(abi.HostKVGet, raw, &r); err != nil {
		return nil, err
	}
	if err := checkKey(r.Key); err != nil {
		return nil, err
	}
	h.e.mu.Lock()
	defer h.e.mu.Unlock()
	v, ok := h.e.kv[r.Key]
	if !ok || (!v.expires.IsZero() && !h.e.now().Before(v.expires)) {
		delete(h.e.kv, r.Key)
		return abi.KVGetResult{}, nil
	}
	return abi.KVGetResult{Value: v.value, Found: true}, nil
}

func (h host) kvSet(raw []byte) (any, error) {
	var r abi.KVSetRequest
	if err := decodeReq(abi.HostKVSet, raw, &r); err != nil {
		return nil, err
	}
	if err := checkKey(r.Key); err != nil {
		return nil, err
	}
	if len(r.Value) > abi.DefaultMaxKVValueBytes {
		return nil, abi.Errorf(abi.CodeInvalidRequest, "kv: value of %d bytes exceeds %d", len(r.Value), abi.DefaultMaxKVValueBytes)
	}
	if r.TTLSeconds < 0 {
		return nil, abi.Errorf(abi.CodeInvalidRequest, "kv: negative ttl_seconds")
	}
	h.e.mu.Lock()
	defer h.e.mu.Unlock()
	ent := kvEntry{value: append([]byte(nil), r.Value...)}
	if r.TTLSeconds > 0 {
		ent.expires = h.e.now().Add(time.Duration(r.TTLSeconds) * time.Second)
	}
	h.e.kv[r.Key] = ent
	return abi.Empty{}, nil
}

func (h host) kvCAS(raw []byte) (any, error) {
	var r abi.KVCASRequest
	if err := decodeReq(abi.HostKVCAS, raw, &r); err != nil {
		return nil, err
	}
	if err := checkKey(r.Key); err != nil {
		return nil, err
	}
	switch {
	case len(r.Value) > abi.DefaultMaxKVValueBytes:
		return nil, abi.Errorf(abi.CodeInvalidRequest, "kv: value of %d bytes exceeds %d", len(r.Value), abi.DefaultMaxKVValueBytes)
	case r.TTLSeconds < 0:
		return nil, abi.Errorf(abi.CodeInvalidRequest, "kv: negative ttl_seconds")
	case r.Absent && r.Expected != nil:
		return nil, abi.Errorf(abi.CodeInvalidRequest, "kv_cas: absent and expected are exclusive")
	}
	h.e.mu.Lock()
	defer h.e.mu.Unlock()
	cur, found := h.e.kv[r.Key]
	if found && !cur.expires.IsZero() && !h.e.now().Before(cur.expires) {
		found = false
	}
	if found == r.Absent || found && !bytes.Equal(cur.value, r.Expected) {
		res := abi.KVCASResult{Found: found}
		if found {
			res.Current = bytes.Clone(cur.value)
		}
		return res, nil
	}
	ent := kvEntry{value: append([]byte(nil), r.Value...)}
	if r.TTLSeconds > 0 {
		ent.expires = h.e.now().Add(time.Duration(r.TTLSeconds) * time.Second)
	}
	h.e.kv[r.Key] = ent
	return abi.KVCASResult{Swapped: true, Found: found}, nil
}

// passwordHash and passwordVerify run the host's own implementation
// (abi/passhash), without the host-wide hash gate.
func passwordHash(raw []byte) (any, error) {
	var r abi.PasswordHashRequest
	if err := decodeReq(abi.HostPasswordHash, raw, &r); err != nil {
		return nil, err
	}
	h, err := passhash.Hash(r)
	if err != nil {
		return nil, abi.Errorf(abi.CodeInvalidRequest, "password_hash: %v", err)
	}
	return abi.PasswordHashResult{Hash: h}, nil
}

func passwordVerify(raw []byte) (any, error) {
	var r abi.PasswordVerifyRequest
	if err := decodeReq(abi.HostPasswordVerify, raw, &r); err != nil {
		return nil, err
	}
	match, err := passhash.Verify(r.Hash, r.Password)
	if err != nil {
		return nil, abi.Errorf(abi.CodeInvalidRequest, "password_verify: %v", err)
	}
	return abi.PasswordVerifyResult{Match: match}, nil
}

// jwsVerify runs the host's own implementation (abi/jws).
func jwsVerify(raw []byte) (any, error) {
	var r abi.JWSVerifyRequest
	if err := decodeReq(abi.HostJWSVerify, raw, &r); err != nil {
		return nil, err
	}
	return jws.Serve(r)
}

func (h host) kvDelete(raw []byte) (any, error) {
	var r abi.KVDeleteRequest
	if err := decodeReq(abi.HostKVDelete, raw, &r); err != nil {
		return nil, err
	}
	if err := checkKey(r.Key); err != nil {
		return nil, err
	}
	h.e.mu.Lock()
	delete(h.e.kv, r.Key)
	h.e.mu.Unlock()
	return abi.Empty{}, nil
}

func (h host) log(raw []byte) (any, error) {
	var r abi.LogRequest
	if err := decodeReq(abi.HostLog, raw, &r); err != nil {
		return nil, err
	}
	switch r.Level {
	case "debug", "info", "warn", "error":
	default:
		return nil, abi.Errorf(abi.CodeInvalidRequest, "log: unknown level %q", r.Level)
	}
	h.e.mu.Lock()
	h.e.logs = append(h.e.logs, r)
	h.e.mu.Unlock()
	return abi.Empty{}, nil
}

func (h host) httpDo(raw []byte) (any, error) {
	var r abi.HTTPRequest
	if err := decodeReq(abi.HostHTTPDo, raw, &r); err != nil {
		return nil, err
	}
	h.e.mu.Lock()
	rt := h.e.transport
	h.e.mu.Unlock()
	if rt == nil {
		return nil, abi.Errorf(abi.CodeUnavailable, "http_do %s %s: no transport configured (pdktest.Env.SetTransport)", r.Method, r.URL)
	}
	req, err := http.NewRequest(r.Method, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return nil, abi.Errorf(abi.CodeInvalidRequest, "http_do: %v", err)
	}
	for k, vs := range r.Headers {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return nil, abi.Errorf(abi.CodeUnavailable, "http_do %s %s: %v", r.Method, r.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, abi.DefaultMaxHTTPBodyBytes+1))
	if err != nil {
		return nil, abi.Errorf(abi.CodeUnavailable, "http_do %s %s: read body: %v", r.Method, r.URL, err)
	}
	if len(body) > abi.DefaultMaxHTTPBodyBytes {
		return nil, abi.Errorf(abi.CodeUnavailable, "http_do %s %s: response body exceeds %d bytes", r.Method, r.URL, abi.DefaultMaxHTTPBodyBytes)
	}
	hdr := make(map[string][]string, len(resp.Header))
	for k, vs := range resp.Header {
		hdr[http.CanonicalHeaderKey(k)] = vs
	}
	return abi.HTTPResponse{Status: resp.StatusCode, Headers: hdr, Body: body}, nil
}
