package workos

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/workos/workos-go/v4/pkg/auditlogs"
	"github.com/workos/workos-go/v4/pkg/directorysync"
	"github.com/workos/workos-go/v4/pkg/organizations"
	"github.com/workos/workos-go/v4/pkg/usermanagement"
	"github.com/workos/workos-go/v4/pkg/workos_errors"
)

func TestSDKErrorsDecode(t *testing.T) {
	e := Start(t)
	ctx := context.Background()
	c := usermanagement.NewClient("sk_wrong")
	c.Endpoint = e.URL
	_, err := c.GetUser(ctx, usermanagement.GetUserOpts{User: "user_x"})
	var he workos_errors.HTTPError
	if !errors.As(err, &he) || he.Code != 401 || he.Message == "" || he.RequestID == "" {
		t.Fatalf("401: %#v", err)
	}
	c.APIKey = e.APIKey
	_, err = c.GetUser(ctx, usermanagement.GetUserOpts{User: "user_x"})
	if !errors.As(err, &he) || he.Code != 404 || he.ErrorCode != "entity_not_found" {
		t.Fatalf("404: %#v", err)
	}
	_, err = c.AuthenticateWithCode(ctx, usermanagement.AuthenticateWithCodeOpts{ClientID: e.ClientID, Code: "nope"})
	if !errors.As(err, &he) || he.Code != 400 || he.ErrorCode != "invalid_grant" {
		t.Fatalf("invalid code: %#v", err)
	}
	e.FailNext("/organizations/", http.StatusTooManyRequests, 1)
	oc := &organizations.Client{APIKey: e.APIKey, Endpoint: e.URL}
	_, err = oc.ListOrganizationRoles(ctx, organizations.ListOrganizationRolesOpts{OrganizationID: "org_1"})
	if !errors.As(err, &he) || he.Code != 429 {
		t.Fatalf("429: %#v", err)
	}
}

func TestAuthorizeValidation(t *testing.T) {
	e := Start(t)
	hc := e.Client()
	base := url.Values{"client_id": {e.ClientID}, "redirect_uri": {"http://localhost/cb"}, "response_type": {"code"}, "provider": {"authkit"}}
	for name, mutate := range map[string]func(url.Values){
		"client":                      func(v url.Values) { v.Set("client_id", "client_other") },
		"redirect":                    func(v url.Values) { v.Del("redirect_uri") },
		"provider":                    func(v url.Values) { v.Del("provider") },
		"pkce":                        func(v url.Values) { v.Set("code_challenge", "abc"); v.Set("code_challenge_method", "plain") },
		"unknown provider":            func(v url.Values) { v.Set("provider", "FacebookOAuth") },
		"unknown connection":          func(v url.Values) { v.Del("provider"); v.Set("connection_id", "conn_missing") },
		"screen hint without authkit": func(v url.Values) { v.Set("provider", "GoogleOAuth"); v.Set("screen_hint", "sign-up") },
	} {
		v := url.Values{}
		for k, x := range base {
			v[k] = x
		}
		mutate(v)
		res, err := hc.Get(e.URL + "/user_management/authorize?" + v.Encode())
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d", name, res.StatusCode)
		}
	}
}

func TestAuditValidation(t *testing.T) {
	e := Start(t)
	c := &auditlogs.Client{APIKey: e.APIKey, EventsEndpoint: e.URL + "/audit_logs/events", ExportsEndpoint: e.URL + "/audit_logs/exports"}
	err := c.CreateEvent(context.Background(), auditlogs.CreateEventOpts{OrganizationID: "org_1"})
	var he workos_errors.HTTPError
	if !errors.As(err, &he) || he.Code != 422 || len(he.FieldErrors) == 0 {
		t.Fatalf("422: %#v", err)
	}
}

