package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/abi/passhash"
	"github.com/authhost/authhost/pdk/pdktest"
)

// Hashes are made once per test binary (argon2id costs ~50 ms natively).
var (
	hashOnce           sync.Once
	aliceHash, bobHash string // argon2id of "alice-password", bcrypt of "bob-password"
)

func hashes(t *testing.T) (string, string) {
	t.Helper()
	hashOnce.Do(func() {
		var err error
		req := signUpHash
		req.Password = "alice-password"
		if aliceHash, err = passhash.Hash(req); err != nil {
			t.Fatal(err)
		}
		// bcrypt cost 10 of "bob-password".
		bobHash = "$2a$10$2kZ/QyTK1EdZaCz.VNohpucOtjzqkxME1wdO2/njX0q1Pl2mrvw8C"
	})
	return aliceHash, bobHash
}

func testConfig(t *testing.T) map[string]any {
	alice, bob := hashes(t)
	return map[string]any{
		"users": []map[string]any{
			{"id": "alice", "email": "Alice@Example.com", "name": "Alice", "password_hash": alice, "roles": []string{"editor"}, "demo": true},
			{"email": "bob@example.com", "password_hash": bob, "roles": []string{"looper"}},
		},
		"roles": []map[string]any{
			{"id": "viewer", "name": "Viewer", "permissions": []string{"agents:read", "logs:read"}},
			{"id": "editor", "name": "Editor", "permissions": []string{"agents:write"}, "inherits": []string{"viewer", "ghost"}},
			// A cycle: looper -> spinner -> looper.
			{"id": "looper", "permissions": []string{"a:1"}, "inherits": []string{"spinner"}},
			{"id": "spinner", "permissions": []string{"b:2"}, "inherits": []string{"looper", "viewer"}},
		},
		"default_role": "viewer",
	}
}

func signIn(env *pdktest.Env, email, password string) (abi.CredentialsResult, error) {
	var res abi.CredentialsResult
	err := env.Invoke(abi.ExportCredentialsSignIn, abi.SignInRequest{Email: email, Password: password}, &res)
	return res, err
}

func TestDescribe(t *testing.T) {
	env := pdktest.New(t)
	d := env.Describe()
	if d.Name != "static-users" || d.Version != version || d.ManagesSessions || d.Login != nil {
		t.Fatalf("describe = %+v", d)
	}
	if want := []abi.Capability{abi.CapUser, abi.CapCredentials, abi.CapRBAC}; !slices.Equal(d.Capabilities, want) {
		t.Fatalf("capabilities = %v", d.Capabilities)
	}
	if len(d.ConfigSchema) == 0 {
		t.Fatal("no config schema")
	}
}

func TestSignIn(t *testing.T) {
	env := pdktest.New(t, pdktest.WithConfig(testConfig(t)))
	tests := []struct {
		name, email, password string
		wantID                string
		wantCode              abi.Code
	}{
		{"argon2id ok, email folded", " alice@EXAMPLE.com ", "alice-password", "alice", ""},
		{"bcrypt ok", "bob@example.com", "bob-password", userID("bob@example.com"), ""},
		{"wrong password", "alice@example.com", "alice-passwordX", "", abi.CodeInvalidCredentials},
		{"wrong bcrypt password", "bob@example.com", "nope", "", abi.CodeInvalidCredentials},
		{"unknown email", "mallory@example.com", "alice-password", "", abi.CodeInvalidCredentials},
		{"empty", "", "", "", abi.CodeInvalidCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := signIn(env, tt.email, tt.password)
			if tt.wantCode != "" {
				if !abi.IsCode(err, tt.wantCode) {
					t.Fatalf("err = %v, want %s", err, tt.wantCode)
				}
				if err.Error() != "invalid_credentials: invalid email or password" {
					t.Fatalf("message not generic: %v", err)
				}
				return
			}
			if err != nil || res.User.ID != tt.wantID {
				t.Fatalf("res = %+v, err = %v", res, err)
			}
			if res.Session != nil || res.Token != "" || len(res.SetCookie) > 0 {
				t.Fatalf("provider must not issue sessions: %+v", res)
			}
		})
	}
	res, _ := signIn(env, "alice@example.com", "alice-password")
	if res.User.Email != "alice@example.com" || res.User.Name != "Alice" || res.User.Metadata["demo"] != true || !slices.Equal(res.User.Roles, []string{"editor"}) {
		t.Fatalf("user = %+v", res.User)
	}
}

