package abi

// HostNamespace is the Wasm import module of every authhost host function.
const HostNamespace = "authhost"

// Host function names. Each takes one Extism memory offset holding a JSON
// request and returns one offset holding a JSON Envelope.
const (
	HostKVGet    = "kv_get"
	HostKVSet    = "kv_set"
	HostKVDelete = "kv_delete"
	HostHTTPDo   = "http_do"
	HostLog      = "log"
)

// KVGetRequest is the input of kv_get.
type KVGetRequest struct {
	Key string `json:"key"`
}

// KVGetResult is the output of kv_get; Found is false for a missing or
// expired key.
type KVGetResult struct {
	Value []byte `json:"value,omitempty"` // base64 in JSON
	Found bool   `json:"found"`
}

// KVSetRequest is the input of kv_set. TTLSeconds 0 keeps the value until
// deleted.
type KVSetRequest struct {
	Key        string `json:"key"`
	Value      []byte `json:"value"`
	TTLSeconds int64  `json:"ttl_seconds,omitempty"`
}

// KVDeleteRequest is the input of kv_delete.
type KVDeleteRequest struct {
	Key string `json:"key"`
}

// HTTPRequest is the input of http_do.
type HTTPRequest struct {
	Method  string              `json:"method"`
	URL     string              `json:"url"`
	Headers map[string][]string `json:"headers,omitempty"`
	Body    []byte              `json:"body,omitempty"` // base64 in JSON
}

// HTTPResponse is the output of http_do. Transport failures (refused,
// timeout, host not allowed, body too large) are failed envelopes with code
// unavailable or forbidden, never traps.
type HTTPResponse struct {
	Status  int                 `json:"status"`
	Headers map[string][]string `json:"headers,omitempty"`
	Body    []byte              `json:"body,omitempty"` // base64 in JSON
}

// LogRequest is the input of log. Level is debug, info, warn or error.
type LogRequest struct {
	Level   string         `json:"level"`
	Message string         `json:"message"`
	Attrs   map[string]any `json:"attrs,omitempty"`
}

// Default limits of ABI v1; an operator may lower or raise them per plugin.
const (
	DefaultMaxMemoryMiB       = 64
	DefaultCallTimeoutMS      = 5000
	DefaultMaxInputBytes      = 1 << 20
	DefaultMaxOutputBytes     = 1 << 20
	DefaultMaxHTTPBodyBytes   = 4 << 20
	DefaultHTTPTimeoutMS      = 10000
	DefaultMaxKVKeyBytes      = 512
	DefaultMaxKVValueBytes    = 256 << 10
	DefaultMaxLogMessageBytes = 8 << 10
)
