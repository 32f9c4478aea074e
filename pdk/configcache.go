package pdk

import (
	"bytes"
	"encoding/json"
	"fmt"
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
		return nil, abi.Errorf(abi.CodeInternal, "%s config: %v", c.name, err)
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