// TestUnknownEmailSpendsAHash checks the timing defence: signing in with an
// unknown email verifies a dummy hash of the first user's cost.
func TestUnknownEmailSpendsAHash(t *testing.T) {
	env := pdktest.New(t, pdktest.WithConfig(testConfig(t)))
	cfg, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	d, err := cfg.dummyHash()
	if err != nil || !strings.HasPrefix(d, "$argon2id$v=19$m=19456,t=2,p=1$") || checkHash(d) != nil {
		t.Fatalf("dummy hash %q does not mirror the first user's params", d)
	}
	measure := func(email string) time.Duration {
		best := time.Hour
		for range 3 {
			t0 := time.Now()
			if _, err := signIn(env, email, "wrong-password"); !abi.IsCode(err, abi.CodeInvalidCredentials) {
				t.Fatal(err)
			}
			best = min(best, time.Since(t0))
		}
		return best
	}
	known, unknown := measure("alice@example.com"), measure("nobody@example.com")
	if unknown < known/3 {
		t.Fatalf("unknown email took %v, known %v: no hash spent", unknown, known)
	}
	_, bob := hashes(t)
	if bd, err := dummyHash(bob); err != nil || !strings.HasPrefix(bd, "$2a$10$") || checkHash(bd) != nil {
		t.Fatalf("bcrypt dummy = %q, %v", bd, err)
	}
}

func TestSignUp(t *testing.T) {
	cfg := testConfig(t)
	env := pdktest.New(t, pdktest.WithConfig(cfg))
	req := abi.SignUpRequest{Email: "Carol@Example.com", Password: "carol-password", Name: " Carol "}

	// Disabled by default.
	err := env.Invoke(abi.ExportCredentialsSignUp, req, nil)
	if !abi.IsCode(err, abi.CodeSignUpDisabled) {
		t.Fatalf("sign-up while disabled: %v", err)
	}
	var en abi.EnabledResult
	if err := env.Invoke(abi.ExportCredentialsSignUpEnabled, nil, &en); err != nil || en.Enabled {
		t.Fatalf("sign_up_enabled = %+v %v", en, err)
	}

	cfg["allow_sign_up"] = true
	env.SetConfig(cfg)
	if err := env.Invoke(abi.ExportCredentialsSignUpEnabled, nil, &en); err != nil || !en.Enabled {
		t.Fatalf("sign_up_enabled = %+v %v", en, err)
	}
	for name, bad := range map[string]abi.SignUpRequest{
		"short password": {Email: "dave@example.com", Password: "short"},
		"no email":       {Email: "", Password: "long-enough"},
		"bad email":      {Email: "dave", Password: "long-enough"},
	} {
		if err := env.Invoke(abi.ExportCredentialsSignUp, bad, nil); !abi.IsCode(err, abi.CodeInvalidRequest) {
			t.Errorf("%s: %v", name, err)
		}
	}

	var res abi.CredentialsResult
	if err := env.Invoke(abi.ExportCredentialsSignUp, req, &res); err != nil {
		t.Fatal(err)
	}
	if res.User.Email != "carol@example.com" || res.User.Name != "Carol" || !slices.Equal(res.User.Roles, []string{"viewer"}) || res.User.ID != userID("carol@example.com") {
		t.Fatalf("signed up %+v", res.User)
	}
	for k, v := range env.KV() {
		if strings.Contains(string(v), "carol-password") {
			t.Fatalf("plaintext password stored under %s", k)
		}
	}

	// Sign in with the new account, fetch it by id, resolve its permissions.
	if got, err := signIn(env, "carol@example.com", "carol-password"); err != nil || got.User.ID != res.User.ID {
		t.Fatalf("sign-in after sign-up: %+v %v", got, err)
	}
	if _, err := signIn(env, "carol@example.com", "wrong-password"); !abi.IsCode(err, abi.CodeInvalidCredentials) {
		t.Fatalf("wrong password after sign-up: %v", err)
	}
	var ur abi.UserResult
	if err := env.Invoke(abi.ExportUserGet, abi.UserGetRequest{ID: res.User.ID}, &ur); err != nil || ur.User == nil || ur.User.Email != "carol@example.com" {
		t.Fatalf("user_get: %+v %v", ur, err)
	}

	// Duplicates: the same account (any case), and a configured user.
	for _, email := range []string{"carol@example.com", "CAROL@example.com", "alice@example.com"} {
		dup := abi.SignUpRequest{Email: email, Password: "another-password"}
		if err := env.Invoke(abi.ExportCredentialsSignUp, dup, nil); !abi.IsCode(err, abi.CodeAlreadyExists) {
			t.Errorf("duplicate %s: %v", email, err)
		}
	}
	if logs := env.Logs(); len(logs) != 1 || logs[0].Message != "user signed up" {
		t.Fatalf("logs = %+v", logs)
	}
}

