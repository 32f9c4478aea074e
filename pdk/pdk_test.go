package pdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk"
	"github.com/authhost/authhost/pdk/pdktest"
)

// users is a test provider offering user and rbac (with RoleDefiner).
type users struct{}

func (users) CurrentUser(_ context.Context, req abi.Request) (*abi.User, error) {
	if len(req.Headers["Authorization"]) == 0 {
		return nil, nil
	}
	return &abi.User{ID: "u1"}, nil
}

func (users) GetUser(_ context.Context, id string) (*abi.User, error) {
	switch id {
	case "u1":
		return &abi.User{ID: "u1", Email: "a@example.com"}, nil
	case "boom":
		panic("kaboom")
	case "coded":
		return nil, pdk.Errorf(abi.CodeUnavailable, "directory down")
	case "plain":
		return nil, errors.New("plain failure")
	}
	return nil, nil
}

func (users) Roles(context.Context, abi.User) ([]string, error)       { return nil, nil }
func (users) Permissions(context.Context, abi.User) ([]string, error) { return []string{"*"}, nil }
func (users) RoleDefinitions(context.Context) ([]abi.RoleDefinition, error) {
	return []abi.RoleDefinition{{ID: "owner", Name: "Owner"}}, nil
}

type creds struct{}

func (creds) SignIn(context.Context, abi.SignInRequest) (*abi.CredentialsResult, error) {
	return nil, nil // a bug: success without a result
}
func (creds) SignUp(context.Context, abi.SignUpRequest) (*abi.CredentialsResult, error) {
	return &abi.CredentialsResult{User: abi.User{ID: "new"}}, nil
}

func testProvider() *pdk.Provider {
	return &pdk.Provider{
		Name: "test-users", Version: "0.1.0",
		ConfigSchema: json.RawMessage(`{"type":"object"}`),
		User:         users{}, RBAC: users{}, Credentials: creds{},
	}
}

func TestDescribe(t *testing.T) {
	env := pdktest.New(t, pdktest.WithProvider(testProvider()))
	d := env.Describe()
	if d.ABI != abi.Version || d.Name != "test-users" || d.Version != "0.1.0" {
		t.Fatalf("describe = %+v", d)
	}
	want := []abi.Capability{abi.CapUser, abi.CapCredentials, abi.CapRBAC}
	if !slices.Equal(d.Capabilities, want) {
		t.Fatalf("capabilities = %v, want %v", d.Capabilities, want)
	}
	if string(d.ConfigSchema) != `{"type":"object"}` {
		t.Fatalf("config schema = %s", d.ConfigSchema)
	}
}

