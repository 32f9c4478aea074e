package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/authhost/authhost/auth"
)

type ctxKey int

const identityKey ctxKey = iota

// identity is who made the request, resolved once by the identify middleware.
type identity struct {
	user    *auth.User
	session *auth.Session
	// err is set when the provider failed while resolving; the request is
	// then treated as anonymous (fail closed) and protected routes say 503.
	err error
}

func identityOf(ctx context.Context) *identity {
	id, _ := ctx.Value(identityKey).(*identity)
	if id == nil {
		return &identity{}
	}
	return id
}

// identify resolves the session cookie or bearer token to a user.
func (s *Server) identify(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, sess, err := s.composed(r.Context()).CurrentUser(r.Context(), r)
		id := &identity{user: u, session: sess, err: err}
		if err != nil {
			s.auditResolveFailure(r, err)
			id.user, id.session = nil, nil
		}
		if id.session != nil {
			s.slideSession(w, r, id.session)
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey, id)))
	})
}

// resolveAuditInterval is how often a failing session or user provider is
// recorded in the audit log while it keeps failing: every request of an
// outage would flood it.
const resolveAuditInterval = 30 * time.Second

// auditResolveFailure records a provider.error for a request whose user
// could not be resolved, at most once per resolveAuditInterval.
func (s *Server) auditResolveFailure(r *http.Request, err error) {
	now := time.Now().UnixNano()
	last := s.resolveErrAt.Load()
	if now-last < int64(resolveAuditInterval) || !s.resolveErrAt.CompareAndSwap(last, now) {
		return
	}
	s.emitProviderError(r, actorOf(r, nil), auth.CapSession, "resolving the current user", err)
}

// providerFault reports whether code is the provider's failure (down,
// broken, throttling us) rather than an answer about the request.
func providerFault(code auth.Code) bool {
	return code == auth.CodeUnavailable || code == auth.CodeInternal || code == auth.CodeRateLimited
}

// emitProviderError logs and audits a provider failure of capability
// during an operation (e.g. "sign-in"): one provider.error event naming
// the capability, the operation and the error code, never the error text.
func (s *Server) emitProviderError(r *http.Request, actor auth.AuditActor, capability, during string, err error) {
	s.log.Warn("provider error", "capability", capability, "during", during, "error", err)
	s.emit(r, auth.AuditEvent{Actor: actor, Action: "provider.error", Outcome: auth.OutcomeFailure,
		Resource: &auth.AuditResource{Type: "capability", ID: capability},
		Metadata: map[string]any{"code": string(auth.CodeOf(err)), "during": during}})
}

// slideSession refreshes a session that has used up half of its sliding
// TTL (the provider's when its session says so, else the host's) and
// re-issues its cookie, so active users stay signed in
// while idle sessions expire. Logout is left alone: it clears the cookie.
func (s *Server) slideSession(w http.ResponseWriter, r *http.Request, sess *auth.Session) {
	ttl := s.cfg.SessionTTL
	if ttl > 0 {
		ttl = auth.SlidingTTL(sess, ttl)
	}
	if ttl <= 0 || time.Until(sess.ExpiresAt) >= ttl/2 || strings.HasSuffix(r.URL.Path, "/auth/logout") {
		return
	}
	ctx := r.Context()
	fresh, err := s.composed(r.Context()).Session.RefreshSession(ctx, sess.ID)
	if err != nil || fresh == nil {
		if err != nil {
			s.log.Warn("sliding session refresh failed", "error", err)
		}
		return
	}
	cookies, err := s.composed(r.Context()).Session.SessionCookies(ctx, fresh)
	if err != nil {
		s.log.Warn("sliding session refresh: rendering the cookie failed", "error", err)
		return
	}
	for _, c := range cookies {
		w.Header().Add("Set-Cookie", c)
	}
}

// permissionsOf returns the user's permissions, or nil when RBAC is off or
// fails (never wider access on failure).
func (s *Server) permissionsOf(ctx context.Context, u auth.User) []string {
	acc := s.composed(ctx).AccessOf(ctx, s.cfg.License, u)
	if acc == nil {
		return nil
	}
	return acc.Permissions
}

// require answers 401 without a user and 403 without the permission; every
// deny of a permission is audited. An empty permission only requires a
// signed-in user, and its 401 is not audited.
func (s *Server) require(perm string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := identityOf(r.Context())
			if id.user == nil {
				if id.err != nil {
					writeError(w, http.StatusServiceUnavailable, "unavailable", "the identity provider is unavailable")
					return
				}
				if perm != "" {
					// Without a permission to check (GET /auth/me) a 401
					// only answers "am I signed in?": not a security
					// event, so not audited.
					s.emitDenied(r, perm, "authentication required")
				}
				writeError(w, http.StatusUnauthorized, "unauthenticated", "Authentication required")
				return
			}
			if perm != "" {
				if !s.cfg.License.Enabled(auth.FeatureRBAC) {
					s.emitDenied(r, perm, "rbac requires a license in production")
					writeError(w, http.StatusForbidden, "forbidden", "this route needs RBAC, which requires a license in production")
					return
				}
				if !auth.HasPermission(s.permissionsOf(r.Context(), *id.user), perm) {
					s.emitDenied(r, perm, "missing permission")
					writeError(w, http.StatusForbidden, "forbidden", "Insufficient permissions")
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// actorOf describes the caller for audit events.
func actorOf(r *http.Request, u *auth.User) auth.AuditActor {
	a := auth.AuditActor{Type: auth.ActorUser, ID: "anonymous", IP: clientIP(r), UserAgent: truncate(r.UserAgent(), 256)}
	if u != nil {
		a.ID, a.Email = u.ID, u.Email
	}
	return a
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func newEventID() string { return uuid.Must(uuid.NewV7()).String() }

// emit records an audit event; failures are logged, never shown to the
// client, and never stop the request.
func (s *Server) emit(r *http.Request, e auth.AuditEvent) {
	if s.composed(r.Context()).Audit == nil || !s.cfg.License.Enabled(auth.FeatureAudit) {
		return
	}
	if e.Timestamp.IsZero() {
		e.Timestamp = time.Now().UTC()
	}
	if e.ID == "" {
		e.ID = newEventID()
	}
	if err := s.audit.Log(context.WithoutCancel(r.Context()), e); err != nil {
		s.log.Error("audit log failed", "action", e.Action, "error", err)
	}
}

// emitDenied records an auth.denied event for the current request.
func (s *Server) emitDenied(r *http.Request, perm, reason string) {
	id := identityOf(r.Context())
	s.emit(r, auth.AuditEvent{Actor: actorOf(r, id.user), Action: "auth.denied", Outcome: auth.OutcomeDenied,
		Resource: &auth.AuditResource{Type: "route", ID: r.Method + " " + r.URL.Path},
		Metadata: map[string]any{"permission": perm, "reason": reason}})
}
