// Package workos is an in-process emulator of the WorkOS API endpoints that
// github.com/workos/workos-go/v4@v4.46.1 calls: AuthKit authorization with a
// hosted login page, code and refresh-token authentication with PKCE,
// RS256 access tokens and their JWKS, users, organization memberships and
// roles, SSO connections, Directory Sync users and groups, sessions (logout
// and revoke), audit-log events and exports, and signed webhooks. Request and response shapes follow the SDK's wire format
// so the unmodified SDK clients work against it. See README.md for what it
// does not model.
package workos

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Defaults used by Start.
const (
	DefaultAPIKey   = "sk_test_emulator"
	DefaultClientID = "client_emulator"
	// AccessTokenTTL is the lifetime of the access tokens the emulator mints.
	AccessTokenTTL = 5 * time.Minute
)

// User is a WorkOS user in the wire shape of the SDK's common.User.
type User struct {
	ID                string            `json:"id"`
	Object            string            `json:"object"`
	FirstName         string            `json:"first_name"`
	LastName          string            `json:"last_name"`
	Email             string            `json:"email"`
	CreatedAt         string            `json:"created_at"`
	UpdatedAt         string            `json:"updated_at"`
	EmailVerified     bool              `json:"email_verified"`
	ProfilePictureURL string            `json:"profile_picture_url"`
	LastSignInAt      string            `json:"last_sign_in_at"`
	ExternalID        string            `json:"external_id"`
	Metadata          map[string]string `json:"metadata"`
}

// RoleRef is the {"slug"} object of a membership.
type RoleRef struct {
	Slug string `json:"slug"`
}

// Membership is an organization membership in the SDK's wire shape.
type Membership struct {
	ID             string  `json:"id"`
	Object         string  `json:"object"`
	UserID         string  `json:"user_id"`
	OrganizationID string  `json:"organization_id"`
	Role           RoleRef `json:"role"`
	Status         string  `json:"status"`
	CreatedAt      string  `json:"created_at"`
	UpdatedAt      string  `json:"updated_at"`
}

// Role is an organization or environment role in the SDK's wire shape.
type Role struct {
	ID          string `json:"id"`
	Object      string `json:"object"`
	Name        string `json:"name"`
	Slug        string `json:"slug"`
	Description string `json:"description"`
	Type        string `json:"type"`
	CreatedAt   string `json:"created_at"`
	UpdatedAt   string `json:"updated_at"`
	// Permissions feed the permissions claim of access tokens; the SDK's
	// roles.Role has no such field and ignores it.
	Permissions []string `json:"permissions"`
}

// Connection is an SSO connection of an organization: an authorization
// request with its connection_id signs the user in to that organization.
type Connection struct {
	ID             string `json:"id"`
	OrganizationID string `json:"organization_id"`
	// Type is the connection type, e.g. OktaSAML or GoogleOAuth.
	Type string `json:"connection_type"`
}

// AuditEvent is one audit-log event the emulator accepted.
type AuditEvent struct {
	IdempotencyKey string
	OrganizationID string
	// Event is the decoded "event" object as sent.
	Event map[string]any
	// Raw is the request body.
	Raw json.RawMessage
}

// AuditExport is one audit-log export created through POST
// /audit_logs/exports, with the request as the SDK sent it.
type AuditExport struct {
	ID             string
	OrganizationID string
	RangeStart     string
	RangeEnd       string
	Actions        []string
	Actors         []string
	ActorNames     []string
	ActorIDs       []string
	Targets        []string
	// State is "Pending" until the first GET, then "Ready" (or what
	// SetExportState set).
	State string
	// Raw is the request body.
	Raw json.RawMessage
}

// Emulator is a running WorkOS emulator. Its exported methods are safe for
// concurrent use.
type Emulator struct {
	// URL is the base URL (the SDK's Endpoint).
	URL string
	// APIKey is the only API key accepted.
	APIKey string
	// ClientID is the only client id accepted.
	ClientID string

	srv *httptest.Server
	key *rsa.PrivateKey
	kid string

	mu            sync.Mutex
	issuer        string
	seq           int
	users         map[string]*User
	userOrder     []string
	memberships   []*Membership
	orgRoles      map[string][]Role
	connections   map[string]Connection
	dir           directory
	codes         map[string]*authCode
	refreshTokens map[string]*refreshEntry
	sessions      map[string]*session
	audit         []AuditEvent
	auditKeys     map[string]bool
	exports       map[string]*auditExport
	exportOrder   []string
	failures      []failure
	requests      []string
}

