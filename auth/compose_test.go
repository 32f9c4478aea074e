package auth

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// Minimal fakes: composition only inspects which capabilities are present.
type fakeSSO struct{ name string }

func (f fakeSSO) LoginURL(context.Context, SSOLoginRequest) (string, error) {
	return "https://idp/" + f.name, nil
}
func (fakeSSO) Callback(context.Context, SSOCallbackRequest) (*SSOResult, error) {
	return nil, ErrNotSupported
}
func (fakeSSO) LogoutURL(context.Context, string, *http.Request) (string, error) { return "", nil }
func (f fakeSSO) LoginButton() LoginButton                                       { return LoginButton{Provider: f.name} }

type fakeAudit struct{ events *[]AuditEvent }

func (f fakeAudit) Log(_ context.Context, e AuditEvent) error {
	*f.events = append(*f.events, e)
	return nil
}

type failingAudit struct{}

func (failingAudit) Log(context.Context, AuditEvent) error { return Errorf(CodeUnavailable, "down") }

func TestCompose(t *testing.T) {
	t.Parallel()
	var builtinEvents, wosEvents []AuditEvent
	builtin := Provider{Name: BuiltinName, Audit: fakeAudit{&builtinEvents}}
	workos := Provider{Name: "workos", SSO: fakeSSO{"workos"}, Audit: fakeAudit{&wosEvents}}
	cloud := Provider{Name: "cloud", SSO: fakeSSO{"cloud"}}

	cases := []struct {
		name       string
		plugins    []Provider
		sel        Selection
		wantErr    string
		wantSSO    string
		wantAudits []string
	}{
		{name: "single plugin is the default", plugins: []Provider{workos}, wantSSO: "workos", wantAudits: []string{"builtin", "workos"}},
		{name: "ambiguous default names candidates", plugins: []Provider{workos, cloud}, wantErr: "sso is offered by several plugins (cloud, workos)"},
		{name: "explicit choice resolves ambiguity", plugins: []Provider{workos, cloud}, sel: Selection{CapSSO: {"cloud"}}, wantSSO: "cloud", wantAudits: []string{"builtin", "workos"}},
		{name: "unknown provider", plugins: []Provider{workos}, sel: Selection{CapSSO: {"okta"}}, wantErr: `provider "okta" is not loaded`},
		{name: "provider lacks capability", plugins: []Provider{cloud}, sel: Selection{CapAudit: {"cloud"}}, wantErr: `provider "cloud" does not offer capability "audit"`},
		{name: "only audit takes several", plugins: []Provider{workos, cloud}, sel: Selection{CapSSO: {"workos", "cloud"}}, wantErr: "only audit may name several"},
		{name: "unknown capability", plugins: nil, sel: Selection{"teleport": {"x"}}, wantErr: `unknown capability "teleport"`},
		{name: "audit explicit subset", plugins: []Provider{workos}, sel: Selection{CapAudit: {"workos"}}, wantSSO: "workos", wantAudits: []string{"workos"}},
		{name: "no plugins: builtin only", plugins: nil, wantAudits: []string{"builtin"}},
		{name: "none turns a capability off", plugins: []Provider{workos, cloud}, sel: Selection{CapSSO: {NoneName}, CapAudit: {NoneName}}},
		{name: "plugin named builtin", plugins: []Provider{{Name: BuiltinName}}, wantErr: "may not be named"},
		{name: "duplicate names", plugins: []Provider{workos, workos}, wantErr: `two plugins are named "workos"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Compose(c.plugins, builtin, c.sel)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.wantSSO == "" && got.SSO != nil {
				t.Fatalf("unexpected SSO %v", got.Sources[CapSSO])
			}
			if c.wantSSO != "" && (got.SSO == nil || got.SSO.LoginButton().Provider != c.wantSSO) {
				t.Fatalf("SSO from %v, want %s", got.Sources[CapSSO], c.wantSSO)
			}
			if strings.Join(got.Sources[CapAudit], ",") != strings.Join(c.wantAudits, ",") {
				t.Fatalf("audit sources %v, want %v", got.Sources[CapAudit], c.wantAudits)
			}
		})
	}
}

func TestFanOutLogsToEveryLoggerDespiteFailures(t *testing.T) {
	t.Parallel()
	var a, b []AuditEvent
	l := FanOut(fakeAudit{&a}, failingAudit{}, fakeAudit{&b})
	err := l.Log(context.Background(), AuditEvent{ID: "e1", Action: "auth.sign-in"})
	if err == nil || CodeOf(err) != CodeUnavailable {
		t.Fatalf("err = %v, want the failing logger's error", err)
	}
	if len(a) != 1 || len(b) != 1 || a[0].ID != "e1" || b[0].ID != "e1" {
		t.Fatalf("events not delivered to every logger: %v %v", a, b)
	}
}
