//go:build !goexperiment.jsonv2

package wire

import "encoding/json"

// Unmarshal decodes data into v, a non-nil pointer (encoding/json in a
// build without GOEXPERIMENT=jsonv2).
func Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
