package jwtpeek

import "testing"

func TestClaims(t *testing.T) {
	// {"alg":"none"}.{"sub":"u1","n":2}.
	got := Claims(t, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1MSIsIm4iOjJ9.")
	if got["sub"] != "u1" || got["n"] != float64(2) {
		t.Fatalf("claims = %v", got)
	}
}
