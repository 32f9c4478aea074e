package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk"
	"github.com/workos/workos-go/v4/pkg/auditlogs"
	"github.com/workos/workos-go/v4/pkg/directorysync"
	"github.com/workos/workos-go/v4/pkg/usermanagement"
	"github.com/workos/workos-go/v4/pkg/webhooks"
)

// LogEvent implements pdk.AuditLogger: the event is exported to WorkOS
// Audit Logs with auditlogs.CreateEvent. The idempotency key is derived
// from the event id, so a retried export is recorded once.
func (provider) LogEvent(ctx context.Context, e abi.AuditEvent) error {
	c, err := getClients()
	if err != nil {
		return err
	}
	org := c.cfg.AuditOrganizationID
	if org == "" {
		pdk.Log.Warn("workos: audit event not exported: no audit_organization_id or organization_id configured", "action", e.Action)
		return nil
	}
	occurred := e.Timestamp
	if occurred.IsZero() {
		occurred = time.Now().UTC()
	}
	actorType := e.Actor.Type
	if actorType == "" {
		actorType = "system"
	}
	actorID := e.Actor.ID
	if actorID == "" {
		actorID = actorType
	}
	actorMeta := map[string]any{"actor_type": actorType}
	if e.Actor.Email != "" {
		actorMeta["email"] = e.Actor.Email
	}
	if e.Actor.IP != "" {
		actorMeta["ip"] = e.Actor.IP
	}
	target := auditlogs.Target{ID: "system", Type: "system", Name: "System"}
	if e.Resource != nil {
		target = auditlogs.Target{ID: e.Resource.ID, Type: e.Resource.Type, Name: e.Resource.Name}
	}
	location := e.Actor.IP
	if location == "" {
		location = "unknown"
	}
	md := map[string]any{"outcome": e.Outcome}
	if e.DurationMS > 0 {
		md["duration_ms"] = e.DurationMS
	}
	for k, v := range e.Metadata {
		switch x := v.(type) {
		case string, bool, float64, int, int64:
			md[k] = x
		default:
			b, err := json.Marshal(x)
			if err != nil {
				md[k] = "<unserializable>"
			} else {
				md[k] = string(b)
			}
		}
	}
	key := e.ID
	if key == "" {
		b, _ := json.Marshal(e)
		sum := sha256.Sum256(b)
		key = hex.EncodeToString(sum[:16])
	}
	err = c.audit.CreateEvent(ctx, auditlogs.CreateEventOpts{
		OrganizationID: org,
		Event: auditlogs.Event{
			Action:     c.cfg.AuditEventPrefix + "." + e.Action,
			OccurredAt: occurred,
			Actor:      auditlogs.Actor{ID: actorID, Name: e.Actor.Email, Type: actorType, Metadata: actorMeta},
			Targets:    []auditlogs.Target{target},
			Context:    auditlogs.Context{Location: location, UserAgent: e.Actor.UserAgent},
			Metadata:   md,
		},
		IdempotencyKey: "authhost-" + key,
	})
	if err != nil {
		return classify("create audit event", err)
	}
	return nil
}

// workosTime is the ISO-8601 form WorkOS uses for export ranges.
const workosTime = "2006-01-02T15:04:05.000Z"

// auditOrg is the organization audit exports read from, or not_supported
// when none is configured.
func auditOrg(c *clients, op string) (string, error) {
	if c.cfg.AuditOrganizationID == "" {
		return "", pdk.Errorf(abi.CodeNotSupported, "workos: %s: configure audit_organization_id or organization_id", op)
	}
	return c.cfg.AuditOrganizationID, nil
}

// CreateAuditExport implements pdk.AuditExporter with auditlogs.CreateExport
// in the audit organization. Actions are the host's, so they get the
// audit_event_prefix LogEvent adds (unless they already carry it); actor
// ids and targets (target types) pass through.
func (provider) CreateAuditExport(ctx context.Context, req abi.AuditExportRequest) (*abi.AuditExport, error) {
	c, err := getClients()
	if err != nil {
		return nil, err
	}
	org, err := auditOrg(c, "create audit export")
	if err != nil {
		return nil, err
	}
	opts := auditlogs.CreateExportOpts{
		OrganizationID: org,
		RangeStart:     req.RangeStart.UTC().Format(workosTime),
		RangeEnd:       req.RangeEnd.UTC().Format(workosTime),
		ActorIds:       req.ActorIDs,
		Targets:        req.Targets,
	}
	for _, a := range req.Actions {
		if !strings.HasPrefix(a, c.cfg.AuditEventPrefix+".") {
			a = c.cfg.AuditEventPrefix + "." + a
		}
		opts.Actions = append(opts.Actions, a)
	}
	ex, err := c.audit.CreateExport(ctx, opts)
	if err != nil {
		return nil, classify("create audit export", err)
	}
	return exportFromWorkOS("create audit export", ex)
}