type authCode struct {
	userID, orgID         string
	clientID, redirectURI string
	challenge, method     string
	expires               time.Time
}

type refreshEntry struct {
	sid   string
	orgID string
	used  bool
}

type session struct {
	id, userID string
	ended      bool
}

type failure struct {
	prefix string
	status int
	count  int
}

// Start starts an emulator with a fresh RSA key and the default API key and
// client id; it stops when the test ends.
func Start(tb testing.TB) *Emulator {
	tb.Helper()
	e, err := New()
	if err != nil {
		tb.Fatalf("workos emulator: %v", err)
	}
	tb.Cleanup(e.Close)
	return e
}

// New starts an emulator outside a test on a free local port; call Close
// when done.
func New() (*Emulator, error) { return NewAt("127.0.0.1:0") }

// NewAt starts an emulator listening on addr (host:port), for a local run
// (cmd/workos-emulator); call Close when done.
func NewAt(addr string) (*Emulator, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	e := &Emulator{
		APIKey:        DefaultAPIKey,
		ClientID:      DefaultClientID,
		key:           key,
		kid:           "sso_oidc_key_pair_" + randomID(8),
		users:         map[string]*User{},
		orgRoles:      map[string][]Role{},
		connections:   map[string]Connection{},
		dir:           newDirectory(),
		codes:         map[string]*authCode{},
		refreshTokens: map[string]*refreshEntry{},
		sessions:      map[string]*session{},
		auditKeys:     map[string]bool{},
		exports:       map[string]*auditExport{},
	}
	e.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: e.routes(), ReadHeaderTimeout: 10 * time.Second}}
	e.srv.Start()
	e.URL = e.srv.URL
	e.issuer = e.srv.URL
	return e, nil
}

// Close stops the server.
func (e *Emulator) Close() { e.srv.Close() }

// Client returns an HTTP client that talks to the emulator and does not
// follow redirects (so tests can read the Location of login redirects).
func (e *Emulator) Client() *http.Client {
	c := *e.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// Issuer returns the iss claim of minted access tokens.
func (e *Emulator) Issuer() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.issuer
}

// SetIssuer changes the iss claim of access tokens minted from now on
// (WorkOS documents both https://api.workos.com and
// https://api.workos.com/user_management/<client_id>).
func (e *Emulator) SetIssuer(iss string) {
	e.mu.Lock()
	e.issuer = iss
	e.mu.Unlock()
}

// JWKSURL returns the JWKS address the SDK's GetJWKSURL builds.
func (e *Emulator) JWKSURL() string { return e.URL + "/sso/jwks/" + e.ClientID }

// AddUser seeds a user; an empty ID is generated. It returns the stored user.
func (e *Emulator) AddUser(u User) User {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.stamp()
	if u.ID == "" {
		u.ID = "user_" + randomID(13)
	}
	u.Object = "user"
	if u.CreatedAt == "" {
		u.CreatedAt = now
	}
	if u.UpdatedAt == "" {
		u.UpdatedAt = now
	}
	if u.Metadata == nil {
		u.Metadata = map[string]string{}
	}
	if _, ok := e.users[u.ID]; !ok {
		e.userOrder = append(e.userOrder, u.ID)
	}
	cp := u
	e.users[u.ID] = &cp
	return u
}

// AddMembership seeds an active membership of userID in orgID with role.
func (e *Emulator) AddMembership(userID, orgID, role string) Membership {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.stamp()
	m := &Membership{
		ID: "om_" + randomID(13), Object: "organization_membership", UserID: userID, OrganizationID: orgID,
		Role: RoleRef{Slug: role}, Status: "active", CreatedAt: now, UpdatedAt: now,
	}
	e.memberships = append(e.memberships, m)
	return *m
}

