// Package auth is authhost's domain: users, sessions, the capability
// interfaces every provider (Wasm plugin or built-in) implements, permission
// matching, composition of providers and the capabilities response. It
// knows nothing of Wasm or HTTP routing.
package auth

import (
	"time"

	"github.com/authhost/authhost/abi"
)

// User is an authenticated principal.
type User struct {
	ID        string         `json:"id"`
	Email     string         `json:"email,omitempty"`
	Name      string         `json:"name,omitempty"`
	AvatarURL string         `json:"avatarUrl,omitempty"`
	Roles     []string       `json:"roles,omitempty"`
	Metadata  map[string]any `json:"metadata,omitempty"`
}

// Session is a server-side or stateless session.
type Session struct {
	ID        string         `json:"id"`
	UserID    string         `json:"userId"`
	ExpiresAt time.Time      `json:"expiresAt"`
	CreatedAt time.Time      `json:"createdAt"`
	Metadata  map[string]any `json:"metadata,omitempty"`
	// CacheSeconds is how long the session's provider vouches for it
	// (abi.Session.CacheSeconds); the host's session cache reads it.
	CacheSeconds int `json:"-"`
}

// Expired reports whether the session has expired at now.
func (s *Session) Expired(now time.Time) bool { return !now.Before(s.ExpiresAt) }

// Tokens are what an SSO callback obtained from the identity provider.
type Tokens struct {
	AccessToken  string    `json:"accessToken,omitempty"`
	RefreshToken string    `json:"refreshToken,omitempty"`
	IDToken      string    `json:"idToken,omitempty"`
	ExpiresAt    time.Time `json:"expiresAt,omitzero"`
}

// LoginButton is the SSO button shown on the login page (the ABI type).
type LoginButton = abi.LoginButton

// RoleDefinition describes one role and the permissions it grants (the
// ABI type).
type RoleDefinition = abi.RoleDefinition

// Resource identifies one resource for ACL checks (the ABI type).
type Resource = abi.Resource

// ACLGrant is one stored access grant.
type ACLGrant struct {
	Subject   string    `json:"subject"`
	Resource  Resource  `json:"resource"`
	Actions   []string  `json:"actions"`
	GrantedAt time.Time `json:"grantedAt"`
	GrantedBy string    `json:"grantedBy"`
}

// Audit actor types and outcomes.
const (
	ActorUser   = "user"
	ActorSystem = "system"
	ActorAPIKey = "apikey"

	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
	OutcomeDenied  = "denied"
)

// AuditActor is who did something.
type AuditActor struct {
	Type      string `json:"type"`
	ID        string `json:"id"`
	Email     string `json:"email,omitempty"`
	IP        string `json:"ip,omitempty"`
	UserAgent string `json:"userAgent,omitempty"`
}

// AuditResource is what something was done to (the ABI type).
type AuditResource = abi.AuditResource

// AuditEvent is one audit record.
type AuditEvent struct {
	ID         string         `json:"id"`
	Timestamp  time.Time      `json:"timestamp"`
	Actor      AuditActor     `json:"actor"`
	Action     string         `json:"action"`
	Resource   *AuditResource `json:"resource,omitempty"`
	Outcome    string         `json:"outcome"`
	Metadata   map[string]any `json:"metadata,omitempty"`
	DurationMS int64          `json:"durationMs,omitempty"`
}

// AuditExportRequest asks an AuditExporter for the events of
// [RangeStart, RangeEnd], optionally only some actions, actor ids and
// targets (the ABI type).
type AuditExportRequest = abi.AuditExportRequest

// The states of an AuditExport.
const (
	AuditExportPending = abi.AuditExportPending
	AuditExportReady   = abi.AuditExportReady
	AuditExportError   = abi.AuditExportError
)

// AuditExport is an export prepared by an AuditExporter; URL is set once
// State is AuditExportReady.
type AuditExport struct {
	ID        string    `json:"id"`
	State     string    `json:"state"`
	URL       string    `json:"url,omitempty"`
	CreatedAt time.Time `json:"createdAt,omitzero"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// AuditFilter selects audit events. Zero fields do not filter. Action may
// contain '*' wildcards; ActionPrefix matches the start of the action. Text
// matches a substring of the actor id/email or resource type/id/name.
type AuditFilter struct {
	ActorID      string
	ActorType    string
	Action       string
	ActionPrefix string
	ResourceType string
	ResourceID   string
	Outcome      string
	Text         string
	Start        time.Time // inclusive
	End          time.Time // inclusive
}

// AuditPage asks for one page of results: either Offset/Limit or an opaque
// Cursor returned by a previous page.
type AuditPage struct {
	Offset int
	Limit  int
	Cursor string
}

// AuditTotalCap is how far the built-in audit stores count the matches
// of a query: Total is exact up to it; beyond it Total is AuditTotalCap
// and TotalCapped is set (the UI shows "10,000+"), so that a page costs
// the same however many events match.
const AuditTotalCap = 10_000

// AuditResult is one page of audit events, newest first.
type AuditResult struct {
	Events []AuditEvent `json:"events"`
	// Total is the number of matches, exact unless TotalCapped: then
	// more than Total events match.
	Total       int    `json:"total"`
	TotalCapped bool   `json:"totalCapped,omitempty"`
	NextCursor  string `json:"nextCursor,omitempty"`
}

// ExportFormat is an audit export format.
type ExportFormat string

// Export formats.
const (
	ExportJSONL ExportFormat = "jsonl"
	ExportCSV   ExportFormat = "csv"
)
