package host

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckWasmHeader(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   []byte
		want string // "" = accepted
	}{
		{"core module", []byte("\x00asm\x01\x00\x00\x00"), ""},
		{"empty", nil, "too short"},
		{"text", []byte("#!/bin/sh\necho hi\n"), "does not start with"},
		{"truncated", []byte("\x00asm"), "too short"},
		{"component", []byte("\x00asm\x0d\x00\x01\x00"), "component"},
		{"wat source", []byte("(module (func))"), "does not start with"},
	}
	for _, c := range cases {
		err := checkWasmHeader(c.in)
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if !errors.Is(err, errNotWasm) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "not a WebAssembly module") {
			t.Errorf("%s: err = %v, want errNotWasm containing %q", c.name, err, c.want)
		}
	}
}