func TestUsers(t *testing.T) {
	env := pdktest.New(t, pdktest.WithConfig(testConfig(t)))
	var ur abi.UserResult
	if err := env.Invoke(abi.ExportUserCurrent, abi.UserCurrentRequest{Request: abi.Request{Headers: map[string][]string{"Cookie": {"x=y"}}}}, &ur); err != nil || ur.User != nil {
		t.Fatalf("user_current = %+v %v", ur, err)
	}
	for id, want := range map[string]string{"alice": "alice@example.com", userID("bob@example.com"): "bob@example.com", "nobody": "", "": ""} {
		ur = abi.UserResult{}
		if err := env.Invoke(abi.ExportUserGet, abi.UserGetRequest{ID: id}, &ur); err != nil {
			t.Fatal(err)
		}
		if got := ""; ur.User != nil {
			got = ur.User.Email
			if got != want {
				t.Errorf("user_get(%q) = %q, want %q", id, got, want)
			}
		} else if want != "" {
			t.Errorf("user_get(%q) = null, want %s", id, want)
		}
	}
	if userID("X@Example.com ") != userID("x@example.com") || !strings.HasPrefix(userID("x@example.com"), "usr_") {
		t.Fatal("derived ids are not stable")
	}
}

func TestRBAC(t *testing.T) {
	env := pdktest.New(t, pdktest.WithConfig(testConfig(t)))
	perms := func(u abi.User) []string {
		t.Helper()
		var res abi.PermissionsResult
		if err := env.Invoke(abi.ExportRBACPermissions, abi.UserRequest{User: u}, &res); err != nil {
			t.Fatal(err)
		}
		return res.Permissions
	}
	tests := []struct {
		name string
		user abi.User
		want []string
	}{
		{"inheritance, unknown parent ignored", abi.User{ID: "alice"}, []string{"agents:read", "agents:write", "logs:read"}},
		{"cycle", abi.User{ID: userID("bob@example.com")}, []string{"a:1", "agents:read", "b:2", "logs:read"}},
		{"stored roles win over passed roles", abi.User{ID: "alice", Roles: []string{"looper"}}, []string{"agents:read", "agents:write", "logs:read"}},
		{"unknown user uses passed roles", abi.User{ID: "sso-user", Roles: []string{"viewer", "nope"}}, []string{"agents:read", "logs:read"}},
		{"no roles", abi.User{ID: "sso-user"}, []string{}},
	}
	for _, tt := range tests {
		if got := perms(tt.user); !slices.Equal(got, tt.want) {
			t.Errorf("%s: permissions = %v, want %v", tt.name, got, tt.want)
		}
	}
	var roles abi.RolesResult
	if err := env.Invoke(abi.ExportRBACRoles, abi.UserRequest{User: abi.User{ID: "alice"}}, &roles); err != nil || !slices.Equal(roles.Roles, []string{"editor"}) {
		t.Fatalf("roles = %+v %v", roles, err)
	}
	var defs abi.RoleDefinitionsResult
	if err := env.Invoke(abi.ExportRBACRoleDefinitions, nil, &defs); err != nil || len(defs.Roles) != 4 || defs.Roles[2].Name != "looper" {
		t.Fatalf("definitions = %+v %v", defs, err)
	}
}