// AddRole seeds a role of organization orgID (served by
// GET /organizations/{id}/roles); its permissions feed the token claim.
func (e *Emulator) AddRole(orgID string, r Role) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.stamp()
	if r.ID == "" {
		r.ID = "role_" + randomID(13)
	}
	r.Object = "role"
	if r.Type == "" {
		r.Type = "OrganizationRole"
	}
	r.CreatedAt, r.UpdatedAt = now, now
	if r.Permissions == nil {
		r.Permissions = []string{}
	}
	e.orgRoles[orgID] = append(e.orgRoles[orgID], r)
}

// AddConnection seeds an SSO connection: authorization requests naming its
// id are accepted and sign users in to its organization.
func (e *Emulator) AddConnection(c Connection) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.connections[c.ID] = c
}

// SetMembershipRole changes the role of userID's membership in orgID (as
// the WorkOS dashboard or UpdateOrganizationMembership would); it reports
// whether such a membership exists.
func (e *Emulator) SetMembershipRole(userID, orgID, role string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, m := range e.memberships {
		if m.UserID == userID && m.OrganizationID == orgID {
			m.Role = RoleRef{Slug: role}
			m.UpdatedAt = e.stamp()
			return true
		}
	}
	return false
}

// DeactivateMembership sets userID's membership in orgID to inactive (as
// the dashboard or DeactivateOrganizationMembership would): it no longer
// gives the token a role or shows in active-membership lists. It reports
// whether such a membership exists.
func (e *Emulator) DeactivateMembership(userID, orgID string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, m := range e.memberships {
		if m.UserID == userID && m.OrganizationID == orgID {
			m.Status = "inactive"
			m.UpdatedAt = e.stamp()
			return true
		}
	}
	return false
}

// FailNext makes the next count requests whose path starts with prefix
// answer status with a WorkOS-shaped JSON error body (401, 404, 422, 429
// and 5xx have their specific messages).
func (e *Emulator) FailNext(prefix string, status, count int) {
	e.mu.Lock()
	e.failures = append(e.failures, failure{prefix: prefix, status: status, count: count})
	e.mu.Unlock()
}

// AuditEvents returns the audit-log events accepted so far (deduplicated
// by Idempotency-Key).
func (e *Emulator) AuditEvents() []AuditEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]AuditEvent(nil), e.audit...)
}

// AuditExports returns the audit-log exports created so far, oldest first.
func (e *Emulator) AuditExports() []AuditExport {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]AuditExport, 0, len(e.exportOrder))
	for _, id := range e.exportOrder {
		out = append(out, e.exports[id].AuditExport)
	}
	return out
}

// SetExportState sets the state ("Pending", "Ready" or "Error") of export
// id, as WorkOS would when it finishes or fails; false for an unknown id.
// A state set here is kept by later GETs.
func (e *Emulator) SetExportState(id, state string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	ex, ok := e.exports[id]
	if ok {
		ex.State, ex.pinned = state, true
		ex.updatedAt = e.stamp()
	}
	return ok
}

// Requests returns "METHOD /path" of every request served so far.
func (e *Emulator) Requests() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.requests...)
}

// SessionEnded reports whether session sid was logged out or revoked.
func (e *Emulator) SessionEnded(sid string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.sessions[sid]
	return ok && s.ended
}

// stamp returns an RFC 3339 timestamp; e.mu must be held.
func (e *Emulator) stamp() string {
	e.seq++
	return time.Now().UTC().Add(time.Duration(e.seq) * time.Millisecond).Format("2006-01-02T15:04:05.000Z")
}

