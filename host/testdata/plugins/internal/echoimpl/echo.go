// Package echoimpl holds the exports of the echo test provider, linked into
// the echo and echob mains.
package echoimpl

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/authhost/authhost/host/testdata/plugins/internal/guest"
	"github.com/authhost/authhost/pdk/wire"
	"github.com/extism/go-pdk"
)

// Name is the provider name the echo exports report; each main sets it.
var Name = "echo"

//go:wasmexport authhost_describe
func describe() int32 { return guest.Describe("1.0", Name, "rbac") }

// Payload is the ~200-byte document of the echo benchmark.
type Payload struct {
	ID        string            `json:"id"`
	Email     string            `json:"email"`
	Name      string            `json:"name"`
	Roles     []string          `json:"roles"`
	Active    bool              `json:"active"`
	Logins    int               `json:"logins"`
	Labels    map[string]string `json:"labels"`
	CreatedAt time.Time         `json:"created_at"`
}

//go:wasmexport noop
func noop() int32 { return 0 }

// echo decodes and encodes as a Go PDK provider does: with the PDK's JSON
// codec (pdk/wire), framed by guest.OK.
//
//go:wasmexport echo
func echo() int32 {
	var p Payload
	if err := wire.Unmarshal(pdk.Input(), &p); err != nil {
		return guest.Fail("invalid_request", err.Error())
	}
	return guest.OK(p)
}

// The echo_* exports run the first stages of echo and write no output (but
// a one-byte status), so the difference between two of them is the guest
// cost of one stage (host BenchmarkGuestEcho): echo_input reads the input,
// echo_decode also decodes it and echo_marshal also encodes the payload
// without the envelope; echo_bytes reads the input and writes it back
// unchanged (the Extism ABI's share of moving the bytes).

//go:wasmexport echo_input
func echoInput() int32 {
	return stageDone(len(pdk.Input()) > 0)
}

//go:wasmexport echo_decode
func echoDecode() int32 {
	var p Payload
	return stageDone(wire.Unmarshal(pdk.Input(), &p) == nil && p.ID != "")
}

//go:wasmexport echo_marshal
func echoMarshal() int32 {
	var p Payload
	if wire.Unmarshal(pdk.Input(), &p) != nil {
		return stageDone(false)
	}
	raw, err := wire.Marshal(p)
	return stageDone(err == nil && len(raw) > 0)
}

//go:wasmexport echo_bytes
func echoBytes() int32 {
	pdk.Output(pdk.Input())
	return 0
}

// gc_percent sets the guest's GOGC (debug.SetGCPercent; -1 turns the
// collector off) from a JSON integer and returns the previous setting, so a
// benchmark can weigh GC time against linear memory.
//
//go:wasmexport gc_percent
func gcPercent() int32 {
	var n int
	if err := pdk.InputJSON(&n); err != nil {
		return guest.Fail("invalid_request", err.Error())
	}
	return guest.OK(debug.SetGCPercent(n))
}

// stageDone writes "1" when the stage did its work and "0" otherwise, so a
// test can check the stage ran on a valid payload.
func stageDone(ok bool) int32 {
	if ok {
		pdk.Output([]byte{'1'})
	} else {
		pdk.Output([]byte{'0'})
	}
	return 0
}

type config struct {
	Roles       []string `json:"roles"`
	Permissions []string `json:"permissions"`
}

func readConfig() config {
	var c config
	if raw, ok := pdk.GetConfig("config"); ok {
		json.Unmarshal([]byte(raw), &c)
	}
	return c
}

//go:wasmexport rbac_roles
func rbacRoles() int32 {
	return guest.OK(map[string]any{"roles": readConfig().Roles})
}

//go:wasmexport rbac_permissions
func rbacPermissions() int32 {
	var in struct {
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if err := pdk.InputJSON(&in); err != nil {
		return guest.Fail("invalid_request", err.Error())
	}
	if in.User.ID == "" {
		return guest.Fail("invalid_request", "user id is required")
	}
	if in.User.ID == "unknown" {
		return guest.Fail("not_found", "no such user")
	}
	if in.User.ID == "weird" {
		return guest.Fail("teapot", "not a code")
	}
	return guest.OK(map[string]any{"permissions": readConfig().Permissions})
}

// hostcall forwards {"fn":…,"req":{…}} to a host function and returns the
// host's envelope unchanged.
//
//go:wasmexport hostcall
func hostcall() int32 {
	var in struct {
		Fn  string          `json:"fn"`
		Req json.RawMessage `json:"req"`
	}
	if err := pdk.InputJSON(&in); err != nil {
		return guest.Fail("invalid_request", err.Error())
	}
	pdk.Output(guest.CallHost(in.Fn, in.Req))
	return 0
}

//go:wasmexport fail
func fail() int32 { return guest.Fail("invalid_credentials", "wrong password") }

//go:wasmexport crash
func crash() int32 { panic("echo: crash requested") }

//go:wasmexport entropy
func entropy() int32 {
	b := make([]byte, 16)
	rand.Read(b)
	return guest.OK(map[string]any{"random": hex.EncodeToString(b), "unix": time.Now().Unix()})
}

//go:wasmexport stdout
func stdout() int32 {
	fmt.Println("hello from " + Name + " stdout")
	fmt.Fprintln(os.Stderr, "hello from "+Name+" stderr")
	return guest.OK(nil)
}

//go:wasmexport big
func big() int32 {
	var n int
	pdk.InputJSON(&n)
	return guest.OK(strings.Repeat("x", n))
}
