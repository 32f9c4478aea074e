package pdk

import (
	"fmt"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk/internal/hostcall"
	"github.com/authhost/authhost/pdk/wire"
)

// callHost sends req to the host function fn and decodes the envelope's
// data into out (which may be nil). A failed envelope is returned as an
// error wrapping *abi.Error.
func callHost(fn string, req, out any) error {
	raw, err := wire.Marshal(req)
	if err != nil {
		return fmt.Errorf("authhost %s: encode request: %w", fn, err)
	}
	if err := wire.Decode(hostcall.Current().Call(fn, raw), out); err != nil {
		return fmt.Errorf("authhost %s: %w", fn, err)
	}
	return nil
}

// ConfigJSON returns the plugin's configuration: the JSON document the host
// passes as the Extism config key "config" (the operator's configuration
// block with secrets already expanded), or {} when the host set none.
func ConfigJSON() []byte {
	raw, ok := hostcall.Current().Config()
	if !ok || len(raw) == 0 {
		return []byte("{}")
	}
	return raw
}

// Config decodes the plugin's configuration into v (a pointer). Unknown
// fields are ignored; a malformed document is an internal error, because it
// is the operator's configuration, not the caller's request, that is wrong.
func Config(v any) error {
	if err := wire.Unmarshal(ConfigJSON(), v); err != nil {
		return abi.Errorf(abi.CodeInternal, "plugin config: %v", err)
	}
	return nil
}

// LoginButton returns the login button configured under the "login" key of
// the plugin's configuration ({"provider", "text", "icon"}), or def when
// there is none or it lacks a provider or text. Call it in init and pass
// the result to Register as Provider.Login: the host reads the button of
// the configured instance.
func LoginButton(def abi.LoginButton) abi.LoginButton {
	var c struct {
		Login *abi.LoginButton `json:"login"`
	}
	if err := wire.Unmarshal(ConfigJSON(), &c); err == nil && c.Login != nil && c.Login.Provider != "" && c.Login.Text != "" {
		return *c.Login
	}
	return def
}