// routes builds the HTTP handler.
func (e *Emulator) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /user_management/authorize", e.handleAuthorize)
	mux.HandleFunc("POST /user_management/authorize/login", e.handleLogin)
	mux.HandleFunc("POST /user_management/authenticate", e.handleAuthenticate)
	mux.HandleFunc("GET /sso/jwks/{client_id}", e.handleJWKS)
	mux.HandleFunc("GET /user_management/users/{id}", e.bearer(e.handleGetUser))
	mux.HandleFunc("GET /user_management/users", e.bearer(e.handleListUsers))
	mux.HandleFunc("GET /user_management/organization_memberships", e.bearer(e.handleListMemberships))
	mux.HandleFunc("GET /user_management/sessions/logout", e.handleLogout)
	mux.HandleFunc("POST /user_management/sessions/revoke", e.bearer(e.handleRevoke))
	mux.HandleFunc("GET /organizations/{id}/roles", e.bearer(e.handleListRoles))
	mux.HandleFunc("GET /directory_users/{id}", e.bearer(e.handleGetDirectoryUser))
	mux.HandleFunc("GET /directory_users", e.bearer(e.handleListDirectoryUsers))
	mux.HandleFunc("GET /directory_groups/{id}", e.bearer(e.handleGetDirectoryGroup))
	mux.HandleFunc("GET /directory_groups", e.bearer(e.handleListDirectoryGroups))
	mux.HandleFunc("POST /audit_logs/events", e.bearer(e.handleAuditEvent))
	mux.HandleFunc("POST /audit_logs/exports", e.bearer(e.handleCreateExport))
	mux.HandleFunc("GET /audit_logs/exports/{id}", e.bearer(e.handleGetExport))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-ID", randomID(16))
		e.mu.Lock()
		e.requests = append(e.requests, r.Method+" "+r.URL.Path)
		status := 0
		for i := range e.failures {
			f := &e.failures[i]
			if f.count > 0 && strings.HasPrefix(r.URL.Path, f.prefix) {
				f.count--
				status = f.status
				break
			}
		}
		e.mu.Unlock()
		if status != 0 {
			writeStatusError(w, status, "")
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// bearer enforces Authorization: Bearer <api key>.
func (e *Emulator) bearer(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+e.APIKey {
			writeStatusError(w, http.StatusUnauthorized, "")
			return
		}
		h(w, r)
	}
}

// writeJSON writes v with status and an application/json content type.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeStatusError writes WorkOS's error body for status; msg overrides
// the default message.
func writeStatusError(w http.ResponseWriter, status int, msg string) {
	body := map[string]any{}
	switch status {
	case http.StatusUnauthorized:
		body["message"] = "Could not authorize the request. Maybe your API key is invalid?"
	case http.StatusNotFound:
		body["message"] = "Not Found"
		body["code"] = "entity_not_found"
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "1")
		body["message"] = "Too many requests"
	case http.StatusUnprocessableEntity:
		body["message"] = "Validation failed."
		body["code"] = "invalid_request_parameters"
		body["errors"] = []any{}
	default:
		if status >= 500 {
			body["message"] = "Internal Server Error"
		} else {
			body["message"] = http.StatusText(status)
		}
	}
	if msg != "" {
		body["message"] = msg
	}
	writeJSON(w, status, body)
}

// writeOAuthError writes the {"error","error_description"} body of the
// authenticate endpoint.
func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))[:n*2]
}

