package abi

import (
	"encoding/json"
	"errors"
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

// TestFailureEncodesLikeEnvelope checks that the hand-written Failure is
// byte for byte json.Marshal of the Envelope, for awkward messages: HTML,
// quotes, every control character, look-alikes, bidi overrides, U+2028,
// invalid UTF-8, the literal null, and for unknown and missing codes.
func TestFailureEncodesLikeEnvelope(t *testing.T) {
	t.Parallel()
	var controls []byte
	for b := range byte(0x20) {
		controls = append(controls, b)
	}
	msgs := []string{
		"", "wrong password", `"quoted" \back\slash/`, "<script>&amp;</script>", "\u2028\u2029",
		string(controls) + "\x7f", "аdmin@exаmple.com (Cyrillic а)", "\u202eevil\u202c", "\ufeffbom",
		"bad \xff\xfe utf-8 \xe2\x82", "null", "日本語 🎉", "\x00",
	}
	for _, msg := range msgs {
		for _, e := range []*Error{
			{Code: CodeInvalidCredentials, Message: msg},
			{Code: CodeInvalidRequest, Message: msg, Field: "users.0." + msg},
		} {
			got := Failure(e)
			want, _ := json.Marshal(Envelope{OK: false, Error: e})
			if string(got) != string(want) {
				t.Errorf("Failure(%q) = %s, want %s", msg, got, want)
			}
			var env Envelope
			if err := json.Unmarshal(got, &env); err != nil || env.OK || env.Error == nil || env.Error.Code != e.Code {
				t.Errorf("Failure(%q) = %s does not decode as a failed envelope: %v", msg, got, err)
			}
		}
	}
	// A code outside the closed set and an error without a code both
	// become internal, keeping the message.
	for _, err := range []error{&Error{Code: "teapot", Message: "x"}, errors.New("plain <b>")} {
		got := Failure(err)
		want, _ := json.Marshal(Envelope{OK: false, Error: &Error{Code: CodeInternal, Message: err.Error()}})
		if string(got) != string(want) {
			t.Errorf("Failure(%v) = %s, want %s", err, got, want)
		}
	}
}
