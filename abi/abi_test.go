package abi

import (
	"slices"
	"strings"
	"testing"
)

func TestCheckName(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		ok   bool
	}{
		{"static-users", true},
		{"a", true},
		{"w0rk-os", true},
		{"a" + strings.Repeat("b", 63), true},
		{"a" + strings.Repeat("b", 64), false},
		{"", false},
		{"1abc", false},
		{"-abc", false},
		{"Static", false},
		{"static_users", false},
		{"a.b", false},
		{"a/kv", false},
		{"null", true}, // a plain name, not JSON null
		{"a\x00b", false},
		{"abc\n", false},
		{"a b", false},
		{"wоrkos", false}, // Cyrillic о
		{"ｗorkos", false}, // full-width w
		{"127.0.0.1", false},
		{"[::1]", false},
	}
	for _, c := range cases {
		if err := CheckName(c.name); (err == nil) != c.ok {
			t.Errorf("CheckName(%q) = %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

func TestOffers(t *testing.T) {
	t.Parallel()
	exported := map[string]bool{ExportUserCurrent: true, ExportUserGet: true, ExportUserProfileURL: true, ExportSessionList: true}
	legacy := Describe{ABI: "1.1", Capabilities: []Capability{CapUser}}
	for _, v := range []string{"1.0", "1.1"} {
		legacy.ABI = v
		if !legacy.Offers(ExportUserProfileURL, exported) || !legacy.Offers(ExportUserCurrent, exported) {
			t.Errorf("abi %s: an exported optional export is offered", v)
		}
	}
	if legacy.Offers(ExportSSOLogoutURL, exported) {
		t.Error("a missing export is never offered")
	}
	d := Describe{ABI: "1.2", Capabilities: []Capability{CapUser}}
	if d.Offers(ExportUserProfileURL, exported) {
		t.Error("abi 1.2: an optional export not in implements is not offered")
	}
	if !d.Offers(ExportUserGet, exported) {
		t.Error("abi 1.2: required exports are offered without implements")
	}
	d.Implements = []string{ExportUserProfileURL}
	if !d.Offers(ExportUserProfileURL, exported) {
		t.Error("abi 1.2: an implemented optional export is offered")
	}
}

func TestCheckImplements(t *testing.T) {
	t.Parallel()
	exported := map[string]bool{ExportUserProfileURL: true, ExportSessionList: true, ExportConfigure: true}
	d := Describe{ABI: "1.2", Capabilities: []Capability{CapUser},
		Implements: []string{ExportUserProfileURL, ExportConfigure, ExportSessionList, ExportSSOLogoutURL, ExportUserProfileURL, ExportUserGet}}
	got := d.CheckImplements(exported)
	want := []string{
		`implements: "session_list" is not an optional export of a declared capability`,
		`implements: "sso_logout_url" is not an optional export of a declared capability`,
		`implements: "user_profile_url" is listed twice`,
		`implements: "user_get" is not an optional export of a declared capability`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("problems:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	d = Describe{ABI: "1.2", Capabilities: []Capability{CapAudit}, Implements: []string{ExportAuditQuery}}
	if got := d.CheckImplements(exported); len(got) != 1 || !strings.Contains(got[0], "not exported") {
		t.Fatalf("unexported: %v", got)
	}
}

func TestTable(t *testing.T) {
	t.Parallel()
	if len(Table) != len(Capabilities) {
		t.Fatalf("table has %d rows, want %d", len(Table), len(Capabilities))
	}
	seen := map[string]bool{}
	for i, e := range Table {
		if e.Capability != Capabilities[i] {
			t.Errorf("row %d is %s, want %s", i, e.Capability, Capabilities[i])
		}
		if len(e.Required) == 0 {
			t.Errorf("%s has no required export", e.Capability)
		}
	}
	for _, n := range AllExports() {
		if seen[n] {
			t.Errorf("export %s listed twice", n)
		}
		seen[n] = true
	}
}
