// Package passhash is the native implementation of the password_hash and
// password_verify host functions: argon2id (PHC strings) and bcrypt, with
// bounded parameters so that neither a provider's request nor a stored
// hash can make one call cost an absurd amount of memory or time. The host
// serves it to plugins, and pdk/pdktest runs the same code in unit tests.
package passhash

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

	"github.com/authhost/authhost/abi"
)

// Defaults (OWASP's argon2id recommendation m=19 MiB, t=2, p=1; bcrypt
// cost 10) and bounds of the accepted parameters. The bounds apply both to
// new hashes and to hashes being verified.
const (
	DefaultMemoryKiB = 19456
	DefaultTime      = 2
	DefaultThreads   = 1
	DefaultCost      = 10

	MaxMemoryKiB = 64 * 1024
	MaxTime      = 10
	MaxThreads   = 4
	MinCost      = bcrypt.MinCost
	MaxCost      = 12

	// MaxPasswordBytes bounds the password of a hash or verify call.
	MaxPasswordBytes = 1024

	saltLen = 16
	keyLen  = 32
)

// ErrInvalid marks a request the bounds or formats refuse; callers answer
// it as invalid_request.
var ErrInvalid = errors.New("passhash: invalid")

var b64 = base64.RawStdEncoding

// Argon2Params are the parameters of one argon2id hash.
type Argon2Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

func (p Argon2Params) check() error {
	switch {
	case p.Time < 1 || p.Time > MaxTime:
		return fmt.Errorf("%w: argon2id t=%d out of range 1..%d", ErrInvalid, p.Time, MaxTime)
	case p.Threads < 1 || p.Threads > MaxThreads:
		return fmt.Errorf("%w: argon2id p=%d out of range 1..%d", ErrInvalid, p.Threads, MaxThreads)
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > MaxMemoryKiB:
		return fmt.Errorf("%w: argon2id m=%d out of range %d..%d KiB", ErrInvalid, p.MemoryKiB, 8*uint32(p.Threads), MaxMemoryKiB)
	}
	return nil
}

// Hash hashes req.Password with the requested algorithm and parameters
// (zero ones take the defaults).
func Hash(req abi.PasswordHashRequest) (string, error) {
	if len(req.Password) > MaxPasswordBytes {
		return "", fmt.Errorf("%w: password of %d bytes exceeds %d", ErrInvalid, len(req.Password), MaxPasswordBytes)
	}
	switch req.Algorithm {
	case "", abi.HashArgon2id:
		p := Argon2Params{MemoryKiB: req.MemoryKiB, Time: req.Time, Threads: req.Threads}
		if p.MemoryKiB == 0 {
			p.MemoryKiB = DefaultMemoryKiB
		}
		if p.Time == 0 {
			p.Time = DefaultTime
		}
		if p.Threads == 0 {
			p.Threads = DefaultThreads
		}
		if err := p.check(); err != nil {
			return "", err
		}
		salt := make([]byte, saltLen)
		if _, err := rand.Read(salt); err != nil {
			return "", fmt.Errorf("passhash: salt: %w", err)
		}
		key := argon2.IDKey([]byte(req.Password), salt, p.Time, p.MemoryKiB, p.Threads, keyLen)
		return EncodeArgon2(p, salt, key), nil
	case abi.HashBcrypt:
		cost := req.Cost
		if cost == 0 {
			cost = DefaultCost
		}
		if cost < MinCost || cost > MaxCost {
			return "", fmt.Errorf("%w: bcrypt cost %d out of range %d..%d", ErrInvalid, cost, MinCost, MaxCost)
		}
		if len(req.Password) > 72 {
			return "", fmt.Errorf("%w: bcrypt takes at most 72 password bytes", ErrInvalid)
		}
		h, err := bcrypt.GenerateFromPassword([]byte(req.Password), cost)
		if err != nil {
			return "", fmt.Errorf("passhash: bcrypt: %w", err)
		}
		return string(h), nil
	}
	return "", fmt.Errorf("%w: unknown algorithm %q (want argon2id or bcrypt)", ErrInvalid, req.Algorithm)
}

// EncodeArgon2 returns the PHC string of an argon2id hash.
func EncodeArgon2(p Argon2Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// ParseArgon2 parses and bounds-checks $argon2id$v=19$m=…,t=…,p=…$salt$key.
func ParseArgon2(encoded string) (p Argon2Params, salt, key []byte, err error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, fmt.Errorf("%w: not an argon2id PHC string", ErrInvalid)
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, fmt.Errorf("%w: unsupported argon2 version %q", ErrInvalid, parts[2])
	}
	seen := map[string]bool{}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		n, perr := strconv.ParseUint(v, 10, 32)
		if !ok || perr != nil || seen[k] || v != strconv.FormatUint(n, 10) {
			return p, nil, nil, fmt.Errorf("%w: bad argon2 parameter %q", ErrInvalid, kv)
		}
		seen[k] = true
		switch k {
		case "m":
			p.MemoryKiB = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			if n > 255 {
				return p, nil, nil, fmt.Errorf("%w: bad argon2 parameter %q", ErrInvalid, kv)
			}
			p.Threads = uint8(n)
		default:
			return p, nil, nil, fmt.Errorf("%w: unknown argon2 parameter %q", ErrInvalid, k)
		}
	}
	if err := p.check(); err != nil {
		return p, nil, nil, err
	}
	salt, err = b64.DecodeString(strings.TrimRight(parts[4], "="))
	if err != nil || len(salt) < 8 {
		return p, nil, nil, fmt.Errorf("%w: bad argon2 salt", ErrInvalid)
	}
	key, err = b64.DecodeString(strings.TrimRight(parts[5], "="))
	if err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, fmt.Errorf("%w: bad argon2 key", ErrInvalid)
	}
	return p, salt, key, nil
}

// IsBcrypt reports whether s looks like a bcrypt hash ($2a$, $2b$, $2y$).
func IsBcrypt(s string) bool {
	return strings.HasPrefix(s, "$2a$") || strings.HasPrefix(s, "$2b$") || strings.HasPrefix(s, "$2y$")
}

// Check validates a stored hash without verifying anything: a supported
// format within the bounds.
func Check(encoded string) error {
	switch {
	case strings.HasPrefix(encoded, "$argon2id$"):
		_, _, _, err := ParseArgon2(encoded)
		return err
	case IsBcrypt(encoded):
		cost, err := bcrypt.Cost([]byte(encoded))
		if err != nil {
			return fmt.Errorf("%w: bad bcrypt hash: %v", ErrInvalid, err)
		}
		if cost < MinCost || cost > MaxCost {
			return fmt.Errorf("%w: bcrypt cost %d out of range %d..%d", ErrInvalid, cost, MinCost, MaxCost)
		}
		return nil
	}
	return fmt.Errorf("%w: unsupported password hash: want argon2id ($argon2id$v=19$…) or bcrypt ($2a$/$2b$/$2y$)", ErrInvalid)
}

// Verify reports whether password matches encoded, comparing in constant
// time. A hash that fails Check is an error wrapping ErrInvalid; a
// password longer than MaxPasswordBytes matches nothing (but is still
// hashed, so the answer takes the usual time).
func Verify(encoded, password string) (bool, error) {
	if err := Check(encoded); err != nil {
		return false, err
	}
	tooLong := len(password) > MaxPasswordBytes
	if tooLong {
		password = password[:MaxPasswordBytes]
	}
	if IsBcrypt(encoded) {
		err := bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password))
		return err == nil && !tooLong, nil
	}
	p, salt, key, err := ParseArgon2(encoded)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1 && !tooLong, nil
}
