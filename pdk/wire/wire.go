// Package wire is the JSON codec of the Go PDK: export inputs, results and
// envelopes, and host-function requests and envelopes all go through
// Marshal and Unmarshal.
//
// Unmarshal keeps encoding/json's (v1) semantics a provider author relies
// on (case-insensitive field names, null leaving a value as it was,
// unknown fields ignored, duplicate names and invalid UTF-8 accepted,
// loose RFC 3339 times) and differs only in how it fails: a malformed or
// mistyped document is rejected at its first error, with v2's error texts
// and types, instead of after a validating pre-scan of the whole input and
// with v1's *json.SyntaxError or *json.UnmarshalTypeError. That pre-scan
// was ~13 % of a decode in the guest. Built with GOEXPERIMENT=jsonv2 (as
// authhost builds providers: internal/wasmenv), Unmarshal calls
// encoding/json/v2 with those options (json_v2.go); a plain build uses
// encoding/json (json_v1.go).
//
// Marshal is encoding/json's, map keys sorted: the same input gives the
// same output bytes, which the host's differential and snapshot tests
// compare (and anything that hashes a provider's answer may rely on).
// Unsorted keys would save ~8 % of a small JSON echo's guest time; the v1
// options that remain (HTML escaping, legacy omitempty, nil slices and
// maps as null) cost nothing measurable.
//
// TestSameAsV1 checks both paths against v1's results on the ABI's types
// and on tricky inputs.
package wire

import (
	"encoding/json"

	"github.com/authhost/authhost/abi"
)

// Marshal returns the JSON encoding of v: encoding/json's.
func Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Success encodes data with Marshal as a successful envelope (abi.Success's
// framing).
func Success(data any) ([]byte, error) { return abi.SuccessWith(Marshal, data) }

// Decode reads a host envelope with Unmarshal, as abi.Decode does: a failed
// envelope is returned as *abi.Error, a successful one's data is decoded
// into out (which may be nil).
func Decode(raw []byte, out any) error { return abi.DecodeWith(Unmarshal, raw, out) }
