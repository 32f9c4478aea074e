package main

import "testing"

func TestValidUserID(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]bool{
		"user_01H9ZK3Q8X":  true,
		"":                 false,
		"null":             true, // well-formed; the API answers 404 → no user
		"../organizations": false,
		"user_01\x00":      false,
		"user_01\n":        false,
		"user_0l\u0430":    false, // Cyrillic a
		"user%2F..":        false,
		"127.0.0.1":        false,
		"user_01?x=1":      false,
	} {
		if got := validUserID(id); got != want {
			t.Errorf("validUserID(%q) = %v, want %v", id, got, want)
		}
	}
}
