package abi

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Code is one of the closed set of error codes a provider may return. The
// server maps each to an HTTP status in one place (see server's status table).
type Code string

// The error codes of ABI v1. A provider returning any other code is treated
// as if it returned CodeInternal.
const (
	CodeInvalidRequest     Code = "invalid_request"     // malformed or incomplete input
	CodeInvalidCredentials Code = "invalid_credentials" // wrong email/password, bad code
	CodeUnauthenticated    Code = "unauthenticated"     // no, expired or revoked session/token
	CodeForbidden          Code = "forbidden"           // authenticated but not allowed
	CodeNotFound           Code = "not_found"           // no such user/session/resource
	CodeAlreadyExists      Code = "already_exists"      // sign-up of an existing account
	CodeSignUpDisabled     Code = "sign_up_disabled"    // sign-up is turned off
	CodeRateLimited        Code = "rate_limited"        // upstream or provider throttling
	CodeUnavailable        Code = "unavailable"         // upstream identity service unreachable
	CodeNotSupported       Code = "not_supported"       // optional operation not offered
	CodeInternal           Code = "internal"            // provider bug or unexpected state
)

// Codes lists the closed error-code set in a stable order.
var Codes = []Code{CodeInvalidRequest, CodeInvalidCredentials, CodeUnauthenticated, CodeForbidden, CodeNotFound,
	CodeAlreadyExists, CodeSignUpDisabled, CodeRateLimited, CodeUnavailable, CodeNotSupported, CodeInternal}

// Valid reports whether c belongs to the closed code set.
func (c Code) Valid() bool {
	for _, k := range Codes {
		if k == c {
			return true
		}
	}
	return false
}

// Error is the error object of a failed Envelope. It is also a Go error, so
// adapters return it as is and callers match it with errors.As or IsCode.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	// Field (abi 1.2) names the configuration field at fault, as a dotted
	// path inside the plugin's config (e.g. "users.0.email"), in the
	// result of authhost_configure.
	Field string `json:"field,omitempty"`
}

// Error implements error.
func (e *Error) Error() string {
	if e.Message == "" {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Message
}

// Errorf builds an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the ABI code carried by err, CodeInternal for any other
// non-nil error, and "" for nil.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Code.Valid() {
		return e.Code
	}
	return CodeInternal
}

// IsCode reports whether err carries the ABI code c.
func IsCode(err error, c Code) bool { return err != nil && CodeOf(err) == c }

// Envelope is the JSON result of every export: {"ok":true,"data":…} or
// {"ok":false,"error":{"code":…,"message":…}}.
type Envelope struct {
	OK    bool            `json:"ok"`
	Data  json.RawMessage `json:"data,omitempty"`
	Error *Error          `json:"error,omitempty"`
}

// successPrefix and successSuffix frame the data of a successful envelope.
const (
	successPrefix = `{"ok":true,"data":`
	successSuffix = `}`
)

// Success encodes data as a successful envelope. The data is encoded once
// and framed, not encoded again as a json.RawMessage (which would scan and
// copy it a second time: a measurable share of a small guest call).
func Success(data any) ([]byte, error) { return SuccessWith(json.Marshal, data) }

// SuccessWith is Success with data encoded by marshal (the Go PDK passes
// its own JSON codec, pdk/wire).
func SuccessWith(marshal func(any) ([]byte, error), data any) ([]byte, error) {
	raw, err := marshal(data)
	if err != nil {
		return nil, fmt.Errorf("abi: encode result: %w", err)
	}
	out := make([]byte, 0, len(successPrefix)+len(raw)+len(successSuffix))
	out = append(out, successPrefix...)
	out = append(out, raw...)
	return append(out, successSuffix...), nil
}

// Failure encodes err as a failed envelope; errors without an ABI code become
// CodeInternal. The envelope is written directly, without reflection (it is
// the answer to every refused sign-in, inside the guest): the same bytes
// json.Marshal gives for Envelope{OK: false, Error: e}.
func Failure(err error) []byte {
	var e *Error
	if !errors.As(err, &e) || !e.Code.Valid() {
		e = &Error{Code: CodeInternal, Message: err.Error()}
	}
	out := make([]byte, 0, 48+len(e.Code)+len(e.Message)+len(e.Field))
	out = append(out, `{"ok":false,"error":{"code":`...)
	out = appendJSONString(out, string(e.Code))
	out = append(out, `,"message":`...)
	out = appendJSONString(out, e.Message)
	if e.Field != "" {
		out = append(out, `,"field":`...)
		out = appendJSONString(out, e.Field)
	}
	return append(out, "}}"...)
}

// appendJSONString appends s as a JSON string exactly as encoding/json
// writes it: HTML characters, U+2028 and U+2029 escaped, control characters
// escaped, invalid UTF-8 replaced by U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Decode parses an envelope and decodes its data into out (which may be nil
// when the caller expects no data). A failed envelope is returned as *Error;
// malformed output is an error naming what was wrong, never a panic.
func Decode(raw []byte, out any) error { return DecodeWith(json.Unmarshal, raw, out) }

// DecodeWith is Decode with the envelope and its data decoded by unmarshal
// (the Go PDK passes its own JSON codec, pdk/wire).
func DecodeWith(unmarshal func([]byte, any) error, raw []byte, out any) error {
	var env Envelope
	if err := unmarshal(raw, &env); err != nil {
		return fmt.Errorf("abi: malformed envelope: %w", err)
	}
	if !env.OK {
		if env.Error == nil {
			return fmt.Errorf("abi: malformed envelope: ok=false without error")
		}
		if !env.Error.Code.Valid() {
			return &Error{Code: CodeInternal, Message: fmt.Sprintf("provider returned unknown error code %q: %s", env.Error.Code, env.Error.Message)}
		}
		return env.Error
	}
	if out == nil || len(env.Data) == 0 || string(env.Data) == "null" {
		return nil
	}
	if err := unmarshal(env.Data, out); err != nil {
		return fmt.Errorf("abi: malformed result data: %w", err)
	}
	return nil
}
