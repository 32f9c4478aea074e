package auth

import (
	"context"
	"io"
	"net/http"

	"github.com/authhost/authhost/abi"
)

// UserProvider resolves users. CurrentUser returns (nil, nil) when the
// request carries no valid identity.
type UserProvider interface {
	CurrentUser(ctx context.Context, r *http.Request) (*User, error)
	// GetUser returns (nil, nil) when no such user exists.
	GetUser(ctx context.Context, id string) (*User, error)
	// ProfileURL returns the user's profile page, or "" when there is none.
	ProfileURL(ctx context.Context, u User) (string, error)
}

// SessionProvider creates and checks sessions and renders their cookies.
type SessionProvider interface {
	CreateSession(ctx context.Context, userID string, metadata map[string]any) (*Session, error)
	// ValidateSession returns (nil, nil) for an unknown or expired session.
	ValidateSession(ctx context.Context, id string) (*Session, error)
	DestroySession(ctx context.Context, id string) error
	// RefreshSession extends the session; (nil, nil) when it is invalid.
	// The returned session may carry a new ID (stateless sessions do), so
	// callers re-issue SessionCookies.
	RefreshSession(ctx context.Context, id string) (*Session, error)
	// SessionIDFromRequest returns "" when the request carries no session.
	SessionIDFromRequest(ctx context.Context, r *http.Request) (string, error)
	// SessionCookies returns Set-Cookie values that carry s.
	SessionCookies(ctx context.Context, s *Session) ([]string, error)
	// ClearCookies returns Set-Cookie values that remove the session.
	ClearCookies(ctx context.Context) ([]string, error)
}

// SessionLister is implemented by session providers that can list a user's
// active sessions (for "sign out everywhere").
type SessionLister interface {
	ListSessions(ctx context.Context, userID string) ([]Session, error)
}

// SSOLoginRequest carries what the host generated for one login attempt.
type SSOLoginRequest struct {
	RedirectURI         string // the host's callback URL
	State               string
	Nonce               string
	CodeChallenge       string
	CodeChallengeMethod string // always S256
}

// SSOCallbackRequest carries a callback after the host checked its state.
type SSOCallbackRequest struct {
	Code         string
	State        string
	Nonce        string
	CodeVerifier string
	RedirectURI  string
	Request      *http.Request
}

// SSOResult is a successful SSO callback. SetCookie is non-empty when the
// provider manages its own session cookies; otherwise the host creates a
// session with the session provider.
type SSOResult struct {
	User      User
	Tokens    Tokens
	SetCookie []string
}

// SSOProvider signs users in through an external identity provider.
type SSOProvider interface {
	LoginURL(ctx context.Context, req SSOLoginRequest) (string, error)
	Callback(ctx context.Context, req SSOCallbackRequest) (*SSOResult, error)
	// LogoutURL returns "" when the provider has no logout endpoint.
	LogoutURL(ctx context.Context, redirectURI string, r *http.Request) (string, error)
	LoginButton() LoginButton
}

// CredentialsResult is a successful sign-in or sign-up. Session, Token and
// SetCookie are set only by providers that manage their own sessions.
type CredentialsResult struct {
	User      User
	Session   *Session
	Token     string
	SetCookie []string
}

// CredentialsProvider signs users in with email and password.
type CredentialsProvider interface {
	SignIn(ctx context.Context, email, password string, r *http.Request) (*CredentialsResult, error)
	SignUp(ctx context.Context, email, password, name string, r *http.Request) (*CredentialsResult, error)
	SignUpEnabled(ctx context.Context) bool
	// RequestPasswordReset and ResetPassword return ErrNotSupported when
	// the provider does not offer password reset.
	RequestPasswordReset(ctx context.Context, email, redirectURI string) error
	ResetPassword(ctx context.Context, token, newPassword string) error
}

// passwordResetReporter is implemented by credentials providers that know
// up front whether they offer password reset (plugins say so in describe).
type passwordResetReporter interface {
	PasswordResetSupported() bool
}

// SupportsPasswordReset reports whether c offers password reset: what c
// reports when it knows, else true (the reset calls then answer
// ErrNotSupported if it does not).
func SupportsPasswordReset(c CredentialsProvider) bool {
	if r, ok := c.(passwordResetReporter); ok {
		return r.PasswordResetSupported()
	}
	return c != nil
}