func TestConnectionDecidesOrganization(t *testing.T) {
	e := Start(t)
	u := e.AddUser(User{Email: "c@example.com"})
	e.AddMembership(u.ID, "org_a", "member")
	e.AddMembership(u.ID, "org_b", "admin")
	e.AddConnection(Connection{ID: "conn_b", OrganizationID: "org_b", Type: "OktaSAML"})
	if !e.SetMembershipRole(u.ID, "org_b", "owner") || e.SetMembershipRole(u.ID, "org_missing", "owner") {
		t.Fatal("SetMembershipRole")
	}
	hc := e.Client()
	form := url.Values{"client_id": {e.ClientID}, "redirect_uri": {"http://localhost/cb"}, "response_type": {"code"},
		"connection_id": {"conn_b"}, "email": {u.Email}}
	res, err := hc.PostForm(e.URL+"/user_management/authorize/login", form)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, _ := url.Parse(res.Header.Get("Location"))
	c := usermanagement.NewClient(e.APIKey)
	c.Endpoint = e.URL
	ar, err := c.AuthenticateWithCode(context.Background(), usermanagement.AuthenticateWithCodeOpts{ClientID: e.ClientID, Code: loc.Query().Get("code")})
	if err != nil || ar.OrganizationID != "org_b" {
		t.Fatalf("code exchange via connection: %+v %v", ar.OrganizationID, err)
	}
}

func TestDirectorySyncAPI(t *testing.T) {
	e := Start(t)
	eng := e.AddDirectoryGroup(DirectoryGroup{DirectoryID: "directory_1", OrganizationID: "org_1", Name: "Engineering"})
	ops := e.AddDirectoryGroup(DirectoryGroup{DirectoryID: "directory_1", OrganizationID: "org_1", Name: "Ops"})
	u := e.AddDirectoryUser(DirectoryUser{DirectoryID: "directory_1", OrganizationID: "org_1", Email: "d@example.com", Role: &RoleRef{Slug: "member"}}, eng.ID)
	if len(u.Groups) != 1 || u.Groups[0].Name != "Engineering" || !u.Emails[0].Primary {
		t.Fatalf("seeded user %+v", u)
	}
	c := &directorysync.Client{APIKey: e.APIKey, Endpoint: e.URL}
	ctx := context.Background()
	got, err := c.GetUser(ctx, directorysync.GetUserOpts{User: u.ID})
	if err != nil || got.Email != "d@example.com" || got.Role.Slug != "member" || len(got.Groups) != 1 || got.State != directorysync.Active {
		t.Fatalf("GetUser: %+v %v", got, err)
	}
	if pe, err := got.PrimaryEmail(); err != nil || pe != "d@example.com" {
		t.Fatalf("primary email %q %v", pe, err)
	}
	e.SetDirectoryUserGroups(u.ID, eng.ID, ops.ID)
	groups, err := c.ListGroups(ctx, directorysync.ListGroupsOpts{User: u.ID, Limit: 1, Order: directorysync.Asc})
	if err != nil || len(groups.Data) != 1 || groups.Data[0].ID != eng.ID || groups.ListMetadata.After != eng.ID {
		t.Fatalf("ListGroups page 1: %+v %v", groups, err)
	}
	groups, err = c.ListGroups(ctx, directorysync.ListGroupsOpts{User: u.ID, Limit: 1, Order: directorysync.Asc, After: eng.ID})
	if err != nil || len(groups.Data) != 1 || groups.Data[0].Name != "Ops" || groups.ListMetadata.After != "" {
		t.Fatalf("ListGroups page 2: %+v %v", groups, err)
	}
	users, err := c.ListUsers(ctx, directorysync.ListUsersOpts{Group: ops.ID})
	if err != nil || len(users.Data) != 1 || users.Data[0].ID != u.ID {
		t.Fatalf("ListUsers by group: %+v %v", users, err)
	}
	if _, err := c.GetGroup(ctx, directorysync.GetGroupOpts{Group: "directory_group_missing"}); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("missing group: %v", err)
	}
	if _, err := (&directorysync.Client{APIKey: "sk_wrong", Endpoint: e.URL}).ListGroups(ctx, directorysync.ListGroupsOpts{User: u.ID}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong key: %v", err)
	}
}

