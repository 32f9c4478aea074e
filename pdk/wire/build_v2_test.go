//go:build goexperiment.jsonv2

package wire

// jsonv2Build reports whether this test binary runs the encoding/json/v2
// path (json_v2.go).
const jsonv2Build = true