func TestCallResults(t *testing.T) {
	env := pdktest.New(t, pdktest.WithProvider(testProvider()))
	tests := []struct {
		name   string
		export string
		input  any
		want   string // exact output
	}{
		{"user found", abi.ExportUserGet, `{"id":"u1"}`, `{"ok":true,"data":{"user":{"id":"u1","email":"a@example.com"}}}`},
		{"user missing is null", abi.ExportUserGet, `{"id":"nobody"}`, `{"ok":true,"data":{"user":null}}`},
		{"no identity", abi.ExportUserCurrent, `{"request":{}}`, `{"ok":true,"data":{"user":null}}`},
		{"identity", abi.ExportUserCurrent, `{"request":{"headers":{"Authorization":["Bearer x"]}}}`, `{"ok":true,"data":{"user":{"id":"u1"}}}`},
		{"unknown fields ignored", abi.ExportUserGet, `{"id":"u1","future":1}`, `{"ok":true,"data":{"user":{"id":"u1","email":"a@example.com"}}}`},
		{"nil slice is []", abi.ExportRBACRoles, `{"user":{"id":"u1"}}`, `{"ok":true,"data":{"roles":[]}}`},
		{"role definitions", abi.ExportRBACRoleDefinitions, nil, `{"ok":true,"data":{"roles":[{"id":"owner","name":"Owner","permissions":[]}]}}`},
		{"sign-up enabled by default", abi.ExportCredentialsSignUpEnabled, nil, `{"ok":true,"data":{"enabled":true}}`},
		{"malformed input", abi.ExportUserGet, `{"id":`, ``},
		{"wrong type", abi.ExportUserGet, `{"id":7}`, ``},
		{"coded error", abi.ExportUserGet, `{"id":"coded"}`, `{"ok":false,"error":{"code":"unavailable","message":"directory down"}}`},
		{"plain error is internal", abi.ExportUserGet, `{"id":"plain"}`, `{"ok":false,"error":{"code":"internal","message":"plain failure"}}`},
		{"nil result is internal", abi.ExportCredentialsSignIn, `{"email":"a","password":"b"}`, `{"ok":false,"error":{"code":"internal","message":"credentials_sign_in: provider returned no result"}}`},
		{"capability not offered", abi.ExportSessionCreate, `{"user_id":"u1"}`, `{"ok":false,"error":{"code":"not_supported","message":"session_create is not supported by this provider"}}`},
		{"optional not implemented", abi.ExportUserProfileURL, `{"user":{"id":"u1"}}`, `{"ok":false,"error":{"code":"not_supported","message":"user_profile_url is not supported by this provider"}}`},
		{"unknown export", "nope", nil, `{"ok":false,"error":{"code":"not_supported","message":"unknown export \"nope\""}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(env.Call(tt.export, tt.input))
			if tt.want == "" { // invalid_request with a parser message
				var e abi.Envelope
				if err := json.Unmarshal([]byte(got), &e); err != nil || e.OK || e.Error.Code != abi.CodeInvalidRequest {
					t.Fatalf("got %s, want invalid_request", got)
				}
				return
			}
			if got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestPanicBecomesInternal(t *testing.T) {
	env := pdktest.New(t, pdktest.WithProvider(testProvider()))
	err := env.Invoke(abi.ExportUserGet, abi.UserGetRequest{ID: "boom"}, nil)
	if !abi.IsCode(err, abi.CodeInternal) || !strings.Contains(err.Error(), "kaboom") {
		t.Fatalf("err = %v, want internal with the panic value", err)
	}
	logs := env.Logs()
	if len(logs) != 1 || logs[0].Level != "error" || logs[0].Attrs["export"] != abi.ExportUserGet {
		t.Fatalf("logs = %+v", logs)
	}
	var res abi.UserResult // the provider keeps serving
	if err := env.Invoke(abi.ExportUserGet, abi.UserGetRequest{ID: "u1"}, &res); err != nil || res.User == nil {
		t.Fatalf("after panic: %v %+v", err, res)
	}
}

func TestEveryExportAnswersEnvelope(t *testing.T) {
	env := pdktest.New(t, pdktest.WithProvider(&pdk.Provider{Name: "empty", Version: "1", Webhook: hook{}}))
	for _, name := range pdk.Exports() {
		if name == abi.ExportDescribe {
			continue
		}
		for _, in := range []string{"", "{}", "null", "[", `"x"`} {
			raw := env.Call(name, in)
			var e abi.Envelope
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatalf("%s(%q): not an envelope: %s", name, in, raw)
			}
			if !e.OK && !e.Error.Code.Valid() {
				t.Fatalf("%s(%q): bad code: %s", name, in, raw)
			}
		}
	}
}

type hook struct{}

func (hook) HandleWebhook(context.Context, abi.WebhookRequest) (*abi.WebhookResult, error) {
	return &abi.WebhookResult{Status: 204}, nil
}

// TestExportsCoverABI checks that the PDK serves exactly the ABI's exports
// and that exports_wasip1.go declares a //go:wasmexport for each.
func TestExportsCoverABI(t *testing.T) {
	src, err := os.ReadFile("exports_wasip1.go")
	if err != nil {
		t.Fatal(err)
	}
	var declared []string
	for _, m := range regexp.MustCompile(`(?m)^//go:wasmexport (\S+)$`).FindAllStringSubmatch(string(src), -1) {
		declared = append(declared, m[1])
	}
	want := pdk.Exports()
	slices.Sort(declared)
	slices.Sort(want)
	if !slices.Equal(declared, want) {
		t.Fatalf("wasmexports %v\nwant        %v", declared, want)
	}
	for _, c := range abi.Capabilities {
		e, _ := abi.ExportsOf(c)
		for _, n := range append(e.Required, e.Optional...) {
			if !slices.Contains(declared, n) {
				t.Errorf("export %s of %s not declared", n, c)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	ok := pdk.Provider{Name: "a-b1", Version: "1", User: users{}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]pdk.Provider{
		"upper":       {Name: "Users", Version: "1", User: users{}},
		"empty":       {Name: "", Version: "1", User: users{}},
		"digit first": {Name: "1x", Version: "1", User: users{}},
		"no version":  {Name: "x", User: users{}},
		"no caps":     {Name: "x", Version: "1"},
		"bad schema":  {Name: "x", Version: "1", User: users{}, ConfigSchema: json.RawMessage(`{`)},
		"bad button":  {Name: "x", Version: "1", User: users{}, Login: &abi.LoginButton{Text: "t"}},
	} {
		if err := p.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, p)
		}
	}
}

func TestConfig(t *testing.T) {
	env := pdktest.New(t, pdktest.WithProvider(testProvider()))
	var c struct {
		A int `json:"a"`
	}
	if err := pdk.Config(&c); err != nil || c.A != 0 || string(pdk.ConfigJSON()) != "{}" {
		t.Fatalf("missing config: %v %+v %s", err, c, pdk.ConfigJSON())
	}
	env.SetConfig(map[string]any{"a": 3, "b": true})
	if err := pdk.Config(&c); err != nil || c.A != 3 {
		t.Fatalf("config: %v %+v", err, c)
	}
	env.SetConfig(`{"a":`)
	if err := pdk.Config(&c); !abi.IsCode(err, abi.CodeInternal) {
		t.Fatalf("malformed config: %v", err)
	}
}

func TestKV(t *testing.T) {
	env := pdktest.New(t, pdktest.WithProvider(testProvider()))
	now := time.Unix(1_700_000_000, 0)
	env.SetClock(func() time.Time { return now })

	if _, ok, err := pdk.KV.Get("k"); ok || err != nil {
		t.Fatalf("missing: %v %v", ok, err)
	}
	if err := pdk.KV.Set("k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if err := pdk.KV.Set("t", []byte("x"), 1500*time.Millisecond); err != nil { // rounds up to 2 s
		t.Fatal(err)
	}
	if v, ok, err := pdk.KV.Get("k"); !ok || err != nil || string(v) != "v" {
		t.Fatalf("get: %q %v %v", v, ok, err)
	}
	now = now.Add(1900 * time.Millisecond)
	if _, ok, _ := pdk.KV.Get("t"); !ok {
		t.Fatal("ttl key expired early")
	}
	now = now.Add(200 * time.Millisecond)
	if _, ok, _ := pdk.KV.Get("t"); ok {
		t.Fatal("ttl key did not expire")
	}
	if err := pdk.KV.SetJSON("j", map[string]int{"n": 1}, 0); err != nil {
		t.Fatal(err)
	}
	var j map[string]int
	if ok, err := pdk.KV.GetJSON("j", &j); !ok || err != nil || j["n"] != 1 {
		t.Fatalf("json: %v %v %v", ok, err, j)
	}
	if err := pdk.KV.Delete("k"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := pdk.KV.Get("k"); ok {
		t.Fatal("deleted key still there")
	}
	if err := pdk.KV.Set("", nil, 0); !abi.IsCode(err, abi.CodeInvalidRequest) {
		t.Fatalf("empty key: %v", err)
	}
	if err := pdk.KV.Set(strings.Repeat("k", abi.DefaultMaxKVKeyBytes+1), nil, 0); !abi.IsCode(err, abi.CodeInvalidRequest) {
		t.Fatalf("long key: %v", err)
	}
	env.FailHost(abi.HostKVGet, abi.Errorf(abi.CodeUnavailable, "store down"))
	if _, _, err := pdk.KV.Get("j"); !abi.IsCode(err, abi.CodeUnavailable) {
		t.Fatalf("host failure: %v", err)
	}
}

func TestLog(t *testing.T) {
	env := pdktest.New(t, pdktest.WithProvider(testProvider()))
	pdk.Log.Debug("d")
	pdk.Log.With("plugin_attr", 1).WithGroup("g").Info("hello", "user", "u1", "err", errors.New("bad"), "d", time.Second)
	pdk.Log.Warn("w")
	pdk.Log.Error("e", "n", 2.5)
	logs := env.Logs()
	if len(logs) != 4 {
		t.Fatalf("logs = %+v", logs)
	}
	levels := []string{logs[0].Level, logs[1].Level, logs[2].Level, logs[3].Level}
	if !slices.Equal(levels, []string{"debug", "info", "warn", "error"}) {
		t.Fatalf("levels = %v", levels)
	}
	got, _ := json.Marshal(logs[1])
	want := `{"level":"info","message":"hello","attrs":{"g":{"d":"1s","err":"bad","user":"u1"},"plugin_attr":1}}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		w.Header().Set("X-Echo-Auth", r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(r.Method + " " + r.URL.Path + " " + string(body)))
	}))
	defer srv.Close()
	env := pdktest.New(t, pdktest.WithProvider(testProvider()), pdktest.WithTransport(srv.Client().Transport))

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/users?x=1", strings.NewReader("payload"))
	req.Header.Set("Authorization", "Bearer k")
	resp, err := pdk.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || string(body) != "POST /users payload" || resp.Status != "201 Created" {
		t.Fatalf("resp %d %q %q", resp.StatusCode, resp.Status, body)
	}
	if got := resp.Header.Values("X-Multi"); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("X-Multi = %v", got)
	}
	if resp.Header.Get("X-Echo-Auth") != "Bearer k" {
		t.Fatalf("auth header not sent: %v", resp.Header)
	}

	// Transport failures are errors carrying the host's code, never panics.
	env.FailHost(abi.HostHTTPDo, abi.Errorf(abi.CodeForbidden, "host evil.example is not in allowed_hosts"))
	_, err = pdk.HTTPClient().Get("http://evil.example/")
	if !abi.IsCode(err, abi.CodeForbidden) {
		t.Fatalf("forbidden: %v", err)
	}
	env.FailHost(abi.HostHTTPDo, nil)
	srv.Close()
	_, err = pdk.HTTPClient().Get(srv.URL)
	if !abi.IsCode(err, abi.CodeUnavailable) {
		t.Fatalf("refused: %v", err)
	}
	// A handler returning that error answers its code.
	if got := pdk.CodeOf(pdk.WithCode(abi.CodeInternal, err)); got != abi.CodeUnavailable {
		t.Fatalf("WithCode overrode the carried code: %v", got)
	}
}

func TestNativeHostWithoutEnv(t *testing.T) {
	// No Env installed: host functions fail with unavailable, config is {}.
	if _, _, err := pdk.KV.Get("k"); !abi.IsCode(err, abi.CodeUnavailable) {
		t.Fatalf("kv without env: %v", err)
	}
	if string(pdk.ConfigJSON()) != "{}" {
		t.Fatalf("config without env: %s", pdk.ConfigJSON())
	}
	pdk.Log.Info("dropped") // must not panic
}

func TestErrorHelpers(t *testing.T) {
	if pdk.WithCode(abi.CodeNotFound, nil) != nil {
		t.Fatal("WithCode(nil) != nil")
	}
	err := pdk.WithCode(abi.CodeNotFound, errors.New("gone"))
	if !pdk.IsCode(err, abi.CodeNotFound) || err.Error() != "not_found: gone" {
		t.Fatalf("WithCode: %v", err)
	}
	if pdk.CodeOf(errors.New("x")) != abi.CodeInternal {
		t.Fatal("plain error not internal")
	}
}

// auditLog is an audit provider without exports; exporter adds them.
type auditLog struct{}

func (auditLog) LogEvent(context.Context, abi.AuditEvent) error { return nil }

type exporter struct{ auditLog }

func (exporter) CreateAuditExport(_ context.Context, r abi.AuditExportRequest) (*abi.AuditExport, error) {
	if len(r.Actions) == 1 && r.Actions[0] == "boom" {
		return nil, pdk.Errorf(abi.CodeRateLimited, "slow down")
	}
	return &abi.AuditExport{ID: "ex1:" + strings.Join(r.Actions, ","), State: abi.AuditExportPending}, nil
}

func (exporter) GetAuditExport(_ context.Context, id string) (*abi.AuditExport, error) {
	if id != "ex1" {
		return nil, nil
	}
	return &abi.AuditExport{ID: id, State: abi.AuditExportReady, URL: "https://dl/ex1"}, nil
}

func TestAuditExportDispatch(t *testing.T) {
	with := pdktest.New(t, pdktest.WithProvider(&pdk.Provider{Name: "exp", Version: "1", Audit: exporter{}}))
	without := pdktest.New(t, pdktest.WithProvider(&pdk.Provider{Name: "log", Version: "1", Audit: auditLog{}}))
	rng := `"range_start":"2026-01-01T00:00:00Z","range_end":"2026-02-01T00:00:00Z"`
	tests := []struct {
		name   string
		env    *pdktest.Env
		export string
		input  string
		want   string
	}{
		{"create", with, abi.ExportAuditExportCreate, `{` + rng + `,"actions":["a","b"]}`, `{"ok":true,"data":{"id":"ex1:a,b","state":"pending"}}`},
		{"create without range", with, abi.ExportAuditExportCreate, `{"actions":["a"]}`, `{"ok":false,"error":{"code":"invalid_request","message":"audit_export_create: range_start and range_end are required"}}`},
		{"create with reversed range", with, abi.ExportAuditExportCreate, `{"range_start":"2026-02-01T00:00:00Z","range_end":"2026-01-01T00:00:00Z"}`, `{"ok":false,"error":{"code":"invalid_request","message":"audit_export_create: range_end is before range_start"}}`},
		{"provider error keeps its code", with, abi.ExportAuditExportCreate, `{` + rng + `,"actions":["boom"]}`, `{"ok":false,"error":{"code":"rate_limited","message":"slow down"}}`},
		{"get ready", with, abi.ExportAuditExportGet, `{"id":"ex1"}`, `{"ok":true,"data":{"id":"ex1","state":"ready","url":"https://dl/ex1"}}`},
		{"get unknown is not_found", with, abi.ExportAuditExportGet, `{"id":"nope"}`, `{"ok":false,"error":{"code":"not_found","message":"audit_export_get: export \"nope\" not found"}}`},
		{"get without id", with, abi.ExportAuditExportGet, `{}`, `{"ok":false,"error":{"code":"invalid_request","message":"audit_export_get: id is required"}}`},
		{"create not implemented", without, abi.ExportAuditExportCreate, `{` + rng + `}`, `{"ok":false,"error":{"code":"not_supported","message":"audit_export_create is not supported by this provider"}}`},
		{"get not implemented", without, abi.ExportAuditExportGet, `{"id":"ex1"}`, `{"ok":false,"error":{"code":"not_supported","message":"audit_export_get is not supported by this provider"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(tt.env.Call(tt.export, tt.input)); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
