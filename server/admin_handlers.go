package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/authhost/authhost/auth"
)

// PluginStatus is one loaded plugin as the admin API reports it.
type PluginStatus struct {
	Name         string   `json:"name"`
	Version      string   `json:"version"`
	ABI          string   `json:"abi"`
	File         string   `json:"file"`
	Capabilities []string `json:"capabilities"`
	Healthy      bool     `json:"healthy"`
	PoolSize     int      `json:"poolSize"`
	// Instances are alive now, InUse of them running a call, Idle
	// waiting in the pool.
	Instances int `json:"instances"`
	InUse     int `json:"inUse"`
	Idle      int `json:"idle"`
	// MemoryBytes is the linear memory of the plugin's instances (a busy
	// one's as its last call left it); CodeBytes the machine code of its
	// compiled module, 0 while it is not compiled (nothing selects it).
	MemoryBytes uint64 `json:"memoryBytes"`
	CodeBytes   uint64 `json:"codeBytes"`
	Calls       int64  `json:"calls"`
	Errors      int64  `json:"errors"`
	Discards    int64  `json:"discards"`
	P50Micros   int64  `json:"p50Micros"`
	P99Micros   int64  `json:"p99Micros"`
	// Generation is the reload that loaded this version (1 = start-up),
	// SHA256 the file's hash and LoadedAt when it was loaded.
	Generation uint64    `json:"generation"`
	SHA256     string    `json:"sha256"`
	LoadedAt   time.Time `json:"loadedAt"`
	// LoadError is why the file's latest version did not load, when the
	// version listed here kept serving instead.
	LoadError string `json:"loadError,omitempty"`
	// KV is the plugin's key-value usage against its quota; nil when it
	// could not be read.
	KV *KVUsage `json:"kv,omitempty"`
}

// KVUsage is a plugin's KV usage and quota. Keys past their TTL count
// until the host sweeps them.
type KVUsage struct {
	Bytes    int64 `json:"bytes"`
	Keys     int64 `json:"keys"`
	MaxBytes int64 `json:"maxBytes"`
	MaxKeys  int64 `json:"maxKeys"`
}

// DegradedPlugin is a plugin file that failed to load but that no
// capability selects and no config mentions: reported, never a reason to
// be unready.
type DegradedPlugin struct {
	File  string `json:"file"`
	Error string `json:"error"`
}

// handleAdminPlugins reports the loaded plugins and the degraded files.
func (s *Server) handleAdminPlugins(w http.ResponseWriter, r *http.Request) {
	ps := s.cfg.Plugins()
	if ps == nil {
		ps = []PluginStatus{}
	}
	dg := s.cfg.Degraded()
	if dg == nil {
		dg = []DegradedPlugin{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"plugins": ps, "degraded": dg})
}

func (s *Server) handleAdminPluginsReload(w http.ResponseWriter, r *http.Request) {
	if s.cfg.ReloadPlugins == nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "hot reload is not available")
		return
	}
	id := identityOf(r.Context())
	problems, err := s.cfg.ReloadPlugins(r.Context())
	if err != nil {
		s.log.Error("plugin reload failed", "error", err)
		writeError(w, http.StatusInternalServerError, "internal", "plugin reload failed")
		return
	}
	s.emit(r, auth.AuditEvent{Actor: actorOf(r, id.user), Action: "plugins.reload", Outcome: auth.OutcomeSuccess})
	if problems == nil {
		problems = []string{}
	}
	ps := s.cfg.Plugins()
	if ps == nil {
		ps = []PluginStatus{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"plugins": ps, "problems": problems})
}

// roleDefiner is an RBAC provider that can list its role definitions (the
// built-in manager and RBAC plugins exporting rbac_role_definitions).
type roleDefiner interface {
	RoleDefinitions(ctx context.Context) ([]auth.RoleDefinition, error)
}

func (s *Server) handleListRoles(w http.ResponseWriter, r *http.Request) {
	d, ok := s.composed(r.Context()).RBAC.(roleDefiner)
	if !ok {
		writeError(w, http.StatusNotImplemented, "not_supported", "The RBAC provider does not list role definitions")
		return
	}
	roles, err := d.RoleDefinitions(r.Context())
	if err != nil {
		writeAuthError(w, err, "could not list roles")
		return
	}
	if roles == nil {
		roles = []auth.RoleDefinition{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"roles": roles})
}

