package abi

import (
	"encoding/json"
	"time"
)

// Describe is the output of authhost_describe (returned bare, not in an
// envelope, so a host can read it before anything else works).
type Describe struct {
	ABI          string          `json:"abi"`
	Name         string          `json:"name"`
	Version      string          `json:"version"`
	Capabilities []Capability    `json:"capabilities"`
	Login        *LoginButton    `json:"login,omitempty"`
	ConfigSchema json.RawMessage `json:"config_schema,omitempty"`
	// ManagesSessions is true when the provider's own cookies carry the
	// session (SSO or credentials results include Set-Cookie values), so the
	// host must not create a session of its own.
	ManagesSessions bool `json:"manages_sessions,omitempty"`
	// Implements (abi 1.2) lists the optional exports the provider really
	// offers; see Describe.Offers.
	Implements []string `json:"implements,omitempty"`
	// SessionTransport (abi 1.2) says where the provider's session id
	// travels, so the host reads it without calling session_id_from_request.
	SessionTransport *SessionTransport `json:"session_transport,omitempty"`
	// Demo (abi 1.2) lists the demo credentials the provider's configuration
	// enables; the host warns about them at start-up.
	Demo []DemoCredential `json:"demo,omitempty"`
}

// SessionTransport says where a session id travels in a request. The host
// tries, in order, each cookie of Cookies, then the bearer token of the
// Authorization header when Bearer is set, then the Header; the first
// non-empty value is the session id ("" when none is present).
type SessionTransport struct {
	// Cookies are cookie names, tried in order.
	Cookies []string `json:"cookies,omitempty"`
	// CookieURLDecode unescapes a cookie value as a URL query component
	// (a value that does not unescape is used as is).
	CookieURLDecode bool `json:"cookie_url_decode,omitempty"`
	// Bearer takes the token of "Authorization: Bearer <token>".
	Bearer bool `json:"bearer,omitempty"`
	// Header is a request header carrying the id as its whole value.
	Header string `json:"header,omitempty"`
	// Exclusive says the provider recognises a signed-in request only by
	// the session id found in these places: a request carrying none is
	// anonymous, so the host does not ask the provider's user_current
	// about it.
	Exclusive bool `json:"exclusive,omitempty"`
}

// DemoCredential is a demo account a provider's configuration enables.
// Password is set only when the configuration holds it in clear text.
type DemoCredential struct {
	Email    string `json:"email"`
	Password string `json:"password,omitempty"`
}

// ConfigureRequest is the input of authhost_configure (abi 1.2): the
// plugin's configuration, as in the Extism config key "config".
type ConfigureRequest struct {
	Config json.RawMessage `json:"config"`
}

// LoginButton is the SSO button a provider offers on the login page.
type LoginButton struct {
	Provider    string `json:"provider"`
	Text        string `json:"text"`
	Icon        string `json:"icon,omitempty"`
	Description string `json:"description,omitempty"`
}

// Request is the part of an incoming HTTP request a provider may read: the
// method, the URL, the headers (including Cookie and Authorization) and the
// client address. Header names are canonical (http.CanonicalHeaderKey).
type Request struct {
	Method     string              `json:"method,omitempty"`
	URL        string              `json:"url,omitempty"`
	Headers    map[string][]string `json:"headers,omitempty"`
	RemoteAddr string              `json:"remote_addr,omitempty"`
}

// User is a user as providers report it.
type User struct {
	ID        string         `json:"id"`
	Email     string         `json:"email,omitempty"`
	Name      string         `json:"name,omitempty"`
	AvatarURL string         `json:"avatar_url,omitempty"`
	Roles     []string       `json:"roles,omitempty"`
	Metadata  map[string]any `json:"metadata,omitempty"`
}

