package pdk

import "github.com/authhost/authhost/abi"

// HashPassword hashes password natively in the host (argon2id by default;
// see abi.PasswordHashRequest for the algorithm, parameters and their
// bounds) and returns the encoded hash to store. It is many times faster
// than hashing inside the sandbox and counts against the host's bound on
// concurrent password hashes: when that is exhausted it fails with
// rate_limited. req.Password is the password to hash.
func HashPassword(req abi.PasswordHashRequest) (string, error) {
	var res abi.PasswordHashResult
	if err := callHost(abi.HostPasswordHash, req, &res); err != nil {
		return "", err
	}
	return res.Hash, nil
}

// VerifyPassword reports whether password matches hash (an argon2id PHC
// string or a bcrypt hash), verified natively in the host in constant
// time. A malformed or out-of-bounds hash fails with invalid_request; the
// hash gate applies as for HashPassword.
func VerifyPassword(hash, password string) (bool, error) {
	var res abi.PasswordVerifyResult
	if err := callHost(abi.HostPasswordVerify, abi.PasswordVerifyRequest{Password: password, Hash: hash}, &res); err != nil {
		return false, err
	}
	return res.Match, nil
}
