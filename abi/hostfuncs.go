package abi

import "encoding/json"

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

	// Added in ABI 1.2; a host that lacks them makes the import fail to
	// link, so a provider using them requires an ABI 1.2 host.
	HostKVCAS          = "kv_cas"
	HostPasswordHash   = "password_hash"
	HostPasswordVerify = "password_verify"
	HostJWSVerify      = "jws_verify"
)

// KVCASRequest is the input of kv_cas: set Key to Value only if its
// current state matches, atomically in the store. With Absent the key must
// not exist (create-only); otherwise it must exist and hold exactly
// Expected (byte for byte; an empty Expected matches an empty value).
// TTLSeconds is as for kv_set, and the write counts against the KV quota
// like one.
type KVCASRequest struct {
	Key        string `json:"key"`
	Value      []byte `json:"value"` // base64 in JSON
	Absent     bool   `json:"absent,omitempty"`
	Expected   []byte `json:"expected,omitempty"` // base64 in JSON
	TTLSeconds int64  `json:"ttl_seconds,omitempty"`
}

// KVCASResult is the output of kv_cas. Swapped reports whether Value was
// written; Found whether the key existed when compared, and when the swap
// failed Current is its value then, so the caller can decide whether to
// retry.
type KVCASResult struct {
	Swapped bool   `json:"swapped"`
	Found   bool   `json:"found"`
	Current []byte `json:"current,omitempty"` // base64 in JSON; only when not swapped
}

// Password hashing algorithms of password_hash.
const (
	HashArgon2id = "argon2id"
	HashBcrypt   = "bcrypt"
)

// PasswordHashRequest is the input of password_hash. Algorithm defaults
// to argon2id; zero parameters take the defaults of package
// abi/passhash (argon2id m=19456 KiB, t=2, p=1; bcrypt cost 10). Values
// outside the bounds of abi/passhash are refused with invalid_request.
type PasswordHashRequest struct {
	Password  string `json:"password"`
	Algorithm string `json:"algorithm,omitempty"`
	// Argon2id parameters.
	MemoryKiB uint32 `json:"memory_kib,omitempty"`
	Time      uint32 `json:"time,omitempty"`
	Threads   uint8  `json:"threads,omitempty"`
	// Bcrypt cost.
	Cost int `json:"cost,omitempty"`
}

// PasswordHashResult is the output of password_hash: a PHC string
// ($argon2id$v=19$m=…,t=…,p=…$salt$key) or a bcrypt hash ($2a$…).
type PasswordHashResult struct {
	Hash string `json:"hash"`
}

// PasswordVerifyRequest is the input of password_verify. Hash is an
// argon2id PHC string or a bcrypt hash within the bounds of abi/passhash.
type PasswordVerifyRequest struct {
	Password string `json:"password"`
	Hash     string `json:"hash"`
}

// PasswordVerifyResult is the output of password_verify. A wrong password
// is Match false, not an error; a malformed or out-of-bounds hash is
// invalid_request. The comparison takes constant time.
type PasswordVerifyResult struct {
	Match bool `json:"match"`
}

// JWSVerifyRequest is the input of jws_verify: a compact JWS, the key set
// to check it with (a JWKS document, {"keys": [...]}) and the algorithms
// allowed (empty: every asymmetric algorithm the host implements; "none"
// and HMAC never verify). Bounds and reasons are those of package
// abi/jws.
type JWSVerifyRequest struct {
	JWS        string          `json:"jws"`
	JWKS       json.RawMessage `json:"jwks"`
	Algorithms []string        `json:"algorithms,omitempty"`
}

// JWSVerifyResult is the output of jws_verify. A token that does not
// verify is Verified false with a Reason (abi/jws.Reason*) and a Message,
// not an error; Alg and Kid echo its header when it could be read. A
// verified token has its decoded Payload.
type JWSVerifyResult struct {
	Verified bool   `json:"verified"`
	Alg      string `json:"alg,omitempty"`
	Kid      string `json:"kid,omitempty"`
	Payload  []byte `json:"payload,omitempty"` // base64 in JSON
	Reason   string `json:"reason,omitempty"`
	Message  string `json:"message,omitempty"`
}

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