// Session is a session as providers report it.
type Session struct {
	ID        string         `json:"id"`
	UserID    string         `json:"user_id"`
	ExpiresAt time.Time      `json:"expires_at"`
	CreatedAt time.Time      `json:"created_at"`
	Metadata  map[string]any `json:"metadata,omitempty"`
	// CacheSeconds (abi 1.2) is how long the provider vouches for this
	// session: the host may answer session_validate from its cache for
	// that long (capped by the operator's session_cache_seconds). 0 means
	// no caching.
	CacheSeconds int `json:"cache_seconds,omitempty"`
}

// Tokens are the tokens an SSO callback obtained.
type Tokens struct {
	AccessToken  string    `json:"access_token,omitempty"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	IDToken      string    `json:"id_token,omitempty"`
	ExpiresAt    time.Time `json:"expires_at,omitzero"`
}

// --- user ---

// UserCurrentRequest is the input of user_current.
type UserCurrentRequest struct {
	Request Request `json:"request"`
}

// UserResult is the output of user_current and user_get; User is null when
// nobody is signed in or no such user exists.
type UserResult struct {
	User *User `json:"user"`
}

// UserGetRequest is the input of user_get.
type UserGetRequest struct {
	ID string `json:"id"`
}

// UserProfileURLRequest is the input of user_profile_url.
type UserProfileURLRequest struct {
	User User `json:"user"`
}

// URLResult carries one URL (empty when there is none).
type URLResult struct {
	URL string `json:"url"`
}

// --- session ---

// SessionCreateRequest is the input of session_create.
type SessionCreateRequest struct {
	UserID   string         `json:"user_id"`
	Metadata map[string]any `json:"metadata,omitempty"`
}

// SessionIDRequest is the input of session_validate, session_destroy and
// session_refresh.
type SessionIDRequest struct {
	SessionID string `json:"session_id"`
}

// SessionResult is the output of session_create, session_validate and
// session_refresh; Session is null when the session is invalid or expired.
type SessionResult struct {
	Session *Session `json:"session"`
}

// SessionIDFromRequestRequest is the input of session_id_from_request.
type SessionIDFromRequestRequest struct {
	Request Request `json:"request"`
}

// SessionIDResult is the output of session_id_from_request; empty when the
// request carries no session.
type SessionIDResult struct {
	SessionID string `json:"session_id"`
}

// SessionHeadersRequest is the input of session_headers.
type SessionHeadersRequest struct {
	Session Session `json:"session"`
}

// HeadersResult carries the Set-Cookie values (one cookie each) to send.
type HeadersResult struct {
	SetCookie []string `json:"set_cookie"`
}

// SessionListRequest is the input of session_list.
type SessionListRequest struct {
	UserID string `json:"user_id"`
}

// SessionListResult is the output of session_list.
type SessionListResult struct {
	Sessions []Session `json:"sessions"`
}

// Empty is the input of exports that take nothing, and the output of
// exports that return nothing.
type Empty struct{}

// --- sso ---

// SSOLoginURLRequest is the input of sso_login_url. The host generates state,
// nonce and the PKCE pair and keeps them bound to the browser; the provider
// only places them in the authorization URL.
type SSOLoginURLRequest struct {
	RedirectURI         string `json:"redirect_uri"`
	State               string `json:"state"`
	Nonce               string `json:"nonce,omitempty"`
	CodeChallenge       string `json:"code_challenge"`
	CodeChallengeMethod string `json:"code_challenge_method"`
}

// SSOCallbackRequest is the input of sso_callback, after the host checked
// the state against the browser-bound cookie.
type SSOCallbackRequest struct {
	Code         string  `json:"code"`
	State        string  `json:"state"`
	Nonce        string  `json:"nonce,omitempty"`
	CodeVerifier string  `json:"code_verifier"`
	RedirectURI  string  `json:"redirect_uri"`
	Request      Request `json:"request"`
}

// SSOCallbackResult is the output of sso_callback.
type SSOCallbackResult struct {
	User      User     `json:"user"`
	Tokens    Tokens   `json:"tokens"`
	SetCookie []string `json:"set_cookie,omitempty"`
	// Session (abi 1.2, optional) is the session the callback started,
	// as session_validate would answer it now: from a provider with
	// manages_sessions that also serves the session capability, its
	// cache_seconds lets the host answer the session's first validations
	// from its session cache.
	Session *Session `json:"session,omitempty"`
	// Access (abi 1.2, optional, only with Session) is what the
	// provider's rbac_roles and rbac_permissions answer now for the user
	// as Session describes it: the host's role cache keeps it as if it
	// had asked.
	Access *Access `json:"access,omitempty"`
}

// Access is a user's roles and effective permissions as a provider's
// rbac capability answers them.
type Access struct {
	Roles       []string `json:"roles"`
	Permissions []string `json:"permissions"`
}

// SSOLogoutURLRequest is the input of sso_logout_url.
type SSOLogoutURLRequest struct {
	RedirectURI string  `json:"redirect_uri"`
	Request     Request `json:"request"`
}

// --- credentials ---

// SignInRequest is the input of credentials_sign_in.
type SignInRequest struct {
	Email    string  `json:"email"`
	Password string  `json:"password"`
	Request  Request `json:"request"`
}

// SignUpRequest is the input of credentials_sign_up.
type SignUpRequest struct {
	Email    string  `json:"email"`
	Password string  `json:"password"`
	Name     string  `json:"name,omitempty"`
	Request  Request `json:"request"`
}

// CredentialsResult is the output of credentials_sign_in and
// credentials_sign_up. Session, Token and SetCookie are set only by
// providers that manage their own sessions.
type CredentialsResult struct {
	User      User     `json:"user"`
	Session   *Session `json:"session,omitempty"`
	Token     string   `json:"token,omitempty"`
	SetCookie []string `json:"set_cookie,omitempty"`
}

// EnabledResult is the output of credentials_sign_up_enabled.
type EnabledResult struct {
	Enabled bool `json:"enabled"`
}

// PasswordResetRequest is the input of credentials_password_reset_request.
type PasswordResetRequest struct {
	Email       string `json:"email"`
	RedirectURI string `json:"redirect_uri,omitempty"`
}

// PasswordResetApply is the input of credentials_password_reset.
type PasswordResetApply struct {
	Token       string `json:"token"`
	NewPassword string `json:"new_password"`
}

// --- rbac ---

// UserRequest is the input of rbac_roles and rbac_permissions.
type UserRequest struct {
	User User `json:"user"`
}

// RolesResult is the output of rbac_roles.
type RolesResult struct {
	Roles []string `json:"roles"`
}

// PermissionsResult is the output of rbac_permissions.
type PermissionsResult struct {
	Permissions []string `json:"permissions"`
}

// RoleDefinition describes one role.
type RoleDefinition struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Permissions []string `json:"permissions"`
	Inherits    []string `json:"inherits,omitempty"`
}

// RoleDefinitionsResult is the output of rbac_role_definitions.
type RoleDefinitionsResult struct {
	Roles []RoleDefinition `json:"roles"`
}

// --- acl ---

// Resource identifies one resource.
type Resource struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// ACLCheckRequest is the input of acl_check.
type ACLCheckRequest struct {
	User     User     `json:"user"`
	Resource Resource `json:"resource"`
	Action   string   `json:"action"`
}

// AllowedResult is the output of acl_check.
type AllowedResult struct {
	Allowed bool `json:"allowed"`
}

// ACLListRequest is the input of acl_list.
type ACLListRequest struct {
	User         User   `json:"user"`
	ResourceType string `json:"resource_type"`
	Action       string `json:"action"`
}

// IDsResult is the output of acl_list.
type IDsResult struct {
	IDs []string `json:"ids"`
}

// ACLGrantRequest is the input of acl_grant.
type ACLGrantRequest struct {
	Subject   string   `json:"subject"`
	Resource  Resource `json:"resource"`
	Actions   []string `json:"actions"`
	GrantedBy string   `json:"granted_by"`
}

// ACLGrant is one stored grant, the output of acl_grant.
type ACLGrant struct {
	Subject   string    `json:"subject"`
	Resource  Resource  `json:"resource"`
	Actions   []string  `json:"actions"`
	GrantedAt time.Time `json:"granted_at"`
	GrantedBy string    `json:"granted_by"`
}

// ACLRevokeRequest is the input of acl_revoke; no actions revokes all.
type ACLRevokeRequest struct {
	Subject  string   `json:"subject"`
	Resource Resource `json:"resource"`
	Actions  []string `json:"actions,omitempty"`
}

// --- audit ---

// AuditActor is who did something.
type AuditActor struct {
	Type      string `json:"type"` // user, system, apikey
	ID        string `json:"id"`
	Email     string `json:"email,omitempty"`
	IP        string `json:"ip,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
}

