package auth

import (
	"errors"
	"fmt"

	"github.com/authhost/authhost/abi"
)

// Code classifies an auth error: the provider ABI's closed code set
// (abi.Code), which the server maps to HTTP statuses in one place.
type Code = abi.Code

// Error codes (abi.Code*).
const (
	CodeInvalidRequest     = abi.CodeInvalidRequest
	CodeInvalidCredentials = abi.CodeInvalidCredentials
	CodeUnauthenticated    = abi.CodeUnauthenticated
	CodeForbidden          = abi.CodeForbidden
	CodeNotFound           = abi.CodeNotFound
	CodeAlreadyExists      = abi.CodeAlreadyExists
	CodeSignUpDisabled     = abi.CodeSignUpDisabled
	CodeRateLimited        = abi.CodeRateLimited
	CodeUnavailable        = abi.CodeUnavailable
	CodeNotSupported       = abi.CodeNotSupported
	CodeInternal           = abi.CodeInternal
)

// Error is a classified auth error.
type Error struct {
	Code    Code
	Message string
	Err     error // optional cause
}

// Error implements error.
func (e *Error) Error() string {
	msg := string(e.Code)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, auth.ErrNotFound) match any *Error of that code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Err == nil && t.Code == e.Code
}

// Errorf returns an *Error of code with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Sentinels for errors.Is; each matches any *Error of its code.
var (
	ErrInvalidRequest     = &Error{Code: CodeInvalidRequest}
	ErrInvalidCredentials = &Error{Code: CodeInvalidCredentials}
	ErrUnauthenticated    = &Error{Code: CodeUnauthenticated}
	ErrForbidden          = &Error{Code: CodeForbidden}
	ErrNotFound           = &Error{Code: CodeNotFound}
	ErrAlreadyExists      = &Error{Code: CodeAlreadyExists}
	ErrSignUpDisabled     = &Error{Code: CodeSignUpDisabled}
	ErrRateLimited        = &Error{Code: CodeRateLimited}
	ErrUnavailable        = &Error{Code: CodeUnavailable}
	ErrNotSupported       = &Error{Code: CodeNotSupported}
	ErrInternal           = &Error{Code: CodeInternal}
)

// CodeOf returns the code of err: its own for an *Error, CodeInternal for
// any other non-nil error, "" for nil.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
