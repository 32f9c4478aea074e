package wire

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/authhost/authhost/abi"
)

// Inner and outer exercise embedded structs: promoted fields, a field of
// the outer struct shadowing an embedded one, and a tagged embedded struct
// (not promoted).
type Inner struct {
	A string `json:"a"`
	B string `json:"b"`
}

type Tagged struct {
	C string `json:"c"`
}

type outer struct {
	Inner
	Tagged `json:"tagged"`
	B      string `json:"b"`
}

type omit struct {
	S  string            `json:"s,omitempty"`
	I  int               `json:"i,omitempty"`
	F  bool              `json:"f,omitempty"`
	P  *string           `json:"p,omitempty"`
	L  []string          `json:"l,omitempty"`
	M  map[string]string `json:"m,omitempty"`
	T  time.Time         `json:"t,omitempty"`
	NL []string          `json:"nl"`
	NM map[string]string `json:"nm"`
	R  json.RawMessage   `json:"r,omitempty"`
	B  []byte            `json:"b,omitempty"`
}

// TestSameAsV1 decodes and encodes the ABI's types and tricky inputs with
// Marshal and Unmarshal and checks the results encoding/json (v1) gives:
// the expectations were taken from a plain build, and the test runs on both
// paths (TestJSONv2Path runs it again with GOEXPERIMENT=jsonv2). Where the
// v2 engine writes other bytes for the same JSON value (U+FFFD unescaped),
// the case says so (v2Bytes); error texts are not compared.
func TestSameAsV1(t *testing.T) {
	t.Parallel()
	t.Logf("encoding/json/v2 path: %v", jsonv2Build)
	created := time.Date(2025, 5, 15, 10, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		in   string
		into func() any // a pointer, maybe with values already set
		want any        // the value behind the pointer after decoding
		err  bool
	}{
		{"exact names", `{"id":"u1","email":"a@x","roles":["r"]}`, func() any { return &abi.User{} },
			&abi.User{ID: "u1", Email: "a@x", Roles: []string{"r"}}, false},
		{"case variants of names", `{"ID":"u1","EMAIL":"a@x","Avatar_URL":"http://a"}`, func() any { return &abi.User{} },
			&abi.User{ID: "u1", Email: "a@x", AvatarURL: "http://a"}, false},
		{"delimiters are not folded", `{"avatarurl":"x","avatar-url":"y"}`, func() any { return &abi.User{} },
			&abi.User{}, false},
		{"unicode look-alike: Kelvin sign folds to k as in v1", `{"\u212Aey":"x"}`, func() any { return &struct{ Key string }{} },
			&struct{ Key string }{Key: "x"}, false},
		{"unicode look-alike: dotless i does not match", `{"\u0131d":"x"}`, func() any { return &abi.User{} },
			&abi.User{}, false},
		{"unicode look-alike: fullwidth letters do not match", `{"\uff49\uff44":"x"}`, func() any { return &abi.User{} },
			&abi.User{}, false},
		{"IP literals are plain strings", `{"url":"http://[::1]:8080/?ip=127.0.0.1"}`, func() any { return &abi.URLResult{} },
			&abi.URLResult{URL: "http://[::1]:8080/?ip=127.0.0.1"}, false},
		{"duplicate keys: the last wins", `{"id":"a","id":"b"}`, func() any { return &abi.User{} },
			&abi.User{ID: "b"}, false},
		{"duplicate keys merge objects", `{"metadata":{"a":1},"metadata":{"b":2}}`, func() any { return &abi.User{} },
			&abi.User{Metadata: map[string]any{"a": 1.0, "b": 2.0}}, false},
		{"null leaves values as they were", `{"id":null,"email":null,"roles":null}`,
			func() any { return &abi.User{ID: "keep", Email: "e", Roles: []string{"r"}} },
			&abi.User{ID: "keep", Email: "e"}, false},
		{"top-level null", `null`, func() any { return &abi.User{ID: "keep"} }, &abi.User{ID: "keep"}, false},
		{"null in a map keeps the key", `{"metadata":{"a":null}}`, func() any { return &abi.User{} },
			&abi.User{Metadata: map[string]any{"a": nil}}, false},
		{"invalid UTF-8 becomes U+FFFD", "{\"id\":\"a\xffb\"}", func() any { return &abi.User{} },
			&abi.User{ID: "a\uFFFDb"}, false},
		{"escaped control characters", `{"id":"a\u0000\n\t\u001f"}`, func() any { return &abi.User{} },
			&abi.User{ID: "a\x00\n\t\x1f"}, false},
		{"raw control character", "{\"id\":\"a\x01\"}", func() any { return &abi.User{} }, nil, true},
		{"lone surrogate escape", `{"id":"\ud800"}`, func() any { return &abi.User{} }, &abi.User{ID: "\uFFFD"}, false},
		{"big number into any is float64", `{"metadata":{"n":12345678901234567890}}`, func() any { return &abi.User{} },
			&abi.User{Metadata: map[string]any{"n": 12345678901234567890.0}}, false},
		{"big number into int fails", `{"cache_seconds":12345678901234567890}`, func() any { return &abi.Session{} }, nil, true},
		{"fraction into int fails", `{"cache_seconds":1.5}`, func() any { return &abi.Session{} }, nil, true},
		{"out-of-range float fails", `{"metadata":{"n":1e400}}`, func() any { return &abi.User{} }, nil, true},
		{"string into int fails", `{"cache_seconds":"5"}`, func() any { return &abi.Session{} }, nil, true},
		{"unknown fields are ignored", `{"id":"u1","nope":{"deep":[1,2,{"x":null}]}}`, func() any { return &abi.User{} },
			&abi.User{ID: "u1"}, false},
		{"embedded structs", `{"a":"1","b":"2","c":"3","tagged":{"c":"4"}}`, func() any { return &outer{} },
			&outer{Inner: Inner{A: "1"}, Tagged: Tagged{C: "4"}, B: "2"}, false},
		{"time with offset and fraction", `{"id":"s","user_id":"u","expires_at":"2025-05-15T12:30:00.123+02:00","created_at":"2025-05-15T10:30:00Z"}`,
			func() any { return &abi.Session{} },
			&abi.Session{ID: "s", UserID: "u", ExpiresAt: time.Date(2025, 5, 15, 12, 30, 0, 123e6, time.FixedZone("", 7200)), CreatedAt: created}, false},
		{"time not RFC 3339", `{"expires_at":"2025-05-15 10:30:00"}`, func() any { return &abi.Session{} }, nil, true},
		{"raw message keeps its bytes", `{"config":{ "a" : [1, 2] }}`, func() any { return &abi.ConfigureRequest{} },
			&abi.ConfigureRequest{Config: json.RawMessage(`{ "a" : [1, 2] }`)}, false},
		{"raw message null", `{"config":null}`, func() any { return &abi.ConfigureRequest{} },
			&abi.ConfigureRequest{Config: json.RawMessage(`null`)}, false},
		{"base64 body", `{"method":"GET","url":"http://127.0.0.1/","body":"aGk="}`, func() any { return &abi.HTTPRequest{} },
			&abi.HTTPRequest{Method: "GET", URL: "http://127.0.0.1/", Body: []byte("hi")}, false},
		{"envelope", `{"ok":false,"error":{"code":"not_found","message":"m","field":"f"}}`, func() any { return &abi.Envelope{} },
			&abi.Envelope{Error: &abi.Error{Code: abi.CodeNotFound, Message: "m", Field: "f"}}, false},
		{"trailing garbage", `{"id":"u1"} x`, func() any { return &abi.User{} }, nil, true},
		{"truncated", `{"id":"u1"`, func() any { return &abi.User{} }, nil, true},
		{"empty input", ``, func() any { return &abi.User{} }, nil, true},
	} {
		t.Run("decode/"+tc.name, func(t *testing.T) {
			got := tc.into()
			err := Unmarshal([]byte(tc.in), got)
			if tc.err {
				if err == nil {
					t.Fatalf("Unmarshal(%s) = %+v, want an error", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Unmarshal(%s): %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Unmarshal(%s) = %#v, want %#v", tc.in, got, tc.want)
			}
		})
	}

	s := "x"
	for _, tc := range []struct {
		name    string
		in      any
		want    string
		v2Bytes bool // the v2 path may write other bytes for the same JSON value
	}{
		{"omitempty as in v1", omit{}, `{"t":"0001-01-01T00:00:00Z","nl":null,"nm":null}`, false},
		{"omitempty keeps set values", omit{S: "s", I: 1, F: true, P: &s, L: []string{}, M: map[string]string{}, NL: []string{}, NM: map[string]string{}},
			`{"s":"s","i":1,"f":true,"p":"x","t":"0001-01-01T00:00:00Z","nl":[],"nm":{}}`, false},
		{"html and line separators escaped", abi.User{ID: "<a>&\u2028\u2029"}, `{"id":"\u003ca\u003e\u0026\u2028\u2029"}`, false},
		{"control characters and invalid UTF-8", abi.User{ID: "a\x00\x1f\n\xff"}, `{"id":"a\u0000\u001f\n\ufffd"}`, true}, // v2: U+FFFD unescaped
		{"raw message is compacted", omit{R: json.RawMessage(`{ "a" : [1, 2] }`)}, `{"t":"0001-01-01T00:00:00Z","nl":null,"nm":null,"r":{"a":[1,2]}}`, false},
		{"bytes as base64", abi.HTTPRequest{Method: "GET", Body: []byte("hi")}, `{"method":"GET","url":"","body":"aGk="}`, false},
		{"time", abi.Session{ID: "s", ExpiresAt: time.Date(2025, 5, 15, 12, 30, 0, 123e6, time.FixedZone("", 7200))},
			`{"id":"s","user_id":"","expires_at":"2025-05-15T12:30:00.123+02:00","created_at":"0001-01-01T00:00:00Z"}`, false},
		{"embedded structs", outer{Inner: Inner{A: "1", B: "shadowed"}, Tagged: Tagged{C: "3"}, B: "2"}, `{"a":"1","tagged":{"c":"3"},"b":"2"}`, false},
		{"big numbers", map[string]any{"f": 1e21, "i": int64(1) << 62, "u": uint64(1<<64 - 1)},
			`{"f":1e+21,"i":4611686018427387904,"u":18446744073709551615}`, false},
		{"map keys sorted", abi.User{ID: "u", Metadata: map[string]any{"b": 1, "a": nil, "c": []any{}, "B": 2}}, `{"id":"u","metadata":{"B":2,"a":null,"b":1,"c":[]}}`, false},
		{"success envelope data", abi.SessionResult{Session: &abi.Session{ID: "s", CreatedAt: created, ExpiresAt: created}},
			`{"session":{"id":"s","user_id":"","expires_at":"2025-05-15T10:30:00Z","created_at":"2025-05-15T10:30:00Z"}}`, false},
	} {
		t.Run("encode/"+tc.name, func(t *testing.T) {
			got, err := Marshal(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) == tc.want {
				return
			}
			if !tc.v2Bytes || !jsonv2Build || !sameJSON(t, got, []byte(tc.want)) {
				t.Fatalf("Marshal = %s, want %s", got, tc.want)
			}
		})
	}
	t.Run("encode/unsupported", func(t *testing.T) {
		if _, err := Marshal(map[string]any{"c": make(chan int)}); err == nil {
			t.Fatal("Marshal encoded a channel")
		}
	})
}

// sameJSON reports whether a and b are the same JSON value.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}

func TestSuccessAndDecode(t *testing.T) {
	t.Parallel()
	res := abi.URLResult{URL: "http://127.0.0.1/?a=<b>"}
	got, err := Success(res)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := abi.Success(res)
	if string(got) != string(want) {
		t.Fatalf("Success = %s, want abi.Success's %s", got, want)
	}
	var back abi.URLResult
	if err := Decode(got, &back); err != nil || back != res {
		t.Fatalf("Decode = %+v, %v", back, err)
	}
	err = Decode(abi.Failure(abi.Errorf(abi.CodeNotFound, "gone")), &back)
	if !abi.IsCode(err, abi.CodeNotFound) {
		t.Fatalf("Decode of a failure = %v, want not_found", err)
	}
	if _, err := Success(make(chan int)); err == nil {
		t.Fatal("Success encoded a channel")
	}
	for _, raw := range []string{`{"ok":false}`, `{"ok":true,"data":{"url":1}}`, `nope`} {
		if err := Decode([]byte(raw), &back); err == nil || errors.As(err, new(*abi.Error)) {
			t.Fatalf("Decode(%s) = %v, want a malformed-envelope error", raw, err)
		}
	}
}

// TestJSONv2Path runs TestSameAsV1 and TestSuccessAndDecode again in a
// build with GOEXPERIMENT=jsonv2 (the build of authhost's providers), so a
// plain `go test` covers both paths of Marshal and Unmarshal.
func TestJSONv2Path(t *testing.T) {
	if jsonv2Build {
		t.Skip("this is the encoding/json/v2 build")
	}
	if testing.Short() {
		t.Skip("builds the package again (-short)")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	cmd := exec.Command(gobin, "test", "-count=1", "-run", "^(TestSameAsV1|TestSuccessAndDecode)$", "-v", ".")
	cmd.Env = append(os.Environ(), "GOEXPERIMENT=jsonv2", "GOFLAGS=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("GOEXPERIMENT=jsonv2 go test: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "encoding/json/v2 path: true") {
		t.Fatalf("the GOEXPERIMENT=jsonv2 run did not take the v2 path:\n%s", out)
	}
}