// AuditResource is what something was done to.
type AuditResource struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// AuditEvent is one audit event.
type AuditEvent struct {
	ID         string         `json:"id"`
	Timestamp  time.Time      `json:"timestamp"`
	Actor      AuditActor     `json:"actor"`
	Action     string         `json:"action"`
	Resource   *AuditResource `json:"resource,omitempty"`
	Outcome    string         `json:"outcome"` // success, failure, denied
	Metadata   map[string]any `json:"metadata,omitempty"`
	DurationMS int64          `json:"duration_ms,omitempty"`
}

// AuditLogRequest is the input of audit_log.
type AuditLogRequest struct {
	Event AuditEvent `json:"event"`
}

// AuditQueryRequest is the input of audit_query.
type AuditQueryRequest struct {
	ActorID      string    `json:"actor_id,omitempty"`
	ActorType    string    `json:"actor_type,omitempty"`
	Action       string    `json:"action,omitempty"`
	ActionPrefix string    `json:"action_prefix,omitempty"`
	ResourceType string    `json:"resource_type,omitempty"`
	ResourceID   string    `json:"resource_id,omitempty"`
	Outcome      string    `json:"outcome,omitempty"`
	Start        time.Time `json:"start,omitzero"`
	End          time.Time `json:"end,omitzero"`
	Offset       int       `json:"offset,omitempty"`
	Limit        int       `json:"limit,omitempty"`
}

