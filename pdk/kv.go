package pdk

import (
	"fmt"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk/wire"
)

// KVStore is the plugin's private key-value store, kept by the host (in its
// storage backend, namespaced per plugin) so it survives instance
// replacement, hot reload and restarts. Keys are at most
// abi.DefaultMaxKVKeyBytes and values at most abi.DefaultMaxKVValueBytes
// unless the operator changed the limits; a larger key or value fails with
// invalid_request.
type KVStore struct{}

// KV is the plugin's key-value store.
var KV KVStore

// Get returns the value of key and whether it exists (a missing or expired
// key is (nil, false, nil)).
func (KVStore) Get(key string) ([]byte, bool, error) {
	if key == "" {
		return nil, false, abi.Errorf(abi.CodeInvalidRequest, "kv: empty key")
	}
	var res abi.KVGetResult
	if err := callHost(abi.HostKVGet, abi.KVGetRequest{Key: key}, &res); err != nil {
		return nil, false, err
	}
	if !res.Found {
		return nil, false, nil
	}
	if res.Value == nil {
		res.Value = []byte{}
	}
	return res.Value, true, nil
}

// Set stores value under key. A positive ttl expires the key after ttl
// (rounded up to whole seconds); 0 keeps it until deleted.
func (KVStore) Set(key string, value []byte, ttl time.Duration) error {
	if key == "" {
		return abi.Errorf(abi.CodeInvalidRequest, "kv: empty key")
	}
	if ttl < 0 {
		return abi.Errorf(abi.CodeInvalidRequest, "kv: negative ttl %s", ttl)
	}
	secs := int64((ttl + time.Second - 1) / time.Second)
	if value == nil {
		value = []byte{}
	}
	return callHost(abi.HostKVSet, abi.KVSetRequest{Key: key, Value: value, TTLSeconds: secs}, nil)
}

// Delete removes key; deleting a missing key is not an error.
func (KVStore) Delete(key string) error {
	if key == "" {
		return abi.Errorf(abi.CodeInvalidRequest, "kv: empty key")
	}
	return callHost(abi.HostKVDelete, abi.KVDeleteRequest{Key: key}, nil)
}

// GetJSON decodes the JSON value of key into v and reports whether it
// exists.
func (kv KVStore) GetJSON(key string, v any) (bool, error) {
	raw, ok, err := kv.Get(key)
	if err != nil || !ok {
		return false, err
	}
	if err := wire.Unmarshal(raw, v); err != nil {
		return true, abi.Errorf(abi.CodeInternal, "kv %q: %v", key, err)
	}
	return true, nil
}

// SetJSON stores v as JSON under key (see Set for ttl).
func (kv KVStore) SetJSON(key string, v any, ttl time.Duration) error {
	raw, err := wire.Marshal(v)
	if err != nil {
		return fmt.Errorf("kv %q: encode: %w", key, err)
	}
	return kv.Set(key, raw, ttl)
}
