package main

import (
	"crypto/rand"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/abi/passhash"
	"github.com/authhost/authhost/pdk"
)

// Password hashing runs natively in the host (the password_hash and
// password_verify host functions of ABI 1.2), not in the sandbox, where
// argon2id cost 15–25× its native time. New hashes (sign-up) use argon2id
// m=19456 KiB, t=2, p=1, OWASP's first recommendation. Configured hashes
// may be any argon2id or bcrypt ($2a$/$2b$/$2y$) hash within the bounds
// of package abi/passhash, checked when the configuration loads.
var signUpHash = abi.PasswordHashRequest{
	Algorithm: abi.HashArgon2id,
	MemoryKiB: passhash.DefaultMemoryKiB,
	Time:      passhash.DefaultTime,
	Threads:   passhash.DefaultThreads,
}

// hashPassword returns a PHC-format argon2id hash of password.
func hashPassword(password string) (string, error) {
	req := signUpHash
	req.Password = password
	return pdk.HashPassword(req)
}

// checkHash validates a configured password hash.
func checkHash(encoded string) error { return passhash.Check(encoded) }

// verifyPassword reports whether password matches encoded (compared in
// constant time by the host). encoded must have passed checkHash.
func verifyPassword(encoded, password string) (bool, error) {
	return pdk.VerifyPassword(encoded, password)
}

// dummyHash returns a hash with the same algorithm and cost as model but
// matching no password, so that signing in with an unknown email spends
// the same time as a wrong password for a known one.
func dummyHash(model string) (string, error) {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	if p, _, _, err := passhash.ParseArgon2(model); err == nil {
		salt := make([]byte, 16)
		_, _ = rand.Read(salt)
		return passhash.EncodeArgon2(p, salt, secret), nil
	}
	req := signUpHash
	if passhash.IsBcrypt(model) && checkHash(model) == nil {
		// A bcrypt hash of a random secret of the model's cost: the
		// password that matches it is never known.
		req = abi.PasswordHashRequest{Algorithm: abi.HashBcrypt, Cost: bcryptCost(model)}
	}
	req.Password = string(secret)
	return pdk.HashPassword(req)
}

// bcryptCost reads the cost of a valid bcrypt hash ($2a$10$…).
func bcryptCost(h string) int {
	return int(h[4]-'0')*10 + int(h[5]-'0')
}