// AuditQueryResult is the output of audit_query.
type AuditQueryResult struct {
	Events []AuditEvent `json:"events"`
	Total  int          `json:"total"`
}

// AuditExportRequest is the input of audit_export_create (abi 1.1): the
// events of [RangeStart, RangeEnd] to export, optionally narrowed to some
// actions, actor ids and target ids.
type AuditExportRequest struct {
	RangeStart time.Time `json:"range_start"`
	RangeEnd   time.Time `json:"range_end"`
	Actions    []string  `json:"actions,omitempty"`
	ActorIDs   []string  `json:"actor_ids,omitempty"`
	Targets    []string  `json:"targets,omitempty"`
}

// AuditExportGetRequest is the input of audit_export_get (abi 1.1).
type AuditExportGetRequest struct {
	ID string `json:"id"`
}

// The states of an AuditExport.
const (
	AuditExportPending = "pending"
	AuditExportReady   = "ready"
	AuditExportError   = "error"
)

// AuditExport is the output of audit_export_create and audit_export_get: an
// export the provider prepares asynchronously. URL is set once State is
// "ready".
type AuditExport struct {
	ID        string    `json:"id"`
	State     string    `json:"state"`
	URL       string    `json:"url,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// --- webhook ---

// WebhookRequest is the input of webhook_handle: the raw request as received.
type WebhookRequest struct {
	Headers map[string][]string `json:"headers"`
	Body    []byte              `json:"body"` // base64 in JSON
}

// WebhookResult is the output of webhook_handle: what the host should apply.
type WebhookResult struct {
	Status      int              `json:"status"`
	RoleChanges []RoleAssignment `json:"role_changes,omitempty"`
	UserDeletes []string         `json:"user_deletes,omitempty"`
}

// RoleAssignment sets the roles of one user in the host's RBAC store.
type RoleAssignment struct {
	UserID string   `json:"user_id"`
	Roles  []string `json:"roles"`
}
