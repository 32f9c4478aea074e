package workos

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/workos/workos-go/v4/pkg/auditlogs"
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
		"client":   func(v url.Values) { v.Set("client_id", "client_other") },
		"redirect": func(v url.Values) { v.Del("redirect_uri") },
		"provider": func(v url.Values) { v.Del("provider") },
		"pkce":     func(v url.Values) { v.Set("code_challenge", "abc"); v.Set("code_challenge_method", "plain") },
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
	ex, err := c.CreateExport(context.Background(), auditlogs.CreateExportOpts{OrganizationID: "org_1", RangeStart: "2026-01-01T00:00:00Z", RangeEnd: "2026-02-01T00:00:00Z"})
	if err != nil || ex.State != auditlogs.Ready {
		t.Fatalf("export: %+v %v", ex, err)
	}
	got, err := c.GetExport(context.Background(), auditlogs.GetExportOpts{ExportID: ex.ID})
	if err != nil || got.ID != ex.ID {
		t.Fatalf("get export: %+v %v", got, err)
	}
}
