package pdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk"
)

// TestImplements checks that describe's implements lists exactly the
// optional exports whose interfaces the capability values implement, and
// that every optional export not listed answers not_supported (so the
// list and the dispatch agree).
func TestImplements(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		p    pdk.Provider
		want []string
	}{
		{"bare", pdk.Provider{Name: "a", Version: "1", User: bareUser{}, Credentials: creds{}, Audit: auditLog{}}, []string{}},
		{"optional interfaces", pdk.Provider{Name: "a", Version: "1", User: users{}, RBAC: users{}, Audit: exporter{}},
			[]string{abi.ExportRBACRoleDefinitions, abi.ExportAuditExportCreate, abi.ExportAuditExportGet}},
		{"configure", pdk.Provider{Name: "a", Version: "1", User: bareUser{}, Configure: func(context.Context, []byte) error { return nil }},
			[]string{abi.ExportConfigure}},
		// An interface on a value of an undeclared capability offers nothing.
		{"undeclared capability", pdk.Provider{Name: "a", Version: "1", User: users{}}, []string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := c.p.Implements()
			if !slices.Equal(got, c.want) {
				t.Fatalf("Implements() = %v, want %v", got, c.want)
			}
			d := c.p.Describe()
			if d.ABI != abi.Version || !d.Declares() || !slices.Equal(d.Implements, c.want) {
				t.Fatalf("describe = %+v", d)
			}
			all := map[string]bool{}
			for _, n := range abi.AllExports() {
				all[n] = true
			}
			if probs := d.CheckImplements(all); len(probs) > 0 {
				t.Fatalf("CheckImplements: %v", probs)
			}
			for _, name := range append(slices.Clone(abi.ProviderOptional), optionalOf(d.Capabilities)...) {
				if name == abi.ExportCredentialsSignUpEnabled {
					continue // answers enabled when not implemented
				}
				var env abi.Envelope
				if err := json.Unmarshal(c.p.Call(name, []byte(`{"id":"x"}`)), &env); err != nil {
					t.Fatal(err)
				}
				unsupported := !env.OK && env.Error.Code == abi.CodeNotSupported
				if unsupported == slices.Contains(got, name) {
					t.Errorf("%s: not_supported=%v but implements=%v", name, unsupported, got)
				}
			}
		})
	}
}

func optionalOf(caps []abi.Capability) []string {
	var out []string
	for _, c := range caps {
		e, _ := abi.ExportsOf(c)
		out = append(out, e.Optional...)
	}
	return out
}

type bareUser struct{}

func (bareUser) CurrentUser(context.Context, abi.Request) (*abi.User, error) { return nil, nil }
func (bareUser) GetUser(context.Context, string) (*abi.User, error)          { return nil, nil }

// TestDescribeDeclarations checks session_transport and demo in describe,
// and that authhost_configure passes the config and a field error through.
func TestDescribeDeclarations(t *testing.T) {
	t.Parallel()
	tr := &abi.SessionTransport{Cookies: []string{"sid"}, Bearer: true}
	p := pdk.Provider{Name: "a", Version: "1", User: bareUser{},
		SessionTransport: func() *abi.SessionTransport { return tr },
		Demo:             func() []abi.DemoCredential { return []abi.DemoCredential{{Email: "d@example.com"}} },
		Configure: func(_ context.Context, cfg []byte) error {
			if string(cfg) != `{"n":1}` {
				return pdk.ConfigError("n", "want 1, got %s", cfg)
			}
			return nil
		}}
	d := p.Describe()
	if d.SessionTransport != nil {
		t.Errorf("session_transport without a session capability: %+v", d.SessionTransport)
	}
	if len(d.Demo) != 1 || d.Demo[0].Email != "d@example.com" {
		t.Errorf("demo = %+v", d.Demo)
	}
	p.Session = sessions{}
	if d := p.Describe(); d.SessionTransport != tr {
		t.Errorf("session_transport = %+v", d.SessionTransport)
	}
	if err := abi.Decode(p.Call(abi.ExportConfigure, []byte(`{"config":{"n":1}}`)), nil); err != nil {
		t.Errorf("configure(ok) = %v", err)
	}
	err := abi.Decode(p.Call(abi.ExportConfigure, []byte(`{"config":{"n":2}}`)), nil)
	var ae *abi.Error
	if !errors.As(err, &ae) || ae.Field != "n" || ae.Code != abi.CodeInvalidRequest {
		t.Errorf("configure(bad) = %#v", err)
	}
}

// sessions is a session provider whose methods are never called here.
type sessions struct{}

func (sessions) CreateSession(context.Context, string, map[string]any) (*abi.Session, error) {
	return nil, nil
}
func (sessions) ValidateSession(context.Context, string) (*abi.Session, error) { return nil, nil }
func (sessions) DestroySession(context.Context, string) error                  { return nil }
func (sessions) RefreshSession(context.Context, string) (*abi.Session, error)  { return nil, nil }
func (sessions) SessionIDFromRequest(context.Context, abi.Request) (string, error) {
	return "", nil
}
func (sessions) SessionCookies(context.Context, abi.Session) ([]string, error) { return nil, nil }
func (sessions) ClearCookies(context.Context) ([]string, error)                { return nil, nil }

// TestCapabilitiesCoverABI: a provider with every capability field set
// declares every capability of the ABI's table.
func TestCapabilitiesCoverABI(t *testing.T) {
	t.Parallel()
	p := pdk.Provider{Name: "a", Version: "1", User: users{}, Session: sessions{}, SSO: ssoAll{}, Credentials: creds{},
		RBAC: users{}, ACL: aclAll{}, Audit: auditLog{}, Webhook: hook{}}
	if got := p.Capabilities(); !slices.Equal(got, abi.Capabilities) {
		t.Fatalf("Capabilities() = %v, want %v", got, abi.Capabilities)
	}
}

type ssoAll struct{}

func (ssoAll) LoginURL(context.Context, abi.SSOLoginURLRequest) (string, error) { return "", nil }
func (ssoAll) Callback(context.Context, abi.SSOCallbackRequest) (*abi.SSOCallbackResult, error) {
	return nil, nil
}

type aclAll struct{}

func (aclAll) CheckAccess(context.Context, abi.ACLCheckRequest) (bool, error)       { return false, nil }
func (aclAll) ListAccessible(context.Context, abi.ACLListRequest) ([]string, error) { return nil, nil }
