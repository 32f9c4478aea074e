//go:build goexperiment.jsonv2

package wire

import (
	jsonv1 "encoding/json"
	jsonv2 "encoding/json/v2"
)

// decodeOptions are v1's options without v1's error reporting, whose
// validating pre-scan of the whole input is most of what v1's semantics
// cost on a decode.
var decodeOptions = jsonv2.JoinOptions(jsonv1.DefaultOptionsV1(), jsonv1.ReportErrorsWithLegacySemantics(false))

// Unmarshal decodes data into v, a non-nil pointer: encoding/json/v2 with
// v1's options but v2's error reporting.
func Unmarshal(data []byte, v any) error { return jsonv2.Unmarshal(data, v, decodeOptions) }