// GetAuditExport implements pdk.AuditExporter with auditlogs.GetExport.
func (provider) GetAuditExport(ctx context.Context, id string) (*abi.AuditExport, error) {
	c, err := getClients()
	if err != nil {
		return nil, err
	}
	if _, err := auditOrg(c, "get audit export"); err != nil {
		return nil, err
	}
	// The SDK appends the id to the URL path unescaped: only WorkOS-shaped
	// ids go out.
	if !validExportID(id) {
		return nil, pdk.Errorf(abi.CodeNotFound, "workos: get audit export: no export %q", id)
	}
	ex, err := c.audit.GetExport(ctx, auditlogs.GetExportOpts{ExportID: id})
	if err != nil {
		return nil, classify("get audit export", err)
	}
	return exportFromWorkOS("get audit export", ex)
}

func validExportID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// exportFromWorkOS maps the SDK's export (states "Pending", "Ready",
// "Error"; the API has also sent them lower-case) to the ABI's.
func exportFromWorkOS(op string, ex auditlogs.AuditLogExport) (*abi.AuditExport, error) {
	out := &abi.AuditExport{ID: ex.ID, URL: ex.URL}
	switch strings.ToLower(string(ex.State)) {
	case "pending":
		out.State = abi.AuditExportPending
	case "ready":
		out.State = abi.AuditExportReady
	case "error":
		out.State = abi.AuditExportError
	default:
		return nil, pdk.Errorf(abi.CodeInternal, "workos: %s: unexpected export state %q", op, ex.State)
	}
	if out.ID == "" {
		return nil, pdk.Errorf(abi.CodeInternal, "workos: %s: WorkOS returned an export without id", op)
	}
	if out.State != abi.AuditExportReady {
		out.URL = ""
	}
	out.CreatedAt, _ = time.Parse(time.RFC3339Nano, ex.CreatedAt)
	out.UpdatedAt, _ = time.Parse(time.RFC3339Nano, ex.UpdatedAt)
	return out, nil
}

// webhookEvent is a WorkOS event as delivered to a webhook.
type webhookEvent struct {
	ID    string          `json:"id"`
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}

// directoryUser is the data of dsync.user.* events (the fields used here).
type directoryUser struct {
	ID          string `json:"id"`
	DirectoryID string `json:"directory_id"`
	Email       string `json:"email"`
	Emails      []struct {
		Primary bool   `json:"primary"`
		Value   string `json:"value"`
	} `json:"emails"`
	State string `json:"state"`
	Role  *struct {
		Slug string `json:"slug"`
	} `json:"role"`
	Groups []directoryGroup `json:"groups"`
}

// directoryGroup is a directory group.
type directoryGroup struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	DirectoryID string `json:"directory_id"`
}

// HandleWebhook implements pdk.WebhookHandler: it verifies WorkOS-Signature
// and turns dsync.user.* and dsync.group.user_* events into role changes and
// user deletions for the host. The user they apply to is the AuthKit user
// with the directory user's (primary) email, the id sessions and role
// assignments are keyed by; without one, the directory user id.
func (provider) HandleWebhook(ctx context.Context, req abi.WebhookRequest) (*abi.WebhookResult, error) {
	c, err := getClients()
	if err != nil {
		return nil, err
	}
	if c.cfg.WebhookSecret == "" {
		// Not set up to receive webhooks: the host answers as for a
		// provider without one.
		return nil, pdk.Errorf(abi.CodeNotSupported, "workos: webhook_secret is not configured")
	}
	sig := ""
	for k, v := range req.Headers {
		if strings.EqualFold(k, "WorkOS-Signature") && len(v) > 0 {
			sig = v[0]
		}
	}
	if sig == "" {
		return nil, pdk.Errorf(abi.CodeUnauthenticated, "workos: webhook without WorkOS-Signature header")
	}
	body, err := webhooks.NewClient(c.cfg.WebhookSecret).ValidatePayload(sig, string(req.Body))
	if err != nil {
		return nil, pdk.Errorf(abi.CodeUnauthenticated, "workos: webhook signature rejected: %v", err)
	}
	var ev webhookEvent
	if err := json.Unmarshal([]byte(body), &ev); err != nil {
		return nil, pdk.Errorf(abi.CodeInvalidRequest, "workos: webhook body: %v", err)
	}
	res := &abi.WebhookResult{Status: 200}
	switch ev.Event {
	case "dsync.user.created", "dsync.user.updated", "dsync.user.deleted":
		var du directoryUser
		if err := json.Unmarshal(ev.Data, &du); err != nil {
			return nil, pdk.Errorf(abi.CodeInvalidRequest, "workos: %s data: %v", ev.Event, err)
		}
		if c.cfg.DirectoryID != "" && du.DirectoryID != c.cfg.DirectoryID {
			return res, nil
		}
		id, err := hostUserID(ctx, c, du)
		if err != nil {
			return nil, err
		}
		if ev.Event == "dsync.user.deleted" || du.State == "inactive" {
			res.UserDeletes = append(res.UserDeletes, id)
			return res, nil
		}
		if du.Groups, err = currentGroups(ctx, c, du, nil, ""); err != nil {
			return nil, err
		}
		if roles := directoryRoles(c.cfg, du); roles != nil {
			res.RoleChanges = append(res.RoleChanges, abi.RoleAssignment{UserID: id, Roles: roles})
		}
	case "dsync.group.user_added", "dsync.group.user_removed":
		var data struct {
			DirectoryID string         `json:"directory_id"`
			User        directoryUser  `json:"user"`
			Group       directoryGroup `json:"group"`
		}
		if err := json.Unmarshal(ev.Data, &data); err != nil {
			return nil, pdk.Errorf(abi.CodeInvalidRequest, "workos: %s data: %v", ev.Event, err)
		}
		if c.cfg.DirectoryID != "" && data.DirectoryID != c.cfg.DirectoryID {
			return res, nil
		}
		u := data.User
		var added *directoryGroup
		if ev.Event == "dsync.group.user_added" {
			added = &data.Group
		}
		groups, err := currentGroups(ctx, c, u, added, data.Group.ID)
		if err != nil {
			return nil, err
		}
		u.Groups = groups
		roles := directoryRoles(c.cfg, u)
		if roles == nil {
			roles = []string{}
		}
		id, err := hostUserID(ctx, c, u)
		if err != nil {
			return nil, err
		}
		res.RoleChanges = append(res.RoleChanges, abi.RoleAssignment{UserID: id, Roles: roles})
	case "dsync.group.created", "dsync.group.updated", "dsync.group.deleted":
		// Group lifecycle alone changes no assignment; membership events do.
	default:
		pdk.Log.Info("workos: webhook event ignored", "event", ev.Event, "id", ev.ID)
	}
	return res, nil
}

