package pdk

import (
	"context"
	"fmt"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk/wire"
)

type exportKey struct{}

// ExportName returns the name of the export being served by ctx, or "".
func ExportName(ctx context.Context) string {
	s, _ := ctx.Value(exportKey{}).(string)
	return s
}

// Call serves one export: it decodes input, calls the matching method of p
// and returns the output bytes. For abi.ExportDescribe the output is the
// bare Describe JSON; for every other export it is an abi.Envelope. Call
// never panics: a panic inside a handler becomes an internal envelope.
func (p *Provider) Call(export string, input []byte) (out []byte) {
	if export == abi.ExportDescribe {
		out, err := wire.Marshal(p.Describe())
		if err != nil { // only a broken ConfigSchema can get here; Validate rejects it
			return abi.Failure(fmt.Errorf("describe: %w", err))
		}
		return out
	}
	h, ok := handlers[export]
	if !ok {
		return abi.Failure(abi.Errorf(abi.CodeNotSupported, "unknown export %q", export))
	}
	defer func() {
		if r := recover(); r != nil {
			Log.Error("provider panicked", "export", export, "panic", fmt.Sprint(r))
			out = abi.Failure(abi.Errorf(abi.CodeInternal, "%s: provider panicked: %v", export, r))
		}
	}()
	ctx := context.WithValue(context.Background(), exportKey{}, export)
	data, err := h(ctx, p, input)
	if err != nil {
		return abi.Failure(err)
	}
	out, err = wire.Success(data)
	if err != nil {
		return abi.Failure(abi.Errorf(abi.CodeInternal, "%s: %v", export, err))
	}
	return out
}

// Exports returns every export name the PDK serves (describe included):
// every export of the ABI's capability table.
func Exports() []string { return abi.AllExports() }

// decode parses an export's input; empty input is read as {}.
func decode(export string, input []byte, v any) error {
	if len(input) == 0 {
		return nil
	}
	if err := wire.Unmarshal(input, v); err != nil {
		return abi.Errorf(abi.CodeInvalidRequest, "%s: malformed input: %v", export, err)
	}
	return nil
}

type handler func(ctx context.Context, p *Provider, in []byte) (any, error)

