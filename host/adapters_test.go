package host

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authhost/authhost/auth"
)

func TestAdapters(t *testing.T) {
	t.Parallel()
	f, errs := newFixture(t, nil, "allcaps")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p := f.plugin(t, "allcaps")
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	r := httptest.NewRequest("POST", "https://app.test/x?y=1", nil)
	r.Header.Set("Cookie", "uid=u7")
	r.Header.Set("Authorization", "Bearer sess-9")
	r.RemoteAddr = "192.0.2.1:5555"

	t.Run("user", func(t *testing.T) {
		up := p.User()
		u, err := up.CurrentUser(ctx, r)
		if err != nil || u == nil || u.ID != "u7" || u.Email != "POST https://app.test/x?y=1 192.0.2.1:5555" {
			t.Errorf("CurrentUser = %+v, %v", u, err)
		}
		u, err = up.CurrentUser(ctx, httptest.NewRequest("GET", "/", nil))
		if u != nil || err != nil {
			t.Errorf("CurrentUser without cookie = %+v, %v", u, err)
		}
		if u, err := up.GetUser(ctx, "u1"); err != nil || u.Name != "User u1" {
			t.Errorf("GetUser = %+v, %v", u, err)
		}
		if u, err := up.GetUser(ctx, "missing"); u != nil || err != nil {
			t.Errorf("GetUser(missing) = %+v, %v", u, err)
		}
		if url, err := up.ProfileURL(ctx, auth.User{ID: "u1"}); url != "" || err != nil {
			t.Errorf("ProfileURL without export = %q, %v", url, err)
		}
	})
	t.Run("session", func(t *testing.T) {
		sp := p.Session()
		s, err := sp.CreateSession(ctx, "u1", map[string]any{"k": "v"})
		if err != nil || s.ID != "s-u1" || s.UserID != "u1" || !s.ExpiresAt.Equal(t0) {
			t.Errorf("CreateSession = %+v, %v", s, err)
		}
		if s, err := sp.ValidateSession(ctx, "expired"); s != nil || err != nil {
			t.Errorf("ValidateSession(expired) = %+v, %v", s, err)
		}
		if s, err := sp.RefreshSession(ctx, "abc"); err != nil || s.ID != "abc-2" {
			t.Errorf("RefreshSession = %+v, %v", s, err)
		}
		if err := sp.DestroySession(ctx, "abc"); err != nil {
			t.Error(err)
		}
		if id, err := sp.SessionIDFromRequest(ctx, r); id != "sess-9" || err != nil {
			t.Errorf("SessionIDFromRequest = %q, %v", id, err)
		}
		if c, err := sp.SessionCookies(ctx, s); err != nil || !slices.Equal(c, []string{"sid=s-u1"}) {
			t.Errorf("SessionCookies = %q, %v", c, err)
		}
		if c, err := sp.ClearCookies(ctx); err != nil || len(c) != 1 {
			t.Errorf("ClearCookies = %q, %v", c, err)
		}
		l, ok := sp.(auth.SessionLister)
		if !ok {
			t.Fatal("session adapter is not a SessionLister although session_list exists")
		}
		if ss, err := l.ListSessions(ctx, "u3"); err != nil || len(ss) != 2 || ss[1].UserID != "u3" {
			t.Errorf("ListSessions = %+v, %v", ss, err)
		}
	})
	t.Run("sso", func(t *testing.T) {
		sso := p.SSO()
		url, err := sso.LoginURL(ctx, auth.SSOLoginRequest{RedirectURI: "https://app/cb", State: "st", CodeChallenge: "cc", CodeChallengeMethod: "S256"})
		if err != nil || url != "https://idp.test/authorize?redirect_uri=https://app/cb&state=st&code_challenge=cc&method=S256" {
			t.Errorf("LoginURL = %q, %v", url, err)
		}
		res, err := sso.Callback(ctx, auth.SSOCallbackRequest{Code: "c1", CodeVerifier: "v1", Request: r})
		if err != nil || res.User.ID != "sso-c1" || res.Tokens.AccessToken != "at-v1" || !res.Tokens.ExpiresAt.Equal(t0) || !slices.Equal(res.SetCookie, []string{"wos=1"}) {
			t.Errorf("Callback = %+v, %v", res, err)
		}
		if _, err := sso.Callback(ctx, auth.SSOCallbackRequest{Code: "bad"}); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Errorf("Callback(bad) = %v", err)
		}
		if url, err := sso.LogoutURL(ctx, "https://app/", r); url != "" || err != nil {
			t.Errorf("LogoutURL without export = %q, %v", url, err)
		}
		if b := sso.LoginButton(); b.Provider != "allcaps" || b.Text != "Sign in with AllCaps" {
			t.Errorf("LoginButton = %+v", b)
		}
	})
	t.Run("credentials", func(t *testing.T) {
		cp := p.Credentials()
		res, err := cp.SignIn(ctx, "a@b.c", "secret", r)
		if err != nil || res.User.Email != "a@b.c" || res.Session == nil || res.Session.ID != "s1" || res.Token != "tok" {
			t.Errorf("SignIn = %+v, %v", res, err)
		}
		if _, err := cp.SignIn(ctx, "a@b.c", "nope", r); !errors.Is(err, auth.ErrInvalidCredentials) || err.Error() != "invalid_credentials: wrong password" {
			t.Errorf("SignIn(wrong) = %v", err)
		}
		if res, err := cp.SignUp(ctx, "n@b.c", "pw", "New", r); err != nil || res.User.Name != "New" {
			t.Errorf("SignUp = %+v, %v", res, err)
		}
		if cp.SignUpEnabled(ctx) {
			t.Error("SignUpEnabled = true, plugin says false")
		}
		if err := cp.RequestPasswordReset(ctx, "a@b.c", ""); !errors.Is(err, auth.ErrNotSupported) {
			t.Errorf("RequestPasswordReset without export = %v", err)
		}
		if err := cp.ResetPassword(ctx, "t", "p"); !errors.Is(err, auth.ErrNotSupported) {
			t.Errorf("ResetPassword without export = %v", err)
		}
	})
	t.Run("rbac", func(t *testing.T) {
		rp := p.RBAC()
		if roles, err := rp.Roles(ctx, auth.User{ID: "u", Roles: []string{"x"}}); err != nil || !slices.Equal(roles, []string{"member", "x"}) {
			t.Errorf("Roles = %v, %v", roles, err)
		}
		if perms, err := rp.Permissions(ctx, auth.User{ID: "u"}); err != nil || !slices.Equal(perms, []string{"docs:read"}) {
			t.Errorf("Permissions = %v, %v", perms, err)
		}
		defs, err := rp.(interface {
			RoleDefinitions(ctx2 contextT) ([]auth.RoleDefinition, error)
		}).RoleDefinitions(ctx)
		if err != nil || len(defs) != 1 || defs[0].ID != "member" {
			t.Errorf("RoleDefinitions = %+v, %v", defs, err)
		}
	})
	t.Run("acl", func(t *testing.T) {
		ap := p.ACL()
		if ok, err := ap.CanAccess(ctx, auth.User{ID: "u"}, auth.Resource{Type: "doc", ID: "doc1"}, "read"); !ok || err != nil {
			t.Errorf("CanAccess = %v, %v", ok, err)
		}
		if ok, _ := ap.CanAccess(ctx, auth.User{ID: "u"}, auth.Resource{Type: "doc", ID: "doc1"}, "write"); ok {
			t.Error("CanAccess(write) = true")
		}
		if ids, err := ap.ListAccessible(ctx, auth.User{ID: "u"}, "doc", "read"); err != nil || len(ids) != 2 {
			t.Errorf("ListAccessible = %v, %v", ids, err)
		}
		m, ok := ap.(auth.ACLManager)
		if !ok {
			t.Fatal("acl adapter is not an ACLManager although grant and revoke exist")
		}
		g, err := m.Grant(ctx, "user:u", auth.Resource{Type: "doc", ID: "d"}, []string{"read"}, "admin")
		if err != nil || g.Subject != "user:u" || g.Resource.ID != "d" || g.GrantedBy != "admin" || !g.GrantedAt.Equal(t0) {
			t.Errorf("Grant = %+v, %v", g, err)
		}
		if err := m.Revoke(ctx, "user:u", auth.Resource{Type: "doc", ID: "d"}, nil); err != nil {
			t.Error(err)
		}
		if _, err := m.Grants(ctx, "", nil); !errors.Is(err, auth.ErrNotSupported) {
			t.Errorf("Grants = %v", err)
		}
	})
	t.Run("audit", func(t *testing.T) {
		al := p.Audit()
		ev := auth.AuditEvent{ID: "e", Timestamp: t0, Action: "auth.login", Outcome: auth.OutcomeSuccess, Actor: auth.AuditActor{Type: auth.ActorUser, ID: "u"}, Resource: &auth.AuditResource{Type: "doc", ID: "d"}}
		if err := al.Log(ctx, ev); err != nil {
			t.Error(err)
		}
		if err := al.Log(ctx, auth.AuditEvent{}); !errors.Is(err, auth.ErrInvalidRequest) {
			t.Errorf("Log(empty) = %v", err)
		}
		q := al.(interface {
			Query(contextT, auth.AuditFilter, auth.AuditPage) (*auth.AuditResult, error)
		})
		res, err := q.Query(ctx, auth.AuditFilter{Action: "auth.login"}, auth.AuditPage{Limit: 7})
		if err != nil || res.Total != 7 || len(res.Events) != 1 || res.Events[0].Action != "auth.login" || res.Events[0].Resource.ID != "d1" || !res.Events[0].Timestamp.Equal(t0) {
			t.Errorf("Query = %+v, %v", res, err)
		}
	})
	t.Run("audit export", func(t *testing.T) {
		x, ok := p.Audit().(auth.AuditExporter)
		if !ok {
			t.Fatalf("audit adapter %T is not an auth.AuditExporter though the plugin exports audit_export_*", p.Audit())
		}
		req := auth.AuditExportRequest{RangeStart: t0, RangeEnd: t0.Add(time.Hour), Actions: []string{"a", "b"}, ActorIDs: []string{"u1"}, Targets: []string{"doc"}}
		ex, err := x.CreateAuditExport(ctx, req)
		if err != nil || ex.ID != "2030-01-02T03:04:05Z|2030-01-02T04:04:05Z|a,b|u1|doc" || ex.State != auth.AuditExportPending || ex.URL != "" || !ex.CreatedAt.Equal(t0) {
			t.Errorf("CreateAuditExport = %+v, %v", ex, err)
		}
		req.Actions = []string{"unsupported"}
		if _, err := x.CreateAuditExport(ctx, req); !errors.Is(err, auth.ErrNotSupported) {
			t.Errorf("CreateAuditExport(unsupported) = %v, want not_supported", err)
		}
		ex, err = x.GetAuditExport(ctx, "ex1")
		if err != nil || ex.State != auth.AuditExportReady || ex.URL != "https://dl.test/ex1" || !ex.UpdatedAt.Equal(t0.Add(time.Minute)) {
			t.Errorf("GetAuditExport = %+v, %v", ex, err)
		}
		if _, err := x.GetAuditExport(ctx, "missing"); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("GetAuditExport(missing) = %v, want not_found", err)
		}
		if _, err := x.GetAuditExport(ctx, "weird"); !errors.Is(err, auth.ErrInternal) || !strings.Contains(err.Error(), `unknown export state "Done"`) {
			t.Errorf("GetAuditExport(weird state) = %v, want internal", err)
		}
	})
	t.Run("webhook", func(t *testing.T) {
		wh := p.Webhook()
		req := httptest.NewRequest("POST", "/webhooks/allcaps", bytes.NewReader([]byte("u9")))
		req.Header.Set("X-Signature", "sig")
		res, err := wh.HandleWebhook(ctx, req)
		if err != nil || res.Status != 200 || len(res.RoleChanges) != 1 || res.RoleChanges[0].UserID != "u9" || res.UserDeletes[0] != "gone" {
			t.Errorf("HandleWebhook = %+v, %v", res, err)
		}
		if _, err := wh.Handle(ctx, http.Header{}, nil); !errors.Is(err, auth.ErrForbidden) || !strings.Contains(err.Error(), "missing signature") {
			t.Errorf("Handle unsigned = %v", err)
		}
	})
}

type contextT = context.Context