func (e *Emulator) handleGetUser(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	u, ok := e.users[r.PathValue("id")]
	var cp User
	if ok {
		cp = *u
	}
	e.mu.Unlock()
	if !ok {
		writeStatusError(w, http.StatusNotFound, fmt.Sprintf("User not found: '%s'.", r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, cp)
}

func (e *Emulator) handleListUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	e.mu.Lock()
	var items []listItem
	for _, id := range e.userOrder {
		u := e.users[id]
		if email := q.Get("email"); email != "" && !strings.EqualFold(email, u.Email) {
			continue
		}
		if org := q.Get("organization_id"); org != "" && !e.isMember(id, org) {
			continue
		}
		items = append(items, listItem{id: id, v: *u})
	}
	e.mu.Unlock()
	page, meta, err := paginate(items, q)
	if err != nil {
		writeStatusError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": page, "list_metadata": meta})
}

// isMember reports an active membership; e.mu must be held.
func (e *Emulator) isMember(userID, orgID string) bool {
	for _, m := range e.memberships {
		if m.UserID == userID && m.OrganizationID == orgID && m.Status == "active" {
			return true
		}
	}
	return false
}

func (e *Emulator) handleListMemberships(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("user_id") == "" && q.Get("organization_id") == "" {
		writeStatusError(w, http.StatusUnprocessableEntity, "Either user_id or organization_id must be provided.")
		return
	}
	statuses := q["statuses"]
	e.mu.Lock()
	var items []listItem
	for _, m := range e.memberships {
		if v := q.Get("user_id"); v != "" && v != m.UserID {
			continue
		}
		if v := q.Get("organization_id"); v != "" && v != m.OrganizationID {
			continue
		}
		if len(statuses) > 0 && !contains(statuses, m.Status) {
			continue
		}
		items = append(items, listItem{id: m.ID, v: *m})
	}
	e.mu.Unlock()
	page, meta, err := paginate(items, q)
	if err != nil {
		writeStatusError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": page, "list_metadata": meta})
}

func (e *Emulator) handleListRoles(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	roles := append([]Role{}, e.orgRoles[r.PathValue("id")]...)
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": roles})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// listItem is one element of a paginated list, in creation order.
type listItem struct {
	id string
	v  any
}

// listMetadata is the SDK's common.ListMetadata; null cursors mean no more
// pages in that direction.
type listMetadata struct {
	Before *string `json:"before"`
	After  *string `json:"after"`
}

// paginate applies order, limit, before and after to items (creation
// order) as WorkOS does: cursors are object ids, "after" pages forward in
// the requested order.
func paginate(items []listItem, q map[string][]string) ([]any, listMetadata, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	limit := 10
	if s := get("limit"); s != "" {
		if _, err := fmt.Sscanf(s, "%d", &limit); err != nil || limit < 1 || limit > 100 {
			return nil, listMetadata{}, fmt.Errorf("limit must be between 1 and 100")
		}
	}
	order := get("order")
	if order == "" {
		order = "desc"
	}
	if order != "asc" && order != "desc" && order != "normal" {
		return nil, listMetadata{}, fmt.Errorf("order must be asc or desc")
	}
	sorted := append([]listItem(nil), items...)
	if order == "desc" {
		for i, j := 0, len(sorted)-1; i < j; i, j = i+1, j-1 {
			sorted[i], sorted[j] = sorted[j], sorted[i]
		}
	}
	index := func(id string) int {
		for i, it := range sorted {
			if it.id == id {
				return i
			}
		}
		return -1
	}
	start, end := 0, len(sorted)
	if a := get("after"); a != "" {
		i := index(a)
		if i < 0 {
			return nil, listMetadata{}, fmt.Errorf("invalid cursor %q", a)
		}
		start = i + 1
		end = min(start+limit, len(sorted))
	} else if b := get("before"); b != "" {
		i := index(b)
		if i < 0 {
			return nil, listMetadata{}, fmt.Errorf("invalid cursor %q", b)
		}
		end = i
		start = max(0, end-limit)
	} else {
		end = min(limit, len(sorted))
	}
	page := make([]any, 0, end-start)
	for _, it := range sorted[start:end] {
		page = append(page, it.v)
	}
	var meta listMetadata
	if start > 0 && end > start {
		id := sorted[start].id
		meta.Before = &id
	}
	if end < len(sorted) && end > start {
		id := sorted[end-1].id
		meta.After = &id
	}
	return page, meta, nil
}

// Demo identities seeded by SeedDemo.
const (
	DemoOrganizationID = "org_demo"
	DemoAdminEmail     = "admin@example.com"
	DemoMemberEmail    = "member@example.com"
)

// SeedDemo adds an organization with admin and member roles and one user
// of each, for trying the WorkOS provider locally (cmd/workos-emulator and
// examples/authhost-workos.yaml). It returns the users.
func (e *Emulator) SeedDemo() []User {
	e.AddRole(DemoOrganizationID, Role{Slug: "admin", Name: "Admin", Permissions: []string{"*"}})
	e.AddRole(DemoOrganizationID, Role{Slug: "member", Name: "Member"})
	var out []User
	for _, d := range []struct{ email, first, role string }{
		{DemoAdminEmail, "Ada", "admin"},
		{DemoMemberEmail, "Grace", "member"},
	} {
		u := e.AddUser(User{Email: d.email, FirstName: d.first, LastName: "Demo", EmailVerified: true})
		e.AddMembership(u.ID, DemoOrganizationID, d.role)
		out = append(out, u)
	}
	return out
}