// serve builds a handler for one export: get returns the capability method
// (nil when not offered), which is called with the decoded input.
func serve[In any](export string, call func(ctx context.Context, p *Provider, req In) (any, bool, error)) handler {
	return func(ctx context.Context, p *Provider, in []byte) (any, error) {
		var req In
		if err := decode(export, in, &req); err != nil {
			return nil, err
		}
		out, ok, err := call(ctx, p, req)
		if !ok {
			return nil, errNotSupported(export)
		}
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func missing(export, what string) error {
	return abi.Errorf(abi.CodeInternal, "%s: provider returned no %s", export, what)
}

var handlers = map[string]handler{
	abi.ExportConfigure: func(ctx context.Context, p *Provider, in []byte) (any, error) {
		if p.Configure == nil {
			return nil, errNotSupported(abi.ExportConfigure)
		}
		var req abi.ConfigureRequest
		if err := decode(abi.ExportConfigure, in, &req); err != nil {
			return nil, err
		}
		return abi.Empty{}, p.Configure(ctx, req.Config)
	},

	// --- user ---
	abi.ExportUserCurrent: serve(abi.ExportUserCurrent, func(ctx context.Context, p *Provider, r abi.UserCurrentRequest) (any, bool, error) {
		if p.User == nil {
			return nil, false, nil
		}
		u, err := p.User.CurrentUser(ctx, r.Request)
		return abi.UserResult{User: u}, true, err
	}),
	abi.ExportUserGet: serve(abi.ExportUserGet, func(ctx context.Context, p *Provider, r abi.UserGetRequest) (any, bool, error) {
		if p.User == nil {
			return nil, false, nil
		}
		u, err := p.User.GetUser(ctx, r.ID)
		return abi.UserResult{User: u}, true, err
	}),
	abi.ExportUserProfileURL: serve(abi.ExportUserProfileURL, func(ctx context.Context, p *Provider, r abi.UserProfileURLRequest) (any, bool, error) {
		x, ok := p.User.(ProfileURLer)
		if !ok {
			return nil, false, nil
		}
		url, err := x.ProfileURL(ctx, r.User)
		return abi.URLResult{URL: url}, true, err
	}),

	// --- session ---
	abi.ExportSessionCreate: serve(abi.ExportSessionCreate, func(ctx context.Context, p *Provider, r abi.SessionCreateRequest) (any, bool, error) {
		if p.Session == nil {
			return nil, false, nil
		}
		s, err := p.Session.CreateSession(ctx, r.UserID, r.Metadata)
		if err == nil && s == nil {
			err = missing(abi.ExportSessionCreate, "session")
		}
		return abi.SessionResult{Session: s}, true, err
	}),
	abi.ExportSessionValidate: serve(abi.ExportSessionValidate, func(ctx context.Context, p *Provider, r abi.SessionIDRequest) (any, bool, error) {
		if p.Session == nil {
			return nil, false, nil
		}
		s, err := p.Session.ValidateSession(ctx, r.SessionID)
		return abi.SessionResult{Session: s}, true, err
	}),
	abi.ExportSessionDestroy: serve(abi.ExportSessionDestroy, func(ctx context.Context, p *Provider, r abi.SessionIDRequest) (any, bool, error) {
		if p.Session == nil {
			return nil, false, nil
		}
		return abi.Empty{}, true, p.Session.DestroySession(ctx, r.SessionID)
	}),
	abi.ExportSessionRefresh: serve(abi.ExportSessionRefresh, func(ctx context.Context, p *Provider, r abi.SessionIDRequest) (any, bool, error) {
		if p.Session == nil {
			return nil, false, nil
		}
		s, err := p.Session.RefreshSession(ctx, r.SessionID)
		return abi.SessionResult{Session: s}, true, err
	}),
	abi.ExportSessionIDFromRequest: serve(abi.ExportSessionIDFromRequest, func(ctx context.Context, p *Provider, r abi.SessionIDFromRequestRequest) (any, bool, error) {
		if p.Session == nil {
			return nil, false, nil
		}
		id, err := p.Session.SessionIDFromRequest(ctx, r.Request)
		return abi.SessionIDResult{SessionID: id}, true, err
	}),
	abi.ExportSessionHeaders: serve(abi.ExportSessionHeaders, func(ctx context.Context, p *Provider, r abi.SessionHeadersRequest) (any, bool, error) {
		if p.Session == nil {
			return nil, false, nil
		}
		c, err := p.Session.SessionCookies(ctx, r.Session)
		return abi.HeadersResult{SetCookie: nonNil(c)}, true, err
	}),
	abi.ExportSessionClearHeaders: serve(abi.ExportSessionClearHeaders, func(ctx context.Context, p *Provider, _ abi.Empty) (any, bool, error) {
		if p.Session == nil {
			return nil, false, nil
		}
		c, err := p.Session.ClearCookies(ctx)
		return abi.HeadersResult{SetCookie: nonNil(c)}, true, err
	}),
	abi.ExportSessionList: serve(abi.ExportSessionList, func(ctx context.Context, p *Provider, r abi.SessionListRequest) (any, bool, error) {
		x, ok := p.Session.(SessionLister)
		if !ok {
			return nil, false, nil
		}
		s, err := x.ListSessions(ctx, r.UserID)
		return abi.SessionListResult{Sessions: nonNil(s)}, true, err
	}),

	// --- sso ---
	abi.ExportSSOLoginURL: serve(abi.ExportSSOLoginURL, func(ctx context.Context, p *Provider, r abi.SSOLoginURLRequest) (any, bool, error) {
		if p.SSO == nil {
			return nil, false, nil
		}
		url, err := p.SSO.LoginURL(ctx, r)
		return abi.URLResult{URL: url}, true, err
	}),
	abi.ExportSSOCallback: serve(abi.ExportSSOCallback, func(ctx context.Context, p *Provider, r abi.SSOCallbackRequest) (any, bool, error) {
		if p.SSO == nil {
			return nil, false, nil
		}
		res, err := p.SSO.Callback(ctx, r)
		if err == nil && res == nil {
			err = missing(abi.ExportSSOCallback, "result")
		}
		return res, true, err
	}),
	abi.ExportSSOLogoutURL: serve(abi.ExportSSOLogoutURL, func(ctx context.Context, p *Provider, r abi.SSOLogoutURLRequest) (any, bool, error) {
		x, ok := p.SSO.(SSOLogoutURLer)
		if !ok {
			return nil, false, nil
		}
		url, err := x.LogoutURL(ctx, r)
		return abi.URLResult{URL: url}, true, err
	}),

	// --- credentials ---
	abi.ExportCredentialsSignIn: serve(abi.ExportCredentialsSignIn, func(ctx context.Context, p *Provider, r abi.SignInRequest) (any, bool, error) {
		if p.Credentials == nil {
			return nil, false, nil
		}
		res, err := p.Credentials.SignIn(ctx, r)
		if err == nil && res == nil {
			err = missing(abi.ExportCredentialsSignIn, "result")
		}
		return res, true, err
	}),
	abi.ExportCredentialsSignUp: serve(abi.ExportCredentialsSignUp, func(ctx context.Context, p *Provider, r abi.SignUpRequest) (any, bool, error) {
		if p.Credentials == nil {
			return nil, false, nil
		}
		res, err := p.Credentials.SignUp(ctx, r)
		if err == nil && res == nil {
			err = missing(abi.ExportCredentialsSignUp, "result")
		}
		return res, true, err
	}),
	abi.ExportCredentialsSignUpEnabled: serve(abi.ExportCredentialsSignUpEnabled, func(ctx context.Context, p *Provider, _ abi.Empty) (any, bool, error) {
		if p.Credentials == nil {
			return nil, false, nil
		}
		x, ok := p.Credentials.(SignUpEnabler)
		if !ok {
			return abi.EnabledResult{Enabled: true}, true, nil
		}
		on, err := x.SignUpEnabled(ctx)
		return abi.EnabledResult{Enabled: on}, true, err
	}),
	abi.ExportCredentialsPasswordResetReq: serve(abi.ExportCredentialsPasswordResetReq, func(ctx context.Context, p *Provider, r abi.PasswordResetRequest) (any, bool, error) {
		x, ok := p.Credentials.(PasswordResetter)
		if !ok {
			return nil, false, nil
		}
		return abi.Empty{}, true, x.RequestPasswordReset(ctx, r)
	}),
	abi.ExportCredentialsPasswordResetApply: serve(abi.ExportCredentialsPasswordResetApply, func(ctx context.Context, p *Provider, r abi.PasswordResetApply) (any, bool, error) {
		x, ok := p.Credentials.(PasswordResetter)
		if !ok {
			return nil, false, nil
		}
		return abi.Empty{}, true, x.ResetPassword(ctx, r)
	}),

	// --- rbac ---
	abi.ExportRBACRoles: serve(abi.ExportRBACRoles, func(ctx context.Context, p *Provider, r abi.UserRequest) (any, bool, error) {
		if p.RBAC == nil {
			return nil, false, nil
		}
		roles, err := p.RBAC.Roles(ctx, r.User)
		return abi.RolesResult{Roles: nonNil(roles)}, true, err
	}),
	abi.ExportRBACPermissions: serve(abi.ExportRBACPermissions, func(ctx context.Context, p *Provider, r abi.UserRequest) (any, bool, error) {
		if p.RBAC == nil {
			return nil, false, nil
		}
		perms, err := p.RBAC.Permissions(ctx, r.User)
		return abi.PermissionsResult{Permissions: nonNil(perms)}, true, err
	}),
	abi.ExportRBACRoleDefinitions: serve(abi.ExportRBACRoleDefinitions, func(ctx context.Context, p *Provider, _ abi.Empty) (any, bool, error) {
		x, ok := p.RBAC.(RoleDefiner)
		if !ok {
			return nil, false, nil
		}
		defs, err := x.RoleDefinitions(ctx)
		for i := range defs {
			defs[i].Permissions = nonNil(defs[i].Permissions)
		}
		return abi.RoleDefinitionsResult{Roles: nonNil(defs)}, true, err
	}),

	// --- acl ---
	abi.ExportACLCheck: serve(abi.ExportACLCheck, func(ctx context.Context, p *Provider, r abi.ACLCheckRequest) (any, bool, error) {
		if p.ACL == nil {
			return nil, false, nil
		}
		ok, err := p.ACL.CheckAccess(ctx, r)
		return abi.AllowedResult{Allowed: ok && err == nil}, true, err
	}),
	abi.ExportACLList: serve(abi.ExportACLList, func(ctx context.Context, p *Provider, r abi.ACLListRequest) (any, bool, error) {
		if p.ACL == nil {
			return nil, false, nil
		}
		ids, err := p.ACL.ListAccessible(ctx, r)
		return abi.IDsResult{IDs: nonNil(ids)}, true, err
	}),
	abi.ExportACLGrant: serve(abi.ExportACLGrant, func(ctx context.Context, p *Provider, r abi.ACLGrantRequest) (any, bool, error) {
		x, ok := p.ACL.(ACLManager)
		if !ok {
			return nil, false, nil
		}
		g, err := x.Grant(ctx, r)
		if err == nil && g == nil {
			err = missing(abi.ExportACLGrant, "grant")
		}
		return g, true, err
	}),
	abi.ExportACLRevoke: serve(abi.ExportACLRevoke, func(ctx context.Context, p *Provider, r abi.ACLRevokeRequest) (any, bool, error) {
		x, ok := p.ACL.(ACLManager)
		if !ok {
			return nil, false, nil
		}
		return abi.Empty{}, true, x.Revoke(ctx, r)
	}),

	// --- audit ---
	abi.ExportAuditLog: serve(abi.ExportAuditLog, func(ctx context.Context, p *Provider, r abi.AuditLogRequest) (any, bool, error) {
		if p.Audit == nil {
			return nil, false, nil
		}
		return abi.Empty{}, true, p.Audit.LogEvent(ctx, r.Event)
	}),
	abi.ExportAuditQuery: serve(abi.ExportAuditQuery, func(ctx context.Context, p *Provider, r abi.AuditQueryRequest) (any, bool, error) {
		x, ok := p.Audit.(AuditQuerier)
		if !ok {
			return nil, false, nil
		}
		res, err := x.QueryEvents(ctx, r)
		if err == nil && res == nil {
			res = &abi.AuditQueryResult{}
		}
		if res != nil {
			res.Events = nonNil(res.Events)
		}
		return res, true, err
	}),

	abi.ExportAuditExportCreate: serve(abi.ExportAuditExportCreate, func(ctx context.Context, p *Provider, r abi.AuditExportRequest) (any, bool, error) {
		x, ok := p.Audit.(AuditExporter)
		if !ok {
			return nil, false, nil
		}
		if r.RangeStart.IsZero() || r.RangeEnd.IsZero() {
			return nil, true, abi.Errorf(abi.CodeInvalidRequest, "%s: range_start and range_end are required", abi.ExportAuditExportCreate)
		}
		if r.RangeEnd.Before(r.RangeStart) {
			return nil, true, abi.Errorf(abi.CodeInvalidRequest, "%s: range_end is before range_start", abi.ExportAuditExportCreate)
		}
		ex, err := x.CreateAuditExport(ctx, r)
		if err == nil && ex == nil {
			err = missing(abi.ExportAuditExportCreate, "export")
		}
		return ex, true, err
	}),
	abi.ExportAuditExportGet: serve(abi.ExportAuditExportGet, func(ctx context.Context, p *Provider, r abi.AuditExportGetRequest) (any, bool, error) {
		x, ok := p.Audit.(AuditExporter)
		if !ok {
			return nil, false, nil
		}
		if r.ID == "" {
			return nil, true, abi.Errorf(abi.CodeInvalidRequest, "%s: id is required", abi.ExportAuditExportGet)
		}
		ex, err := x.GetAuditExport(ctx, r.ID)
		if err == nil && ex == nil {
			err = abi.Errorf(abi.CodeNotFound, "%s: export %q not found", abi.ExportAuditExportGet, r.ID)
		}
		return ex, true, err
	}),

	// --- webhook ---
	abi.ExportWebhookHandle: serve(abi.ExportWebhookHandle, func(ctx context.Context, p *Provider, r abi.WebhookRequest) (any, bool, error) {
		if p.Webhook == nil {
			return nil, false, nil
		}
		res, err := p.Webhook.HandleWebhook(ctx, r)
		if err == nil && res == nil {
			err = missing(abi.ExportWebhookHandle, "result")
		}
		return res, true, err
	}),
}