func TestDefaultRoles(t *testing.T) {
	alice, _ := hashes(t)
	env := pdktest.New(t, pdktest.WithConfig(map[string]any{"users": []map[string]any{
		{"id": "a", "email": "a@example.com", "password_hash": alice, "roles": []string{"admin"}},
	}}))
	var defs abi.RoleDefinitionsResult
	if err := env.Invoke(abi.ExportRBACRoleDefinitions, nil, &defs); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range defs.Roles {
		ids = append(ids, d.ID)
	}
	if !slices.Equal(ids, []string{"owner", "admin", "member", "viewer"}) {
		t.Fatalf("default roles = %v", ids)
	}
	var res abi.PermissionsResult
	if err := env.Invoke(abi.ExportRBACPermissions, abi.UserRequest{User: abi.User{ID: "a"}}, &res); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(res.Permissions, "audit:export") || !slices.Contains(res.Permissions, "studio:*") || !slices.Contains(res.Permissions, "plugins:manage") || len(res.Permissions) != 16 {
		t.Fatalf("admin permissions = %v", res.Permissions)
	}
	if err := env.Invoke(abi.ExportRBACPermissions, abi.UserRequest{User: abi.User{ID: "x", Roles: []string{"owner"}}}, &res); err != nil || !slices.Equal(res.Permissions, []string{"*"}) {
		t.Fatalf("owner permissions = %v %v", res.Permissions, err)
	}
}

func TestBadConfig(t *testing.T) {
	alice, _ := hashes(t)
	env := pdktest.New(t)
	for name, cfg := range map[string]string{
		"malformed":        `{"users":`,
		"typo":             `{"allow_signup":true}`,
		"bad hash":         `{"users":[{"email":"a@x","password_hash":"plaintext"}]}`,
		"huge argon":       `{"users":[{"email":"a@x","password_hash":"$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"}]}`,
		"slow bcrypt":      `{"users":[{"email":"a@x","password_hash":"$2a$14$3yH3wfBhxY8sPo5hy3xkYOUy6IbqdHCXP2rqD.nEy9C2ApIP/OZsi"}]}`,
		"duplicate email":  `{"users":[{"email":"a@x","password_hash":"` + alice + `"},{"email":"A@x","password_hash":"` + alice + `"}]}`,
		"unknown default":  `{"default_role":"boss"}`,
		"duplicate role":   `{"roles":[{"id":"r","permissions":[]},{"id":"r","permissions":[]}]}`,
		"bad min password": `{"min_password_length":-1}`,
	} {
		env.SetConfig(cfg)
		_, err := signIn(env, "a@x", "pw")
		if !abi.IsCode(err, abi.CodeInternal) || !strings.Contains(err.Error(), "static-users config") {
			t.Errorf("%s: err = %v, want internal config error", name, err)
		}
	}
}

func TestHashes(t *testing.T) {
	alice, bob := hashes(t)
	pdktest.New(t)
	verify := func(hash, password string) bool {
		t.Helper()
		ok, err := verifyPassword(hash, password)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !verify(alice, "alice-password") || verify(alice, "alice-passwordx") {
		t.Fatal("argon2id round trip")
	}
	if !verify(bob, "bob-password") || verify(bob, "bob-passwordx") {
		t.Fatal("bcrypt")
	}
	h1, err := hashPassword("alice-password")
	if err != nil || !strings.HasPrefix(h1, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash = %s, %v", h1, err)
	}
	if h2, _ := hashPassword("alice-password"); h2 == h1 {
		t.Fatal("salt not random")
	}
	if !verify(h1, "alice-password") {
		t.Fatal("sign-up hash does not verify")
	}
	padded := alice + "=" // some tools pad base64
	if checkHash(padded) != nil || !verify(padded, "alice-password") {
		t.Fatal("padded base64 not accepted")
	}
}

// TestQuickStartConfig checks that examples/authhost.yaml's demo hash is
// valid and matches the documented password.
func TestQuickStartConfig(t *testing.T) {
	raw, err := os.ReadFile("../authhost.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`password_hash: "([^"]+)"`).FindSubmatch(raw)
	if m == nil {
		t.Fatal("no password_hash in authhost.yaml")
	}
	hash := string(m[1])
	if err := checkHash(hash); err != nil {
		t.Fatal(err)
	}
	pdktest.New(t)
	if ok, err := verifyPassword(hash, "authhost-demo"); !ok || err != nil {
		t.Fatal("demo hash does not match authhost-demo")
	}
}
