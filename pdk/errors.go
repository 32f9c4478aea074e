package pdk

import (
	"errors"
	"fmt"

	"github.com/authhost/authhost/abi"
)

// Errorf returns an error carrying the ABI code c and a formatted message.
// Returned from a handler, it becomes the failed envelope
// {"ok":false,"error":{"code":c,"message":…}}.
func Errorf(c abi.Code, format string, args ...any) error {
	return abi.Errorf(c, format, args...)
}

// WithCode returns err classified as code c, keeping its message. A nil err
// stays nil. If err already carries an ABI code it is returned unchanged.
func WithCode(c abi.Code, err error) error {
	if err == nil {
		return nil
	}
	var e *abi.Error
	if errors.As(err, &e) && e.Code.Valid() {
		return err
	}
	return &abi.Error{Code: c, Message: err.Error()}
}

// CodeOf returns the ABI code carried by err: "" for nil, internal for an
// error without a code.
func CodeOf(err error) abi.Code { return abi.CodeOf(err) }

// IsCode reports whether err carries the ABI code c.
func IsCode(err error, c abi.Code) bool { return abi.IsCode(err, c) }

// errNotSupported is the answer of an export whose capability or optional
// interface the provider does not implement.
func errNotSupported(export string) error {
	return abi.Errorf(abi.CodeNotSupported, "%s is not supported by this provider", export)
}

// ConfigError reports a bad configuration field from Provider.Configure:
// field is its dotted path inside the plugin's config (e.g.
// "users.0.email"); the host shows it as plugins.<name>.config.<field>.
func ConfigError(field, format string, args ...any) error {
	return &abi.Error{Code: abi.CodeInvalidRequest, Message: fmt.Sprintf(format, args...), Field: field}
}