// currentGroups returns the directory user's groups: from the Directory
// Sync API (ListGroups, every page) when it lists any for the user, else
// from the event payload (which may omit them). The event's own change is applied on top, in case the
// API does not show it yet: added is a group the user was just added to,
// and eventGroup (when added is nil) one it was just removed from.
func currentGroups(ctx context.Context, c *clients, du directoryUser, added *directoryGroup, eventGroup string) ([]directoryGroup, error) {
	groups := du.Groups
	if du.ID != "" {
		var fromAPI []directoryGroup
		opts := directorysync.ListGroupsOpts{User: du.ID, Limit: 100}
		found := true
		for range 20 { // at most 2000 groups
			res, err := c.dsync.ListGroups(ctx, opts)
			if err != nil {
				cerr := classify("list the directory user's groups", err)
				if pdk.IsCode(cerr, abi.CodeNotFound) {
					found = false
					break
				}
				return nil, cerr
			}
			for _, g := range res.Data {
				fromAPI = append(fromAPI, directoryGroup{ID: g.ID, Name: g.Name, DirectoryID: g.DirectoryID})
			}
			if res.ListMetadata.After == "" {
				break
			}
			opts.After = res.ListMetadata.After
		}
		if found && (len(fromAPI) > 0 || len(groups) == 0) {
			groups = fromAPI
		}
	}
	out := make([]directoryGroup, 0, len(groups)+1)
	for _, g := range groups {
		if g.ID != eventGroup || eventGroup == "" {
			out = append(out, g)
		}
	}
	if added != nil {
		out = append(out, *added)
	}
	return out, nil
}

// primaryEmail is the directory user's primary email (else its first, else
// the legacy email field).
func (u directoryUser) primaryEmail() string {
	for _, e := range u.Emails {
		if e.Primary && e.Value != "" {
			return e.Value
		}
	}
	for _, e := range u.Emails {
		if e.Value != "" {
			return e.Value
		}
	}
	return u.Email
}

// hostUserID maps a directory user to the id the host knows: the AuthKit
// user with the same email (WorkOS links directory-provisioned users to
// AuthKit users by email), else the directory user id. A failed lookup is
// an error, so WorkOS retries the delivery.
func hostUserID(ctx context.Context, c *clients, du directoryUser) (string, error) {
	email := du.primaryEmail()
	if email == "" {
		return du.ID, nil
	}
	res, err := c.users.ListUsers(ctx, usermanagement.ListUsersOpts{Email: email, Limit: 1})
	if err != nil {
		return "", classify("look up the directory user's AuthKit user", err)
	}
	for _, u := range res.Data {
		if strings.EqualFold(u.Email, email) {
			return u.ID, nil
		}
	}
	return du.ID, nil
}

// directoryRoles derives authhost roles from a directory user: its
// directory role slug, plus the roles of its groups in group_roles. It
// returns nil when nothing maps.
func directoryRoles(cfg *config, u directoryUser) []string {
	var roles []string
	seen := map[string]bool{}
	add := func(r string) {
		if r != "" && !seen[r] {
			seen[r] = true
			roles = append(roles, r)
		}
	}
	if u.Role != nil {
		add(u.Role.Slug)
	}
	for _, g := range u.Groups {
		if r, ok := cfg.GroupRoles[g.Name]; ok {
			add(r)
		} else if r, ok := cfg.GroupRoles[g.ID]; ok {
			add(r)
		}
	}
	return roles
}