func (s *Server) rbacManager(w http.ResponseWriter, r *http.Request) auth.RBACManager {
	m, ok := s.composed(r.Context()).RBAC.(auth.RBACManager)
	if !ok {
		writeError(w, http.StatusNotImplemented, "not_supported", "The RBAC provider does not support role assignment")
		return nil
	}
	return m
}

// userRolesResponse is the body of the role assignment routes. Assigned
// tells an assignment (which decides the user's roles, an empty one
// included) from none (the user has the identity provider's or the
// default roles, as /auth/me shows).
type userRolesResponse struct {
	UserID   string   `json:"userId"`
	Roles    []string `json:"roles"`
	Assigned bool     `json:"assigned"`
}

func (s *Server) handleGetUserRoles(w http.ResponseWriter, r *http.Request) {
	m := s.rbacManager(w, r)
	if m == nil {
		return
	}
	userID := chi.URLParam(r, "id")
	roles, assigned, err := m.UserRoles(r.Context(), userID)
	if err != nil {
		writeAuthError(w, err, "could not read roles")
		return
	}
	writeJSON(w, http.StatusOK, userRolesResponse{UserID: userID, Roles: roles, Assigned: assigned})
}

type rolesBody struct {
	Roles []string `json:"roles"`
}

// handlePutUserRoles stores the user's role assignment as given: [] means
// no roles. The user must be known to the user provider (404 otherwise);
// when it cannot look users up, the assignment is stored unchecked and
// its audit event says so (userChecked: false).
func (s *Server) handlePutUserRoles(w http.ResponseWriter, r *http.Request) {
	m := s.rbacManager(w, r)
	if m == nil {
		return
	}
	var body rolesBody
	if err := decodeJSON(w, r, &body); err != nil {
		writeFieldError(w, err)
		return
	}
	if body.Roles == nil {
		writeFieldError(w, &fieldError{Field: "roles", Message: "is required (use [] for no roles, DELETE for the default roles)"})
		return
	}
	userID := chi.URLParam(r, "id")
	checked, ok := s.lookUpUser(w, r, userID)
	if !ok {
		return
	}
	if err := m.SetUserRoles(r.Context(), userID, body.Roles); err != nil {
		writeAuthError(w, err, "could not set roles")
		return
	}
	roles, _, err := m.UserRoles(r.Context(), userID)
	if err != nil {
		writeAuthError(w, err, "could not read roles")
		return
	}
	id := identityOf(r.Context())
	s.emit(r, auth.AuditEvent{Actor: actorOf(r, id.user), Action: "admin.roles.update", Outcome: auth.OutcomeSuccess,
		Resource: &auth.AuditResource{Type: "user", ID: userID}, Metadata: map[string]any{"roles": strings.Join(roles, ","), "userChecked": checked}})
	writeJSON(w, http.StatusOK, userRolesResponse{UserID: userID, Roles: roles, Assigned: true})
}

// handleDeleteUserRoles removes the user's role assignment, returning the
// user to the identity provider's or the default roles. It does not ask
// the user provider: the assignment of a user deleted there must remain
// removable.
func (s *Server) handleDeleteUserRoles(w http.ResponseWriter, r *http.Request) {
	m := s.rbacManager(w, r)
	if m == nil {
		return
	}
	userID := chi.URLParam(r, "id")
	if err := m.ClearUserRoles(r.Context(), userID); err != nil {
		writeAuthError(w, err, "could not clear roles")
		return
	}
	id := identityOf(r.Context())
	s.emit(r, auth.AuditEvent{Actor: actorOf(r, id.user), Action: "admin.roles.reset", Outcome: auth.OutcomeSuccess,
		Resource: &auth.AuditResource{Type: "user", ID: userID}})
	writeJSON(w, http.StatusOK, userRolesResponse{UserID: userID, Roles: []string{}, Assigned: false})
}