// RBACProvider reports a user's roles and permissions. Has-permission,
// any and all are computed by the host with Matches, never by providers.
type RBACProvider interface {
	Roles(ctx context.Context, u User) ([]string, error)
	Permissions(ctx context.Context, u User) ([]string, error)
}

// RBACManager is an RBACProvider whose role assignments and definitions the
// host can read and change. A stored assignment is the truth: it decides a
// user's roles, an empty one included (no roles). Only a user without an
// assignment gets the provider's roles or the default ones.
type RBACManager interface {
	RBACProvider
	RoleDefinitions(ctx context.Context) ([]RoleDefinition, error)
	// UserRoles returns the roles assigned to userID and whether it has an
	// assignment at all; without one the roles are empty and assigned is
	// false.
	UserRoles(ctx context.Context, userID string) (roles []string, assigned bool, err error)
	// SetUserRoles replaces the user's assignment with roles, exactly: an
	// empty list assigns no roles.
	SetUserRoles(ctx context.Context, userID string, roles []string) error
	// ClearUserRoles removes the user's assignment, returning the user to
	// the provider's or the default roles.
	ClearUserRoles(ctx context.Context, userID string) error
}

// ACLProvider answers resource-scoped access questions.
type ACLProvider interface {
	CanAccess(ctx context.Context, u User, res Resource, action string) (bool, error)
	// ListAccessible returns the ids of resources of resourceType on which
	// u may perform action.
	ListAccessible(ctx context.Context, u User, resourceType, action string) ([]string, error)
}

// ACLManager is an ACLProvider whose grants the host can change.
type ACLManager interface {
	ACLProvider
	Grant(ctx context.Context, subject string, res Resource, actions []string, grantedBy string) (*ACLGrant, error)
	// Revoke removes the given actions, or every action when none is given.
	Revoke(ctx context.Context, subject string, res Resource, actions []string) error
	// Grants lists grants, optionally only those of one subject and/or resource.
	Grants(ctx context.Context, subject string, res *Resource) ([]ACLGrant, error)
}

// AuditLogger records audit events.
type AuditLogger interface {
	Log(ctx context.Context, e AuditEvent) error
}

// AuditExporter is an AuditLogger whose provider prepares exports of the
// events it holds (e.g. WorkOS Audit Logs exports), asynchronously: create
// one, then poll it until it is ready with a download URL.
type AuditExporter interface {
	CreateAuditExport(ctx context.Context, req AuditExportRequest) (*AuditExport, error)
	// GetAuditExport returns the export with the given id (ErrNotFound when
	// unknown).
	GetAuditExport(ctx context.Context, id string) (*AuditExport, error)
}

// AuditStore is an AuditLogger that can also be read back.
type AuditStore interface {
	AuditLogger
	Query(ctx context.Context, f AuditFilter, p AuditPage) (*AuditResult, error)
	Count(ctx context.Context, f AuditFilter) (int, error)
	Get(ctx context.Context, id string) (*AuditEvent, error)
	// Export streams every matching event, newest first, to w.
	Export(ctx context.Context, f AuditFilter, format ExportFormat, w io.Writer) error
	// DeleteOlderThan removes events older than the cutoff and returns how many.
	DeleteOlderThan(ctx context.Context, days int) (int, error)
}

// WebhookHandler receives a provider's pushes (e.g. WorkOS directory sync):
// it verifies the request itself (signature, replay window) and says what
// the host should apply.
type WebhookHandler interface {
	HandleWebhook(ctx context.Context, r *http.Request) (*WebhookResult, error)
}

// WebhookResult is what a provider asks the host to apply for one push
// (the ABI type): Status answers the sender (400 or more means the push was
// refused and nothing is applied); RoleChanges set users' roles in the
// host's role store (idempotent); UserDeletes are users deleted at the
// provider, whose sessions end and whose role assignments go.
type WebhookResult = abi.WebhookResult

// RoleAssignment sets the roles of one user (the ABI type).
type RoleAssignment = abi.RoleAssignment
