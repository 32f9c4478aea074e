package auth

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/authhost/authhost/abi"
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

// fakeExporter is an audit logger that exports.
type fakeExporter struct{ name string }

func (fakeExporter) Log(context.Context, AuditEvent) error { return nil }

func (f fakeExporter) CreateAuditExport(context.Context, AuditExportRequest) (*AuditExport, error) {
	return &AuditExport{ID: f.name + "-ex", State: AuditExportPending}, nil
}

func (f fakeExporter) GetAuditExport(_ context.Context, id string) (*AuditExport, error) {
	if id != f.name+"-ex" {
		return nil, Errorf(CodeNotFound, "no %s", id)
	}
	return &AuditExport{ID: id, State: AuditExportReady, URL: "https://" + f.name}, nil
}

func TestComposeAuditExporter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var events []AuditEvent
	builtin := Provider{Name: BuiltinName, Audit: fakeAudit{&events}}
	plain := Provider{Name: "plain", Audit: fakeAudit{&events}}
	wos := Provider{Name: "workos", Audit: fakeExporter{name: "workos"}}
	other := Provider{Name: "other", Audit: fakeExporter{name: "other"}}

	tests := []struct {
		name    string
		plugins []Provider
		sel     Selection
		want    string // id of the created export; "" for no exporter
	}{
		{name: "no exporter", plugins: []Provider{plain}},
		{name: "the one exporter", plugins: []Provider{plain, wos}, want: "workos-ex"},
		{name: "the first exporter in file order", plugins: []Provider{wos, other}, want: "workos-ex"},
		{name: "selection order decides", plugins: []Provider{wos, other}, sel: Selection{CapAudit: {"other", "workos"}}, want: "other-ex"},
		{name: "unselected exporter is not used", plugins: []Provider{wos}, sel: Selection{CapAudit: {BuiltinName}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Compose(tt.plugins, builtin, tt.sel)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				if c.AuditExporter != nil {
					t.Fatalf("AuditExporter = %#v, want nil", c.AuditExporter)
				}
				return
			}
			ex, err := c.AuditExporter.CreateAuditExport(ctx, AuditExportRequest{})
			if err != nil || ex.ID != tt.want {
				t.Fatalf("create = %+v, %v; want id %s", ex, err, tt.want)
			}
			got, err := c.AuditExporter.GetAuditExport(ctx, tt.want)
			if err != nil || got.State != AuditExportReady {
				t.Fatalf("get = %+v, %v", got, err)
			}
		})
	}
}

// TestSlotsCoverABI checks that composition knows every capability of the
// ABI's table but webhook, which plugins serve by name.
func TestSlotsCoverABI(t *testing.T) {
	t.Parallel()
	var want []string
	for _, c := range abi.Capabilities {
		if c != abi.CapWebhook {
			want = append(want, string(c))
		}
	}
	if got := Capabilities(); !slices.Equal(got, want) {
		t.Fatalf("Capabilities() = %v, want %v", got, want)
	}
}
