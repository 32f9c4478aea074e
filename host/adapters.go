package host

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/auth"
	"github.com/authhost/authhost/auth/rbaccache"
	"github.com/authhost/authhost/auth/sessioncache"
)

// Interface guards.
var (
	_ auth.UserProvider        = (*userAdapter)(nil)
	_ auth.SessionProvider     = (*sessionAdapter)(nil)
	_ auth.SessionLister       = (*sessionListerAdapter)(nil)
	_ auth.SSOProvider         = (*ssoAdapter)(nil)
	_ auth.CredentialsProvider = (*credentialsAdapter)(nil)
	_ auth.RBACProvider        = (*rbacAdapter)(nil)
	_ auth.RBACProvider        = userRolesAdapter{}
	_ auth.ACLProvider         = (*aclAdapter)(nil)
	_ auth.ACLManager          = (*aclManagerAdapter)(nil)
	_ auth.AuditLogger         = (*auditAdapter)(nil)
	_ auth.AuditExporter       = (*auditExporterAdapter)(nil)
	_ sessionPrimer            = (*sessioncache.Cache)(nil)
	_ rolePrimer               = (*rbaccache.Cache)(nil)
)

// adapters holds a plugin's capability adapters; nil when not declared.
type adapters struct {
	user        auth.UserProvider
	userRoles   auth.RoleSource
	session     auth.SessionProvider
	sso         auth.SSOProvider
	credentials auth.CredentialsProvider
	rbac        auth.RBACProvider
	acl         auth.ACLProvider
	audit       auth.AuditLogger
	webhook     *WebhookHandler
}

func newAdapters(p *Plugin) adapters {
	var a adapters
	if p.Has(abi.CapUser) {
		a.user = &userAdapter{p}
		a.userRoles = rbaccache.Wrap(userRolesAdapter{a.user}, rbaccache.Options{TTL: p.cfg.roleCache(), Now: p.now, ByID: true})
	}
	if p.Has(abi.CapSession) {
		if p.Offers(abi.ExportSessionList) {
			a.session = &sessionListerAdapter{sessionAdapter{p}}
		} else {
			a.session = &sessionAdapter{p}
		}
		a.session = sessioncache.Wrap(a.session, sessioncache.Options{Cap: p.cfg.sessionCache(), Now: p.now})
	}
	if p.Has(abi.CapSSO) {
		a.sso = &ssoAdapter{p}
	}
	if p.Has(abi.CapCredentials) {
		a.credentials = &credentialsAdapter{p}
	}
	if p.Has(abi.CapRBAC) {
		a.rbac = rbaccache.Wrap(&rbacAdapter{p}, rbaccache.Options{TTL: p.cfg.roleCache(), Now: p.now})
	}
	if p.Has(abi.CapACL) {
		if p.Offers(abi.ExportACLGrant) && p.Offers(abi.ExportACLRevoke) {
			a.acl = &aclManagerAdapter{aclAdapter{p}}
		} else {
			a.acl = &aclAdapter{p}
		}
	}
	if p.Has(abi.CapAudit) {
		if p.Offers(abi.ExportAuditExportCreate) && p.Offers(abi.ExportAuditExportGet) {
			a.audit = &auditExporterAdapter{auditAdapter{p}}
		} else {
			a.audit = &auditAdapter{p}
		}
	}
	if p.Has(abi.CapWebhook) {
		a.webhook = &WebhookHandler{p}
	}
	return a
}

// Provider returns the plugin's capabilities for composition: one adapter
// per declared capability, nil for the others.
func (p *Plugin) Provider() auth.Provider {
	a := p.adapters
	return auth.Provider{Name: p.name, User: a.user, Session: a.session, SSO: a.sso, Credentials: a.credentials,
		RBAC: a.rbac, ACL: a.acl, Audit: a.audit, ManagesSessions: p.desc.ManagesSessions, UserRoles: a.userRoles,
		SessionOnly: p.desc.SessionTransport != nil && p.desc.SessionTransport.Exclusive}
}

// User returns the user adapter, or nil when "user" is not declared.
func (p *Plugin) User() auth.UserProvider { return p.adapters.user }

// Session returns the session adapter (also an auth.SessionLister when the
// plugin offers session_list), or nil when "session" is not declared.
// Unless the operator turned it off, a session cache sits in front of it
// (an auth.SessionInvalidator): sessions the plugin vouches for
// (cache_seconds) are validated without a call while the vouching lasts.
func (p *Plugin) Session() auth.SessionProvider { return p.adapters.session }

