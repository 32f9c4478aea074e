// Package wire is the JSON codec of the Go PDK: export inputs, results and
// envelopes, and host-function requests and envelopes all go through
// Marshal and Unmarshal. It keeps encoding/json's (v1) semantics a provider
// author relies on (case-insensitive field names, nil slices and maps as
// null, omitempty as in v1, unknown fields ignored, duplicate names and
// invalid UTF-8 accepted), and differs from encoding/json only where
// nothing depends on it:
//
//   - Map keys are written in no particular order (v1 sorts them). Every
//     reader of the PDK's output parses it; sorting cost a JSON echo ~8 %
//     of its guest time.
//   - Invalid UTF-8 in a string is written as U+FFFD itself, not as its
//     escape \ufffd (the same JSON value).
//   - Error texts differ, and a malformed or mistyped document is rejected
//     at its first error instead of after a validating pre-scan of the
//     whole input (v1's order of errors cost ~13 % of a decode).
//
// Built with GOEXPERIMENT=jsonv2 (as authhost builds providers:
// internal/wasmenv), Marshal and Unmarshal call encoding/json/v2 with these
// options (json_v2.go); a plain build uses encoding/json and keeps its
// sorted keys and error texts (json_v1.go). TestSameAsV1 checks both
// against encoding/json on the ABI's types and on tricky inputs.
package wire

import "github.com/authhost/authhost/abi"

// Success encodes data with Marshal as a successful envelope (abi.Success's
// framing).
func Success(data any) ([]byte, error) { return abi.SuccessWith(Marshal, data) }

// Decode reads a host envelope with Unmarshal, as abi.Decode does: a failed
// envelope is returned as *abi.Error, a successful one's data is decoded
// into out (which may be nil).
func Decode(raw []byte, out any) error { return abi.DecodeWith(Unmarshal, raw, out) }
