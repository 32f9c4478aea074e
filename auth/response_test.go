package auth

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

type fakeCreds struct{ signUp bool }

func (fakeCreds) SignIn(context.Context, string, string, *http.Request) (*CredentialsResult, error) {
	return nil, ErrInvalidCredentials
}
func (fakeCreds) SignUp(context.Context, string, string, string, *http.Request) (*CredentialsResult, error) {
	return nil, ErrSignUpDisabled
}
func (f fakeCreds) SignUpEnabled(context.Context) bool                       { return f.signUp }
func (fakeCreds) RequestPasswordReset(context.Context, string, string) error { return ErrNotSupported }
func (fakeCreds) ResetPassword(context.Context, string, string) error        { return ErrNotSupported }

type fakeRBAC struct{}

func (fakeRBAC) Roles(context.Context, User) ([]string, error) { return []string{"admin"}, nil }
func (fakeRBAC) Permissions(context.Context, User) ([]string, error) {
	return []string{"agents:*"}, nil
}

func render(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCapabilitiesResponse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dev := LicenseState{Mode: ModeDevelopment}
	prod := LicenseState{Mode: ModeProduction}
	prodLicensed := LicenseState{Mode: ModeProduction, Licensed: true, License: &License{ExpiresAt: time.Now().Add(time.Hour)}}
	both := &Composed{SSO: fakeSSO{"auth0"}, Credentials: fakeCreds{signUp: true}, RBAC: fakeRBAC{}, ACL: nil}
	u := User{ID: "u1", Email: "a@b.c"}

	t.Run("nothing configured", func(t *testing.T) {
		m := render(t, (&Composed{}).PublicCapabilities(ctx, dev, "/api/auth/sso/login"))
		if m["enabled"] != false || m["login"] != nil {
			t.Fatalf("got %v", m)
		}
		if _, ok := m["login"]; !ok {
			t.Fatal("login must be present as null")
		}
	})
	t.Run("login types", func(t *testing.T) {
		for _, c := range []struct {
			comp *Composed
			want string
		}{
			{both, "both"},
			{&Composed{SSO: fakeSSO{"x"}}, "sso"},
			{&Composed{Credentials: fakeCreds{}}, "credentials"},
		} {
			m := render(t, c.comp.PublicCapabilities(ctx, prod, "/api/auth/sso/login"))
			login := m["login"].(map[string]any)
			if login["type"] != c.want {
				t.Errorf("type = %v, want %s", login["type"], c.want)
			}
			_, hasSignUp := login["signUpEnabled"]
			if hasSignUp != (c.comp.Credentials != nil) {
				t.Errorf("%s: signUpEnabled present = %v", c.want, hasSignUp)
			}
			if c.comp.SSO != nil {
				sso := login["sso"].(map[string]any)
				if sso["url"] != "/api/auth/sso/login" || sso["text"] != "Sign in with SSO" {
					t.Errorf("sso = %v", sso)
				}
			}
		}
	})
	t.Run("anonymous has no capabilities key", func(t *testing.T) {
		m := render(t, both.PublicCapabilities(ctx, prod, "/x"))
		for _, k := range []string{"capabilities", "user", "access"} {
			if _, ok := m[k]; ok {
				t.Errorf("%s present for anonymous", k)
			}
		}
	})
	t.Run("production without license gates rbac and acl", func(t *testing.T) {
		m := render(t, both.AuthenticatedCapabilities(ctx, prod, "/x", u))
		caps := m["capabilities"].(map[string]any)
		if caps["rbac"] != false || caps["acl"] != false || caps["audit"] != false || caps["sso"] != true || caps["user"] != true {
			t.Fatalf("caps = %v", caps)
		}
		if v, ok := m["access"]; !ok || v != nil {
			t.Fatalf("access must be null, got %v (present %v)", v, ok)
		}
		lic := m["license"].(map[string]any)
		if lic["licensed"] != false || !strings.Contains(strings.Join(toStrings(lic["disabled"]), ","), "rbac") {
			t.Fatalf("license = %v", lic)
		}
	})
	t.Run("licensed or development: rbac on with access", func(t *testing.T) {
		for _, lic := range []LicenseState{prodLicensed, dev} {
			m := render(t, both.AuthenticatedCapabilities(ctx, lic, "/x", u))
			if m["capabilities"].(map[string]any)["rbac"] != true {
				t.Fatalf("%s: rbac off", lic.Mode)
			}
			roles := toStrings(m["access"].(map[string]any)["roles"])
			if len(roles) != 1 || roles[0] != "admin" {
				t.Fatalf("roles = %v", roles)
			}
		}
	})
}

func toStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
