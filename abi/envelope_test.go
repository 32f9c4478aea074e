package abi

import (
	"encoding/json"
	"testing"
)

// TestSuccessFramesLikeEnvelope checks that the framed encoding of Success
// is byte for byte what encoding an Envelope gives, for awkward data.
func TestSuccessFramesLikeEnvelope(t *testing.T) {
	t.Parallel()
	for _, data := range []any{
		nil, 0, "", "<script>&amp;</script>", "\u2028\u2029", []string{}, map[string]any{"a": []any{1, "x", nil}},
		json.RawMessage(`{"k": [1, 2]}`), struct {
			A string `json:"a,omitempty"`
		}{},
	} {
		got, err := Success(data)
		if err != nil {
			t.Fatalf("%#v: %v", data, err)
		}
		raw, _ := json.Marshal(data)
		want, _ := json.Marshal(Envelope{OK: true, Data: raw})
		if string(got) != string(want) {
			t.Errorf("%#v: Success = %s, want %s", data, got, want)
		}
		var env Envelope
		if err := json.Unmarshal(got, &env); err != nil || !env.OK {
			t.Errorf("%#v: %s does not decode as an envelope: %v", data, got, err)
		}
	}
	if _, err := Success(func() {}); err == nil {
		t.Error("an unencodable result was accepted")
	}
}
