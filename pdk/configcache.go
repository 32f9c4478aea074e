package pdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/authhost/authhost/abi"
)

// DecodeConfig strictly decodes a configuration document into v: unknown
// fields are errors, so a typo in the operator's config cannot silently
// change a provider's behaviour.
func DecodeConfig(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the configuration document")
	}
	return nil
}

// ConfigCache parses the plugin's configuration strictly (DecodeConfig),
// validates it, and keeps the result until the document changes; inside the
// sandbox the document is fixed for an instance's life, so a provider
// parses it once instead of on every call. Safe for concurrent use.
type ConfigCache[T any] struct {
	name     string
	validate func(*T) error

	mu  sync.Mutex
	raw []byte
	val *T
}

// NewConfigCache returns a cache whose errors name the provider. validate
// fills defaults and checks the decoded value; it may be nil.
func NewConfigCache[T any](name string, validate func(*T) error) *ConfigCache[T] {
	return &ConfigCache[T]{name: name, validate: validate}
}

// Load returns the parsed configuration of the current document. A bad
// configuration is an internal error naming the provider and the field:
// the operator's config is wrong, not the caller's request.
func (c *ConfigCache[T]) Load() (*T, error) {
	raw := ConfigJSON()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.val != nil && bytes.Equal(raw, c.raw) {
		return c.val, nil
	}
	v, err := c.Parse(raw)
	if err != nil {
		return nil, abi.Errorf(abi.CodeInternal, "%s config: %v", c.name, describeConfigError(err))
	}
	c.raw, c.val = append([]byte(nil), raw...), v
	return v, nil
}

// Parse decodes and validates raw without caching it.
func (c *ConfigCache[T]) Parse(raw []byte) (*T, error) {
	v := new(T)
	if err := DecodeConfig(raw, v); err != nil {
		return nil, err
	}
	if c.validate != nil {
		if err := c.validate(v); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// Configure serves Provider.Configure: it parses and validates config as
// Load would, and reports a bad configuration as a ConfigError naming the
// field (from validate's ConfigError, or from the JSON decoder for a wrong
// type or an unknown field), so the host refuses the plugin at load.
func (c *ConfigCache[T]) Configure(_ context.Context, config []byte) error {
	if len(config) == 0 {
		config = []byte("{}")
	}
	_, err := c.Parse(config)
	if err == nil {
		return nil
	}
	var (
		ae      *abi.Error
		typeErr *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &ae) && ae.Field != "":
		return ae
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return ConfigError(typeErr.Field, "want a JSON %s, got %s", typeErr.Type, typeErr.Value)
	}
	if name, ok := strings.CutPrefix(err.Error(), `json: unknown field "`); ok {
		name = strings.TrimSuffix(name, `"`)
		return ConfigError(name, "unknown field")
	}
	return ConfigError("", "%v", err)
}

// describeConfigError renders a parse error with its field, if it names one.
func describeConfigError(err error) string {
	var ae *abi.Error
	if errors.As(err, &ae) && ae.Field != "" {
		return ae.Field + ": " + ae.Message
	}
	return err.Error()
}