func TestAuditExports(t *testing.T) {
	e := Start(t)
	ctx := context.Background()
	c := &auditlogs.Client{APIKey: e.APIKey, EventsEndpoint: e.URL + "/audit_logs/events", ExportsEndpoint: e.URL + "/audit_logs/exports"}
	opts := auditlogs.CreateExportOpts{OrganizationID: "org_1", RangeStart: "2026-01-01T00:00:00.000Z", RangeEnd: "2026-02-01T00:00:00.000Z",
		Actions: []string{"a.b"}, ActorNames: []string{"Ada"}, ActorIds: []string{"user_1"}, Targets: []string{"doc"}}
	ex, err := c.CreateExport(ctx, opts)
	if err != nil || ex.State != auditlogs.Pending || ex.URL != "" || ex.Object != auditlogs.AuditLogExportObjectName || ex.CreatedAt == "" {
		t.Fatalf("create: %+v %v", ex, err)
	}
	got, err := c.GetExport(ctx, auditlogs.GetExportOpts{ExportID: ex.ID})
	if err != nil || got.ID != ex.ID || got.State != auditlogs.Ready || !strings.HasPrefix(got.URL, e.URL) || got.UpdatedAt <= got.CreatedAt {
		t.Fatalf("first get: %+v %v", got, err)
	}
	recorded := e.AuditExports()
	if len(recorded) != 1 {
		t.Fatalf("recorded %d exports", len(recorded))
	}
	r := recorded[0]
	if r.ID != ex.ID || r.OrganizationID != "org_1" || r.RangeStart != opts.RangeStart || r.RangeEnd != opts.RangeEnd || r.State != "Ready" ||
		strings.Join(r.Actions, ",") != "a.b" || strings.Join(r.ActorNames, ",") != "Ada" || strings.Join(r.ActorIDs, ",") != "user_1" || strings.Join(r.Targets, ",") != "doc" {
		t.Fatalf("recorded %+v", r)
	}
	var raw map[string]any
	if err := json.Unmarshal(r.Raw, &raw); err != nil || raw["actor_ids"] == nil || raw["actors"] != nil {
		t.Fatalf("raw body %s: %v", r.Raw, err)
	}

	// A state set by the test sticks.
	ex2, _ := c.CreateExport(ctx, opts)
	if !e.SetExportState(ex2.ID, "Error") || e.SetExportState("nope", "Ready") {
		t.Fatal("SetExportState")
	}
	if got, err := c.GetExport(ctx, auditlogs.GetExportOpts{ExportID: ex2.ID}); err != nil || got.State != auditlogs.Error || got.URL != "" {
		t.Fatalf("errored export: %+v %v", got, err)
	}

	var he workos_errors.HTTPError
	if _, err := c.GetExport(ctx, auditlogs.GetExportOpts{ExportID: "audit_log_export_missing"}); !errors.As(err, &he) || he.Code != 404 {
		t.Fatalf("unknown export: %#v", err)
	}
	for name, o := range map[string]auditlogs.CreateExportOpts{
		"no organization": {RangeStart: opts.RangeStart, RangeEnd: opts.RangeEnd},
		"no range start":  {OrganizationID: "org_1", RangeEnd: opts.RangeEnd},
		"no range end":    {OrganizationID: "org_1", RangeStart: opts.RangeStart},
		"bad date":        {OrganizationID: "org_1", RangeStart: "last week", RangeEnd: opts.RangeEnd},
		"reversed":        {OrganizationID: "org_1", RangeStart: opts.RangeEnd, RangeEnd: opts.RangeStart},
	} {
		_, err := c.CreateExport(ctx, o)
		if !errors.As(err, &he) || he.Code != 422 || len(he.FieldErrors) == 0 {
			t.Errorf("%s: %#v, want 422 with field errors", name, err)
		}
	}
	if n := len(e.AuditExports()); n != 2 {
		t.Errorf("invalid requests were recorded: %d exports", n)
	}
}
