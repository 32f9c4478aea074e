package passhash

import (
	"errors"
	"strings"
	"testing"

	"github.com/authhost/authhost/abi"
)

// TestRoundTrip: every algorithm verifies its own hash for the right
// password only, including passwords with Unicode and control characters,
// and a salt makes two hashes of one password differ.
func TestRoundTrip(t *testing.T) {
	for _, req := range []abi.PasswordHashRequest{
		{Password: "correct horse", MemoryKiB: 64, Time: 1},
		{Password: "ｐａｓｓ\u200b", MemoryKiB: 64, Time: 1, Threads: 2},
		{Password: "a\x00b", Algorithm: abi.HashBcrypt, Cost: MinCost},
		{Password: strings.Repeat("z", MaxPasswordBytes), MemoryKiB: 64, Time: 1},
	} {
		h, err := Hash(req)
		if err != nil {
			t.Fatalf("%+v: %v", req, err)
		}
		h2, _ := Hash(req)
		if h == h2 {
			t.Errorf("%+v: two hashes equal, salt not random", req)
		}
		for pw, want := range map[string]bool{req.Password: true, req.Password + " ": false, strings.ToUpper(req.Password): req.Password == strings.ToUpper(req.Password)} {
			if got, err := Verify(h, pw); got != want || err != nil {
				t.Errorf("%+v: Verify(%q) = %v, %v; want %v", req, pw, got, err, want)
			}
		}
	}
}

// TestVerifyTooLong: a password past MaxPasswordBytes never matches, even
// the hash of its first MaxPasswordBytes bytes.
func TestVerifyTooLong(t *testing.T) {
	pw := strings.Repeat("p", MaxPasswordBytes)
	h, err := Hash(abi.PasswordHashRequest{Password: pw, MemoryKiB: 64, Time: 1})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := Verify(h, pw+"p"); ok || err != nil {
		t.Fatalf("over-long password: %v, %v", ok, err)
	}
}

// TestBounds: parameters and stored hashes outside the bounds are refused
// with ErrInvalid.
func TestBounds(t *testing.T) {
	for name, req := range map[string]abi.PasswordHashRequest{
		"memory":    {MemoryKiB: MaxMemoryKiB + 1},
		"time":      {Time: MaxTime + 1},
		"threads":   {Threads: MaxThreads + 1},
		"cost high": {Algorithm: abi.HashBcrypt, Cost: MaxCost + 1},
		"cost low":  {Algorithm: abi.HashBcrypt, Cost: MinCost - 1},
		"algorithm": {Algorithm: "scrypt"},
	} {
		if _, err := Hash(req); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	for name, h := range map[string]string{
		"memory":     "$argon2id$v=19$m=65537,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"time 0":     "$argon2id$v=19$m=64,t=0,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"version":    "$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"short salt": "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA",
		"bcrypt 13":  "$2a$13$3yH3wfBhxY8sPo5hy3xkYOUy6IbqdHCXP2rqD.nEy9C2ApIP/OZsi",
		"2x prefix":  "$2x$10$2kZ/QyTK1EdZaCz.VNohpucOtjzqkxME1wdO2/njX0q1Pl2mrvw8C",
	} {
		if _, err := Verify(h, "pw"); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}
