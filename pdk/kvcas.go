package pdk

import (
	"time"

	"github.com/authhost/authhost/abi"
)

// Create stores value under key only if key does not exist (or has
// expired), atomically in the host's store, and reports whether it did.
// Of several concurrent Creates of one key, across instances and
// replicas, exactly one returns true. See Set for ttl.
func (KVStore) Create(key string, value []byte, ttl time.Duration) (bool, error) {
	res, err := kvCAS(abi.KVCASRequest{Key: key, Value: value, Absent: true}, ttl)
	return res.Swapped, err
}

// CompareAndSwap stores value under key only if key exists and holds
// exactly expected, atomically in the host's store. It reports whether it
// did and, when it did not, the current value (nil when key is absent), so
// the caller can retry. See Set for ttl.
func (KVStore) CompareAndSwap(key string, expected, value []byte, ttl time.Duration) (swapped bool, current []byte, err error) {
	if expected == nil {
		expected = []byte{}
	}
	res, err := kvCAS(abi.KVCASRequest{Key: key, Value: value, Expected: expected}, ttl)
	if err != nil || res.Swapped || !res.Found {
		return res.Swapped, nil, err
	}
	if res.Current == nil {
		res.Current = []byte{}
	}
	return false, res.Current, nil
}

func kvCAS(req abi.KVCASRequest, ttl time.Duration) (abi.KVCASResult, error) {
	var res abi.KVCASResult
	if req.Key == "" {
		return res, abi.Errorf(abi.CodeInvalidRequest, "kv: empty key")
	}
	if ttl < 0 {
		return res, abi.Errorf(abi.CodeInvalidRequest, "kv: negative ttl %s", ttl)
	}
	req.TTLSeconds = int64((ttl + time.Second - 1) / time.Second)
	if req.Value == nil {
		req.Value = []byte{}
	}
	err := callHost(abi.HostKVCAS, req, &res)
	return res, err
}
