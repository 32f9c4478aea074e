package main

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Password hashing inside the Wasm sandbox (measurements in README.md).
//
// New hashes (sign-up) use argon2id m=12288 KiB, t=3, p=1: OWASP's
// equal-strength alternative to m=19456, t=2, p=1. Both take about the same
// time in the sandbox (0.5–0.9 s per verification on a loaded 2-vCPU host),
// but a Go guest needs about 26 MiB of its own before argon2 allocates its
// m KiB block, so m=19456 needs a memory cap of at least ~44 MiB while
// m=12288 still runs under a 32 MiB cap. Configured hashes may be any
// argon2id within the bounds below, or bcrypt ($2a$/$2b$/$2y$) up to
// cost 12 (cost 10 verifies in about 0.18 s in the sandbox).
const (
	argonMemoryKiB = 12 * 1024
	argonTime      = 3
	argonThreads   = 1
	argonKeyLen    = 32
	argonSaltLen   = 16

	// Bounds on configured hashes, so that a bad hash is refused when the
	// configuration loads instead of trapping the instance on the memory
	// cap or the call deadline at sign-in. m=32768 needs a cap of ~64 MiB.
	maxArgonMemoryKiB = 32 * 1024
	maxArgonTime      = 10
	maxArgonThreads   = 4
	maxBcryptCost     = 12
)

var b64 = base64.RawStdEncoding

// argonParams are the parameters of one argon2id PHC string.
type argonParams struct {
	memory  uint32
	time    uint32
	threads uint8
}

// hashPassword returns a PHC-format argon2id hash of password.
func hashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	return encodeArgon(argonParams{argonMemoryKiB, argonTime, argonThreads}, salt, key), nil
}

func encodeArgon(p argonParams, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.memory, p.time, p.threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// parseArgon parses $argon2id$v=19$m=…,t=…,p=…$salt$hash.
func parseArgon(encoded string) (argonParams, []byte, []byte, error) {
	var p argonParams
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errors.New("not an argon2id PHC string")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, fmt.Errorf("unsupported argon2 version %q", parts[2])
	}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return p, nil, nil, fmt.Errorf("bad argon2 parameter %q", kv)
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return p, nil, nil, fmt.Errorf("bad argon2 parameter %q", kv)
		}
		switch k {
		case "m":
			p.memory = uint32(n)
		case "t":
			p.time = uint32(n)
		case "p":
			if n > 255 {
				return p, nil, nil, fmt.Errorf("bad argon2 parameter %q", kv)
			}
			p.threads = uint8(n)
		default:
			return p, nil, nil, fmt.Errorf("unknown argon2 parameter %q", k)
		}
	}
	switch {
	case p.time < 1 || p.time > maxArgonTime:
		return p, nil, nil, fmt.Errorf("argon2 t=%d out of range 1..%d", p.time, maxArgonTime)
	case p.threads < 1 || p.threads > maxArgonThreads:
		return p, nil, nil, fmt.Errorf("argon2 p=%d out of range 1..%d", p.threads, maxArgonThreads)
	case p.memory < 8*uint32(p.threads) || p.memory > maxArgonMemoryKiB:
		return p, nil, nil, fmt.Errorf("argon2 m=%d out of range %d..%d KiB", p.memory, 8*uint32(p.threads), maxArgonMemoryKiB)
	}
	salt, err := b64.DecodeString(strings.TrimRight(parts[4], "="))
	if err != nil || len(salt) < 8 {
		return p, nil, nil, errors.New("bad argon2 salt")
	}
	key, err := b64.DecodeString(strings.TrimRight(parts[5], "="))
	if err != nil || len(key) < 16 {
		return p, nil, nil, errors.New("bad argon2 hash")
	}
	return p, salt, key, nil
}

// checkHash validates a configured password hash.
func checkHash(encoded string) error {
	switch {
	case strings.HasPrefix(encoded, "$argon2id$"):
		_, _, _, err := parseArgon(encoded)
		return err
	case isBcrypt(encoded):
		cost, err := bcrypt.Cost([]byte(encoded))
		if err != nil {
			return fmt.Errorf("bad bcrypt hash: %w", err)
		}
		if cost > maxBcryptCost {
			return fmt.Errorf("bcrypt cost %d exceeds %d (too slow for the sandbox's call deadline)", cost, maxBcryptCost)
		}
		return nil
	}
	return errors.New("unsupported password hash: want argon2id ($argon2id$v=19$…) or bcrypt ($2a$/$2b$/$2y$)")
}

func isBcrypt(s string) bool {
	return strings.HasPrefix(s, "$2a$") || strings.HasPrefix(s, "$2b$") || strings.HasPrefix(s, "$2y$")
}

// verifyPassword reports whether password matches encoded, comparing in
// constant time. encoded must have passed checkHash.
func verifyPassword(encoded, password string) bool {
	if isBcrypt(encoded) {
		return bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password)) == nil
	}
	p, salt, key, err := parseArgon(encoded)
	if err != nil {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1
}

// dummyHash returns a hash with the same algorithm and cost as model but
// matching no password, so that signing in with an unknown email spends
// the same time as a wrong password for a known one.
func dummyHash(model string) string {
	salt := make([]byte, argonSaltLen)
	key := make([]byte, argonKeyLen)
	_, _ = rand.Read(salt)
	_, _ = rand.Read(key)
	if isBcrypt(model) {
		if cost, err := bcrypt.Cost([]byte(model)); err == nil {
			// A bcrypt hash of a random 64-byte secret: the password that
			// matches it is never known.
			secret := make([]byte, 64)
			_, _ = rand.Read(secret)
			if h, err := bcrypt.GenerateFromPassword(secret[:48], cost); err == nil {
				return string(h)
			}
		}
	}
	if p, _, _, err := parseArgon(model); err == nil {
		return encodeArgon(p, salt, key)
	}
	return encodeArgon(argonParams{argonMemoryKiB, argonTime, argonThreads}, salt, key)
}