// SSO returns the SSO adapter, or nil when "sso" is not declared.
func (p *Plugin) SSO() auth.SSOProvider { return p.adapters.sso }

// Credentials returns the credentials adapter, or nil when "credentials"
// is not declared.
func (p *Plugin) Credentials() auth.CredentialsProvider { return p.adapters.credentials }

// RBAC returns the RBAC adapter, or nil when "rbac" is not declared. It
// also has RoleDefinitions(ctx) ([]auth.RoleDefinition, error). Unless the
// operator turned it off, a cache (rbaccache, an auth.SessionInvalidator)
// keeps its answers per user for role_cache_seconds.
func (p *Plugin) RBAC() auth.RBACProvider { return p.adapters.rbac }

// ACL returns the ACL adapter (an auth.ACLManager when the plugin offers
// acl_grant and acl_revoke), or nil when "acl" is not declared.
func (p *Plugin) ACL() auth.ACLProvider { return p.adapters.acl }

// Audit returns the audit adapter, or nil when "audit" is not declared. It
// also has Query(ctx, auth.AuditFilter, auth.AuditPage), and is an
// auth.AuditExporter when the plugin offers audit_export_create and
// audit_export_get (abi 1.1).
func (p *Plugin) Audit() auth.AuditLogger { return p.adapters.audit }

// Webhook returns the webhook handler, or nil when "webhook" is not declared.
func (p *Plugin) Webhook() *WebhookHandler { return p.adapters.webhook }

// --- user ---

type userAdapter struct{ p *Plugin }

func (a *userAdapter) CurrentUser(ctx context.Context, r *http.Request) (*auth.User, error) {
	var res abi.UserResult
	if err := a.p.Call(ctx, abi.ExportUserCurrent, abi.UserCurrentRequest{Request: RequestFromHTTP(r)}, &res); err != nil {
		return nil, err
	}
	return userPtrFromABI(res.User), nil
}

func (a *userAdapter) GetUser(ctx context.Context, id string) (*auth.User, error) {
	var res abi.UserResult
	if err := a.p.Call(ctx, abi.ExportUserGet, abi.UserGetRequest{ID: id}, &res); err != nil {
		return nil, err
	}
	return userPtrFromABI(res.User), nil
}

// ProfileURL returns "" when the plugin does not offer user_profile_url,
// as the interface asks for a provider without profile pages.
func (a *userAdapter) ProfileURL(ctx context.Context, u auth.User) (string, error) {
	if !a.p.Offers(abi.ExportUserProfileURL) {
		return "", nil
	}
	var res abi.URLResult
	if err := a.p.Call(ctx, abi.ExportUserProfileURL, abi.UserProfileURLRequest{User: userToABI(u)}, &res); err != nil {
		return "", err
	}
	return res.URL, nil
}

// userRolesAdapter reports the roles user_get returns for a user now: the
// source that refreshes the role snapshot of host sessions
// (auth.Provider.UserRoles), behind a cache keyed by user id. A user the
// provider no longer knows has no roles.
type userRolesAdapter struct{ users auth.UserProvider }

