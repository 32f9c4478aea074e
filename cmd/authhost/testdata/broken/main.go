// Command broken is a deliberately faulty credentials + user provider for
// the conformance tests: its config's "defect" picks one fault (none: a
// correct provider). One module serves every case, so the test builds it
// once. The host calls describe before it hands the plugin its config, so
// describe is the same for every defect (a missing export is tested with
// host/testdata/plugins/noexport) and "implements_lying" makes a listed
// export answer not_supported.
package main

import (
	"encoding/json"

	"github.com/extism/go-pdk"
)

const (
	email    = "ada@example.com"
	password = "correct horse"
)

func defect() string {
	var c struct {
		Defect string `json:"defect"`
	}
	if raw, ok := pdk.GetConfig("config"); ok {
		_ = json.Unmarshal([]byte(raw), &c)
	}
	return c.Defect
}

//go:wasmexport authhost_describe
func describe() int32 {
	d := map[string]any{"abi": "1.2", "name": "broken", "version": "0.1.0", "capabilities": []string{"user", "credentials"},
		"implements": []string{"credentials_sign_up_enabled", "credentials_password_reset_request"}}
	pdk.OutputJSON(d)
	return 0
}

func ok(data any) int32 {
	if defect() == "bad_envelope" {
		pdk.OutputJSON(map[string]any{"success": true, "result": data})
		return 0
	}
	pdk.OutputJSON(map[string]any{"ok": true, "data": data})
	return 0
}

func fail(code, msg string) int32 {
	pdk.OutputJSON(map[string]any{"ok": false, "error": map[string]string{"code": code, "message": msg}})
	return 0
}

var user = map[string]any{"id": "u1", "email": email}

//go:wasmexport user_current
func userCurrent() int32 { return ok(map[string]any{"user": nil}) }

//go:wasmexport user_get
func userGet() int32 {
	var in struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(pdk.Input(), &in)
	if in.ID == "u1" {
		return ok(map[string]any{"user": user})
	}
	return ok(map[string]any{"user": nil})
}

//go:wasmexport credentials_sign_in
func signIn() int32 {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := json.Unmarshal(pdk.Input(), &in); err != nil {
		return fail("invalid_request", "bad input")
	}
	switch {
	case in.Email == email && in.Password == password:
		return ok(map[string]any{"user": user})
	case defect() == "wrong_code":
		return fail("wrong_password", "invalid email or password")
	case defect() == "trap":
		panic("broken: wrong password")
	case defect() == "enumeration" && in.Email != email:
		return fail("invalid_credentials", "no such account")
	}
	return fail("invalid_credentials", "invalid email or password")
}

//go:wasmexport credentials_sign_up
func signUp() int32 { return fail("sign_up_disabled", "sign-up is disabled") }

//go:wasmexport credentials_sign_up_enabled
func signUpEnabled() int32 { return ok(map[string]bool{"enabled": false}) }

//go:wasmexport credentials_password_reset_request
func resetRequest() int32 {
	if defect() == "implements_lying" {
		return fail("not_supported", "not implemented")
	}
	return ok(map[string]any{})
}

func main() {}
