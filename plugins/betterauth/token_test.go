package main

import (
	"strings"
	"testing"
)

func TestTokenShaped(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]bool{
		"abc.DEF-123_x":              true,
		"eyJhbGciOi.eyJzdWIi.sig":    true,
		"null":                       true,
		"":                           false,
		"id\x00":                     false,
		"id\r\nX-Injected: 1":        false,
		"id with space":              false,
		"t\u0430ken":                 false, // Cyrillic a
		"t\x7f":                      false,
		strings.Repeat("a", 8<<10+1): false,
	} {
		if got := tokenShaped(id); got != want {
			t.Errorf("tokenShaped(%q) = %v, want %v", id, got, want)
		}
	}
}
