package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/authhost/authhost/auth"
)

// handleWebhook passes a provider's webhook to it and applies the result:
// role changes go to the host's role store, deleted users lose their
// sessions and role assignments. A delivery the provider rejects (an error,
// or a result status of 400 or more, e.g. 401 for a bad signature) changes
// nothing.
//
// Only providers the server serves webhooks for (Config.Webhooks) get
// past the first check; any other name, installed or not, and a provider
// that answers not_supported (installed but not set up to receive them)
// get the same 404, so the route does not tell what is installed. Each
// provider's deliveries are bounded in rate and in flight (429 with
// Retry-After past either).
func (s *Server) handleWebhook(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "provider")
	h := s.cfg.Webhooks(name)
	if h == nil {
		writeWebhookNotFound(w)
		return
	}
	actor := auth.AuditActor{Type: auth.ActorSystem, ID: name, IP: clientIP(r)}
	release, wait := s.webhookLimits.acquire(name, time.Now())
	if release == nil {
		s.emit(r, auth.AuditEvent{Actor: actor, Action: "webhook.received", Outcome: auth.OutcomeDenied,
			Resource: &auth.AuditResource{Type: "provider", ID: name}, Metadata: map[string]any{"status": http.StatusTooManyRequests}})
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
		writeError(w, http.StatusTooManyRequests, string(auth.CodeRateLimited), "Too many webhook deliveries; retry later")
		return
	}
	defer release()
	res, err := h.HandleWebhook(r.Context(), r)
	if auth.CodeOf(err) == auth.CodeNotSupported {
		writeWebhookNotFound(w)
		return
	}
	if err != nil {
		s.emit(r, auth.AuditEvent{Actor: actor, Action: "webhook.received", Outcome: auth.OutcomeFailure,
			Resource: &auth.AuditResource{Type: "provider", ID: name}, Metadata: map[string]any{"code": string(auth.CodeOf(err))}})
		writeAuthError(w, err, "Webhook rejected")
		return
	}
	if res.Status >= 400 {
		// The provider refused the delivery (bad signature, stale, unknown
		// event): nothing is applied and the sender sees its status.
		s.emit(r, auth.AuditEvent{Actor: actor, Action: "webhook.received", Outcome: auth.OutcomeDenied,
			Resource: &auth.AuditResource{Type: "provider", ID: name}, Metadata: map[string]any{"status": res.Status}})
		status := res.Status
		if status > 599 {
			status = http.StatusBadRequest
		}
		writeError(w, status, "webhook_rejected", "Webhook rejected by the provider")
		return
	}
	n := s.applyWebhook(r.Context(), name, res)
	outcome := auth.OutcomeSuccess
	if n.failed > 0 || n.rejected > 0 {
		outcome = auth.OutcomeFailure
	}
	s.emit(r, auth.AuditEvent{Actor: actor, Action: "webhook.received", Outcome: outcome,
		Resource: &auth.AuditResource{Type: "provider", ID: name},
		Metadata: map[string]any{"roleChanges": len(res.RoleChanges), "userDeletes": len(res.UserDeletes),
			"applied": n.applied, "rejected": n.rejected, "failed": n.failed}})
	if n.failed > 0 {
		// The provider retries a failed delivery; every change is idempotent.
		writeError(w, http.StatusServiceUnavailable, "unavailable", "some changes could not be applied; retry the delivery")
		return
	}
	status := res.Status
	if status < 200 || status > 299 {
		status = http.StatusOK
	}
	if status == http.StatusNoContent && n.rejected == 0 {
		w.WriteHeader(status)
		return
	}
	// Rejected changes (e.g. a role the host does not define) would be
	// rejected again on every retry, so they are reported, not retried.
	writeJSON(w, status, map[string]any{"received": true, "applied": n.applied, "rejected": n.rejected})
}

// writeWebhookNotFound is the one answer for every provider the route does
// not serve.
func writeWebhookNotFound(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "not_found", "no webhook endpoint for this provider")
}

// webhookCounts counts the changes of one delivery: applied, rejected for
// good (invalid, retrying cannot help) and failed (worth a retry).
type webhookCounts struct{ applied, rejected, failed int }

// count records the outcome of one change.
func (n *webhookCounts) count(s *Server, provider, what string, err error) {
	switch {
	case err == nil:
		n.applied++
	case auth.CodeOf(err) == auth.CodeInvalidRequest || auth.CodeOf(err) == auth.CodeNotFound:
		s.log.Warn("webhook: change rejected", "provider", provider, "change", what, "error", err)
		n.rejected++
	default:
		s.log.Warn("webhook: change failed", "provider", provider, "change", what, "error", err)
		n.failed++
	}
}

// applyWebhook applies role changes and user deletions. An empty role
// change removes the host's assignment instead of assigning no roles: a
// directory that maps no group of the user assigns nothing.
func (s *Server) applyWebhook(ctx context.Context, provider string, res *auth.WebhookResult) webhookCounts {
	var n webhookCounts
	for _, rc := range res.RoleChanges {
		var err error = errNoRoleStore
		switch {
		case s.cfg.RoleStore == nil: // err stays errNoRoleStore
		case len(rc.Roles) == 0:
			// The provider assigns nothing (e.g. the user left every
			// mapped group): the user is back to the identity
			// provider's or the default roles.
			err = s.cfg.RoleStore.ClearUserRoles(ctx, rc.UserID)
		default:
			err = s.cfg.RoleStore.SetUserRoles(ctx, rc.UserID, rc.Roles)
		}
		n.count(s, provider, "set roles", err)
	}
	for _, userID := range res.UserDeletes {
		n.count(s, provider, "delete user", s.forgetUser(ctx, userID))
	}
	return n
}

// errNoRoleStore rejects role changes when the host keeps no roles.
var errNoRoleStore = &auth.Error{Code: auth.CodeInvalidRequest, Message: "this server keeps no role assignments (no built-in RBAC)"}

// forgetUser ends every session of a user deleted at the identity provider
// and drops their role assignments.
func (s *Server) forgetUser(ctx context.Context, userID string) error {
	if _, err := auth.EndUserSessions(ctx, s.composed(ctx).Session, userID); err != nil && !errors.Is(err, auth.ErrCannotListSessions) {
		return err
	}
	if s.cfg.RoleStore != nil {
		return s.cfg.RoleStore.ClearUserRoles(ctx, userID)
	}
	return nil
}