// lookUpUser asks the user provider whether userID exists. It answers 404
// for an unknown user and the provider's error status when the lookup
// fails (ok false: nothing may be written). Without a user provider, or
// when it answers not_supported, the id cannot be checked: ok is true and
// checked false.
func (s *Server) lookUpUser(w http.ResponseWriter, r *http.Request, userID string) (checked, ok bool) {
	if s.composed(r.Context()).User == nil {
		return false, true
	}
	u, err := s.composed(r.Context()).User.GetUser(r.Context(), userID)
	switch {
	case auth.CodeOf(err) == auth.CodeNotSupported:
		return false, true
	case err != nil:
		s.log.Warn("user lookup failed", "error", err)
		writeAuthError(w, err, "could not look the user up")
		return false, false
	case u == nil:
		writeError(w, http.StatusNotFound, string(auth.CodeNotFound), "No such user")
		return false, false
	}
	return true, true
}

func (s *Server) aclManager(w http.ResponseWriter, r *http.Request) auth.ACLManager {
	m, ok := s.composed(r.Context()).ACL.(auth.ACLManager)
	if !ok || !s.cfg.License.Enabled(auth.FeatureACL) {
		writeError(w, http.StatusNotImplemented, "not_supported", "No ACL manager is configured")
		return nil
	}
	return m
}

func (s *Server) handleACLList(w http.ResponseWriter, r *http.Request) {
	m := s.aclManager(w, r)
	if m == nil {
		return
	}
	q := r.URL.Query()
	var res *auth.Resource
	if q.Get("resourceType") != "" || q.Get("resourceId") != "" {
		if q.Get("resourceType") == "" || q.Get("resourceId") == "" {
			writeFieldError(w, &fieldError{Field: "resourceType", Message: "resourceType and resourceId go together"})
			return
		}
		res = &auth.Resource{Type: q.Get("resourceType"), ID: q.Get("resourceId")}
	}
	grants, err := m.Grants(r.Context(), q.Get("subject"), res)
	if err != nil {
		writeAuthError(w, err, "could not list grants")
		return
	}
	if grants == nil {
		grants = []auth.ACLGrant{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"grants": grants})
}

type grantBody struct {
	Subject  string        `json:"subject"`
	Resource auth.Resource `json:"resource"`
	Actions  []string      `json:"actions"`
}

func (b grantBody) validate(needActions bool) error {
	switch {
	case b.Subject == "":
		return &fieldError{Field: "subject", Message: "is required"}
	case b.Resource.Type == "" || b.Resource.ID == "":
		return &fieldError{Field: "resource", Message: "type and id are required"}
	case needActions && len(b.Actions) == 0:
		return &fieldError{Field: "actions", Message: "at least one action is required"}
	}
	return nil
}

func (s *Server) handleACLGrant(w http.ResponseWriter, r *http.Request) { s.changeACL(w, r, true) }

func (s *Server) handleACLRevoke(w http.ResponseWriter, r *http.Request) { s.changeACL(w, r, false) }

// changeACL grants (or revokes) the actions of the request body and audits
// the change. A revoke with no actions removes every action.
func (s *Server) changeACL(w http.ResponseWriter, r *http.Request, grant bool) {
	m := s.aclManager(w, r)
	if m == nil {
		return
	}
	var body grantBody
	if err := decodeJSON(w, r, &body); err != nil {
		writeFieldError(w, err)
		return
	}
	if err := body.validate(grant); err != nil {
		writeFieldError(w, err)
		return
	}
	id := identityOf(r.Context())
	var (
		result any = map[string]any{"success": true}
		status     = http.StatusOK
		action     = "admin.acl.revoke"
		err    error
	)
	if grant {
		status, action = http.StatusCreated, "admin.acl.grant"
		result, err = m.Grant(r.Context(), body.Subject, body.Resource, body.Actions, id.user.ID)
	} else {
		err = m.Revoke(r.Context(), body.Subject, body.Resource, body.Actions)
	}
	if err != nil {
		writeAuthError(w, err, "could not change the grant")
		return
	}
	s.emit(r, auth.AuditEvent{Actor: actorOf(r, id.user), Action: action, Outcome: auth.OutcomeSuccess,
		Resource: &auth.AuditResource{Type: body.Resource.Type, ID: body.Resource.ID},
		Metadata: map[string]any{"subject": body.Subject, "actions": strings.Join(body.Actions, ",")}})
	writeJSON(w, status, result)
}