func (a userRolesAdapter) Roles(ctx context.Context, u auth.User) ([]string, error) {
	cur, err := a.users.GetUser(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if cur == nil || cur.Roles == nil {
		return []string{}, nil
	}
	return cur.Roles, nil
}

// Permissions is not part of what user_get reports; the role snapshot
// refresh never asks for it.
func (a userRolesAdapter) Permissions(context.Context, auth.User) ([]string, error) {
	return nil, auth.Errorf(auth.CodeNotSupported, "user_get reports roles, not permissions")
}

// --- session ---

type sessionAdapter struct{ p *Plugin }

type sessionListerAdapter struct{ sessionAdapter }

func (a *sessionAdapter) sessionCall(ctx context.Context, export string, in any) (*auth.Session, error) {
	var res abi.SessionResult
	if err := a.p.Call(ctx, export, in, &res); err != nil {
		return nil, err
	}
	return sessionPtrFromABI(res.Session), nil
}

func (a *sessionAdapter) CreateSession(ctx context.Context, userID string, metadata map[string]any) (*auth.Session, error) {
	return a.sessionCall(ctx, abi.ExportSessionCreate, abi.SessionCreateRequest{UserID: userID, Metadata: metadata})
}

func (a *sessionAdapter) ValidateSession(ctx context.Context, id string) (*auth.Session, error) {
	return a.sessionCall(ctx, abi.ExportSessionValidate, abi.SessionIDRequest{SessionID: id})
}

func (a *sessionAdapter) DestroySession(ctx context.Context, id string) error {
	return a.p.Call(ctx, abi.ExportSessionDestroy, abi.SessionIDRequest{SessionID: id}, nil)
}

func (a *sessionAdapter) RefreshSession(ctx context.Context, id string) (*auth.Session, error) {
	return a.sessionCall(ctx, abi.ExportSessionRefresh, abi.SessionIDRequest{SessionID: id})
}

// SessionIDFromRequest reads the id where the provider's describe says it
// travels (session_transport) and calls session_id_from_request only for a
// provider that declares none.
func (a *sessionAdapter) SessionIDFromRequest(ctx context.Context, r *http.Request) (string, error) {
	if t := a.p.desc.SessionTransport; t != nil {
		return sessionIDFrom(t, r), nil
	}
	var res abi.SessionIDResult
	if err := a.p.Call(ctx, abi.ExportSessionIDFromRequest, abi.SessionIDFromRequestRequest{Request: RequestFromHTTP(r)}, &res); err != nil {
		return "", err
	}
	return res.SessionID, nil
}

func (a *sessionAdapter) SessionCookies(ctx context.Context, s *auth.Session) ([]string, error) {
	if s == nil {
		return nil, auth.Errorf(auth.CodeInvalidRequest, "session cookies: nil session")
	}
	var res abi.HeadersResult
	if err := a.p.Call(ctx, abi.ExportSessionHeaders, abi.SessionHeadersRequest{Session: sessionToABI(*s)}, &res); err != nil {
		return nil, err
	}
	return res.SetCookie, nil
}

func (a *sessionAdapter) ClearCookies(ctx context.Context) ([]string, error) {
	var res abi.HeadersResult
	if err := a.p.Call(ctx, abi.ExportSessionClearHeaders, abi.Empty{}, &res); err != nil {
		return nil, err
	}
	return res.SetCookie, nil
}

func (a *sessionListerAdapter) ListSessions(ctx context.Context, userID string) ([]auth.Session, error) {
	var res abi.SessionListResult
	if err := a.p.Call(ctx, abi.ExportSessionList, abi.SessionListRequest{UserID: userID}, &res); err != nil {
		return nil, err
	}
	out := make([]auth.Session, len(res.Sessions))
	for i, s := range res.Sessions {
		out[i] = sessionFromABI(s)
	}
	return out, nil
}

// --- sso ---

type ssoAdapter struct{ p *Plugin }

func (a *ssoAdapter) LoginURL(ctx context.Context, req auth.SSOLoginRequest) (string, error) {
	var res abi.URLResult
	err := a.p.Call(ctx, abi.ExportSSOLoginURL, abi.SSOLoginURLRequest{
		RedirectURI: req.RedirectURI, State: req.State, Nonce: req.Nonce,
		CodeChallenge: req.CodeChallenge, CodeChallengeMethod: req.CodeChallengeMethod,
	}, &res)
	return res.URL, err
}

// Callback finishes the sign-in. When the plugin manages its sessions,
// serves them and reports the session it started (abi 1.2 `session`), its
// session cache is primed with it, so the first requests carrying the new
// cookie need no session_validate while the plugin vouches for it; with
// the session, the plugin's RBAC answers about its user (`access`) prime
// its role cache, so they need no rbac_roles or rbac_permissions.
func (a *ssoAdapter) Callback(ctx context.Context, req auth.SSOCallbackRequest) (*auth.SSOResult, error) {
	sessions, _ := a.p.adapters.session.(sessionPrimer)
	roles, _ := a.p.adapters.rbac.(rolePrimer)
	if !a.p.desc.ManagesSessions || sessions == nil {
		sessions, roles = nil, nil
	}
	var sgen, rgen uint64
	if sessions != nil {
		sgen = sessions.Generation()
	}
	if roles != nil {
		rgen = roles.Generation()
	}
	var res abi.SSOCallbackResult
	if err := a.p.Call(ctx, abi.ExportSSOCallback, abi.SSOCallbackRequest{
		Code: req.Code, State: req.State, Nonce: req.Nonce, CodeVerifier: req.CodeVerifier,
		RedirectURI: req.RedirectURI, Request: RequestFromHTTP(req.Request),
	}, &res); err != nil {
		return nil, err
	}
	if sessions != nil && res.Session != nil && res.Session.ID != "" && res.Session.UserID == res.User.ID {
		s := sessionPtrFromABI(res.Session)
		sessions.Prime(s, sgen)
		if roles != nil && res.Access != nil {
			// The user as a request carrying the session describes it.
			roles.Prime(auth.UserFromSession(s), res.Access.Roles, res.Access.Permissions, rgen)
		}
	}
	return &auth.SSOResult{User: userFromABI(res.User), Tokens: tokensFromABI(res.Tokens), SetCookie: res.SetCookie}, nil
}

// sessionPrimer is a session cache that takes a session a sign-in just
// started (auth/sessioncache).
type sessionPrimer interface {
	Generation() uint64
	Prime(s *auth.Session, gen uint64)
}

// rolePrimer is a role cache that takes a provider's RBAC answers given
// at sign-in (auth/rbaccache).
type rolePrimer interface {
	Generation() uint64
	Prime(u auth.User, roles, perms []string, gen uint64)
}

// LogoutURL returns "" when the plugin does not offer sso_logout_url, as
// the interface asks for a provider without a logout endpoint.
func (a *ssoAdapter) LogoutURL(ctx context.Context, redirectURI string, r *http.Request) (string, error) {
	if !a.p.Offers(abi.ExportSSOLogoutURL) {
		return "", nil
	}
	var res abi.URLResult
	err := a.p.Call(ctx, abi.ExportSSOLogoutURL, abi.SSOLogoutURLRequest{RedirectURI: redirectURI, Request: RequestFromHTTP(r)}, &res)
	return res.URL, err
}

func (a *ssoAdapter) LoginButton() auth.LoginButton {
	if l := a.p.desc.Login; l != nil {
		return *l
	}
	return auth.LoginButton{Provider: a.p.name, Text: "Sign in with " + a.p.name}
}

// --- credentials ---

type credentialsAdapter struct{ p *Plugin }

func (a *credentialsAdapter) SignIn(ctx context.Context, email, password string, r *http.Request) (*auth.CredentialsResult, error) {
	var res abi.CredentialsResult
	if err := a.p.Call(ctx, abi.ExportCredentialsSignIn, abi.SignInRequest{Email: email, Password: password, Request: RequestFromHTTP(r)}, &res); err != nil {
		return nil, err
	}
	return credentialsFromABI(res), nil
}

func (a *credentialsAdapter) SignUp(ctx context.Context, email, password, name string, r *http.Request) (*auth.CredentialsResult, error) {
	var res abi.CredentialsResult
	if err := a.p.Call(ctx, abi.ExportCredentialsSignUp, abi.SignUpRequest{Email: email, Password: password, Name: name, Request: RequestFromHTTP(r)}, &res); err != nil {
		return nil, err
	}
	return credentialsFromABI(res), nil
}

// SignUpEnabled is true when the plugin does not offer
// credentials_sign_up_enabled (sign-up is a required export) and false when
// the call fails (closed).
func (a *credentialsAdapter) SignUpEnabled(ctx context.Context) bool {
	if !a.p.Offers(abi.ExportCredentialsSignUpEnabled) {
		return true
	}
	var res abi.EnabledResult
	if err := a.p.Call(ctx, abi.ExportCredentialsSignUpEnabled, abi.Empty{}, &res); err != nil {
		return false
	}
	return res.Enabled
}

// PasswordResetSupported reports whether the plugin offers both password
// reset exports (auth.SupportsPasswordReset).
func (a *credentialsAdapter) PasswordResetSupported() bool {
	return a.p.Offers(abi.ExportCredentialsPasswordResetReq) && a.p.Offers(abi.ExportCredentialsPasswordResetApply)
}

func (a *credentialsAdapter) notSupported(export string) error {
	return auth.Errorf(auth.CodeNotSupported, "plugin %q does not offer %s", a.p.name, export)
}

func (a *credentialsAdapter) RequestPasswordReset(ctx context.Context, email, redirectURI string) error {
	if !a.PasswordResetSupported() {
		return a.notSupported(abi.ExportCredentialsPasswordResetReq)
	}
	return a.p.Call(ctx, abi.ExportCredentialsPasswordResetReq, abi.PasswordResetRequest{Email: email, RedirectURI: redirectURI}, nil)
}

func (a *credentialsAdapter) ResetPassword(ctx context.Context, token, newPassword string) error {
	if !a.PasswordResetSupported() {
		return a.notSupported(abi.ExportCredentialsPasswordResetApply)
	}
	return a.p.Call(ctx, abi.ExportCredentialsPasswordResetApply, abi.PasswordResetApply{Token: token, NewPassword: newPassword}, nil)
}

// --- rbac ---

type rbacAdapter struct{ p *Plugin }

func (a *rbacAdapter) Roles(ctx context.Context, u auth.User) ([]string, error) {
	var res abi.RolesResult
	if err := a.p.Call(ctx, abi.ExportRBACRoles, abi.UserRequest{User: userToABI(u)}, &res); err != nil {
		return nil, err
	}
	return res.Roles, nil
}

func (a *rbacAdapter) Permissions(ctx context.Context, u auth.User) ([]string, error) {
	var res abi.PermissionsResult
	if err := a.p.Call(ctx, abi.ExportRBACPermissions, abi.UserRequest{User: userToABI(u)}, &res); err != nil {
		return nil, err
	}
	return res.Permissions, nil
}

// RoleDefinitions returns the provider's roles (auth.ErrNotSupported when
// it does not offer rbac_role_definitions).
func (a *rbacAdapter) RoleDefinitions(ctx context.Context) ([]auth.RoleDefinition, error) {
	if !a.p.Offers(abi.ExportRBACRoleDefinitions) {
		return nil, auth.Errorf(auth.CodeNotSupported, "plugin %q does not offer %s", a.p.name, abi.ExportRBACRoleDefinitions)
	}
	var res abi.RoleDefinitionsResult
	if err := a.p.Call(ctx, abi.ExportRBACRoleDefinitions, abi.Empty{}, &res); err != nil {
		return nil, err
	}
	return res.Roles, nil
}

// --- acl ---

type aclAdapter struct{ p *Plugin }

type aclManagerAdapter struct{ aclAdapter }

func (a *aclAdapter) CanAccess(ctx context.Context, u auth.User, res auth.Resource, action string) (bool, error) {
	var out abi.AllowedResult
	if err := a.p.Call(ctx, abi.ExportACLCheck, abi.ACLCheckRequest{User: userToABI(u), Resource: res, Action: action}, &out); err != nil {
		return false, err
	}
	return out.Allowed, nil
}

func (a *aclAdapter) ListAccessible(ctx context.Context, u auth.User, resourceType, action string) ([]string, error) {
	var out abi.IDsResult
	if err := a.p.Call(ctx, abi.ExportACLList, abi.ACLListRequest{User: userToABI(u), ResourceType: resourceType, Action: action}, &out); err != nil {
		return nil, err
	}
	return out.IDs, nil
}

func (a *aclManagerAdapter) Grant(ctx context.Context, subject string, res auth.Resource, actions []string, grantedBy string) (*auth.ACLGrant, error) {
	var out abi.ACLGrant
	if err := a.p.Call(ctx, abi.ExportACLGrant, abi.ACLGrantRequest{Subject: subject, Resource: res, Actions: actions, GrantedBy: grantedBy}, &out); err != nil {
		return nil, err
	}
	g := grantFromABI(out)
	return &g, nil
}

func (a *aclManagerAdapter) Revoke(ctx context.Context, subject string, res auth.Resource, actions []string) error {
	return a.p.Call(ctx, abi.ExportACLRevoke, abi.ACLRevokeRequest{Subject: subject, Resource: res, Actions: actions}, nil)
}

// Grants is not part of ABI v1 (there is no acl_grants export): it always
// returns auth.ErrNotSupported.
func (a *aclManagerAdapter) Grants(context.Context, string, *auth.Resource) ([]auth.ACLGrant, error) {
	return nil, auth.Errorf(auth.CodeNotSupported, "plugin %q: listing grants is not part of abi %s", a.p.name, abi.Version)
}

// --- audit ---

type auditAdapter struct{ p *Plugin }

func (a *auditAdapter) Log(ctx context.Context, e auth.AuditEvent) error {
	return a.p.Call(ctx, abi.ExportAuditLog, abi.AuditLogRequest{Event: auditToABI(e)}, nil)
}

// Query reads events back through audit_query (auth.ErrNotSupported when
// the plugin does not offer it). Text filters and cursors are not part of
// abi v1 and are ignored.
func (a *auditAdapter) Query(ctx context.Context, f auth.AuditFilter, pg auth.AuditPage) (*auth.AuditResult, error) {
	if !a.p.Offers(abi.ExportAuditQuery) {
		return nil, auth.Errorf(auth.CodeNotSupported, "plugin %q does not offer %s", a.p.name, abi.ExportAuditQuery)
	}
	var out abi.AuditQueryResult
	if err := a.p.Call(ctx, abi.ExportAuditQuery, abi.AuditQueryRequest{
		ActorID: f.ActorID, ActorType: f.ActorType, Action: f.Action, ActionPrefix: f.ActionPrefix,
		ResourceType: f.ResourceType, ResourceID: f.ResourceID, Outcome: f.Outcome, Start: f.Start, End: f.End,
		Offset: pg.Offset, Limit: pg.Limit,
	}, &out); err != nil {
		return nil, err
	}
	res := &auth.AuditResult{Total: out.Total, Events: make([]auth.AuditEvent, len(out.Events))}
	for i, e := range out.Events {
		res.Events[i] = auditFromABI(e)
	}
	return res, nil
}

// auditExporterAdapter is the audit adapter of a plugin that offers
// audit_export_create and audit_export_get (listed in implements; a
// provider built for abi 1.0/1.1 offers them when it exports them, and may
// answer auth.ErrNotSupported).
type auditExporterAdapter struct{ auditAdapter }

func (a *auditExporterAdapter) CreateAuditExport(ctx context.Context, req auth.AuditExportRequest) (*auth.AuditExport, error) {
	var out abi.AuditExport
	if err := a.p.Call(ctx, abi.ExportAuditExportCreate, req, &out); err != nil {
		return nil, err
	}
	return a.export(abi.ExportAuditExportCreate, out)
}

func (a *auditExporterAdapter) GetAuditExport(ctx context.Context, id string) (*auth.AuditExport, error) {
	var out abi.AuditExport
	if err := a.p.Call(ctx, abi.ExportAuditExportGet, abi.AuditExportGetRequest{ID: id}, &out); err != nil {
		return nil, err
	}
	return a.export(abi.ExportAuditExportGet, out)
}

// export checks a plugin's AuditExport: an id and a known state.
func (a *auditExporterAdapter) export(export string, ex abi.AuditExport) (*auth.AuditExport, error) {
	switch ex.State {
	case abi.AuditExportPending, abi.AuditExportReady, abi.AuditExportError:
	default:
		return nil, auth.Errorf(auth.CodeInternal, "plugin %q: %s: unknown export state %q", a.p.name, export, ex.State)
	}
	if ex.ID == "" {
		return nil, auth.Errorf(auth.CodeInternal, "plugin %q: %s: export without id", a.p.name, export)
	}
	x := auditExportFromABI(ex)
	return &x, nil
}

// --- webhook ---

// WebhookHandler passes incoming webhooks to a plugin's webhook_handle
// export and returns what the host should apply (an auth.WebhookHandler).
type WebhookHandler struct{ p *Plugin }

var _ auth.WebhookHandler = (*WebhookHandler)(nil)

// Handle passes the raw headers and body of a webhook to the plugin.
func (w *WebhookHandler) Handle(ctx context.Context, header http.Header, body []byte) (*auth.WebhookResult, error) {
	h := make(map[string][]string, len(header))
	for k, vs := range header {
		h[http.CanonicalHeaderKey(k)] = slices.Clone(vs)
	}
	var out auth.WebhookResult
	if err := w.p.Call(ctx, abi.ExportWebhookHandle, abi.WebhookRequest{Headers: h, Body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// HandleWebhook reads r's body (bounded by the plugin's input limit) and
// calls Handle.
func (w *WebhookHandler) HandleWebhook(ctx context.Context, r *http.Request) (*auth.WebhookResult, error) {
	limit := int64(w.p.cfg.Limits.MaxInputBytes) / 2 // base64 in the JSON input
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, &auth.Error{Code: auth.CodeInvalidRequest, Message: "webhook: read body", Err: err}
	}
	if int64(len(body)) > limit {
		return nil, &auth.Error{Code: auth.CodeInvalidRequest, Message: "webhook: body too large", Err: errors.New("body exceeds the plugin's input limit")}
	}
	return w.Handle(ctx, r.Header, body)
}
