package server

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sort"

	"github.com/authhost/authhost/auth"
)

// accountPage is the data of /account.
type accountPage struct {
	User auth.User
	// Roles and Permissions are nil when RBAC is off.
	Roles, Permissions []string
	RBAC               bool
	// CanListSessions is true when the session provider can list the
	// user's sessions; Sessions then holds them, newest first.
	CanListSessions bool
	Sessions        []sessionRow
	// SessionsError is set when listing failed or signing out everywhere
	// did.
	SessionsError string
	Source        string
}

type sessionRow struct {
	auth.Session
	Current bool
}

func (s *Server) pageAccount(w http.ResponseWriter, r *http.Request) {
	u, _, ok := s.pageUser(w, r, "")
	if !ok {
		return
	}
	s.render(w, http.StatusOK, "account", s.newLayout(r, "Your account", "account", s.accountData(r, *u, "")))
}

func (s *Server) accountData(r *http.Request, u auth.User, sessionsErr string) accountPage {
	ctx := r.Context()
	p := accountPage{User: u, SessionsError: sessionsErr}
	if acc := s.composed(r.Context()).AccessOf(ctx, s.cfg.License, u); acc != nil {
		p.RBAC, p.Roles, p.Permissions = true, acc.Roles, acc.Permissions
	}
	id := identityOf(ctx)
	if id.session != nil {
		p.Source, _ = id.session.Metadata[auth.MetaSource].(string)
	}
	lister, ok := s.composed(r.Context()).Session.(auth.SessionLister)
	if !ok {
		return p
	}
	p.CanListSessions = true
	sessions, err := lister.ListSessions(ctx, u.ID)
	if err != nil {
		s.log.Warn("account page: listing sessions failed", "error", err)
		if p.SessionsError == "" {
			p.SessionsError = "Your sessions could not be listed right now."
		}
		return p
	}
	sort.Slice(sessions, func(i, j int) bool { return sessions[i].CreatedAt.After(sessions[j].CreatedAt) })
	for _, sess := range sessions {
		p.Sessions = append(p.Sessions, sessionRow{Session: sess, Current: id.session != nil && sameSession(sess.ID, id.session.ID)})
	}
	return p
}

// sameSession reports whether a listed session is the current one. Listers
// may return a handle instead of the secret id: the built-in store returns
// "sha256:" and the hex SHA-256 of the id (session.HandlePrefix).
func sameSession(listed, current string) bool {
	if listed == current {
		return true
	}
	sum := sha256.Sum256([]byte(current))
	return listed == "sha256:"+hex.EncodeToString(sum[:])
}

// pageEndAllSessions signs the user out on every device ("sign out
// everywhere"): this browser first, through the same logout as POST /logout
// (so an identity provider's logout URL is built while the session still
// exists), then every other session of the user. Both steps are audited.
func (s *Server) pageEndAllSessions(w http.ResponseWriter, r *http.Request) {
	u, _, ok := s.pageUser(w, r, "")
	if !ok {
		return
	}
	if _, ok := s.composed(r.Context()).Session.(auth.SessionLister); !ok {
		s.render(w, http.StatusNotImplemented, "account", s.newLayout(r, "Your account", "account",
			s.accountData(r, *u, "This server's session store cannot sign you out everywhere.")))
		return
	}
	idpLogout, err := s.logout(w, r)
	if err != nil {
		s.logoutFailed(w, r)
		return
	}
	n, err := auth.EndUserSessions(r.Context(), s.composed(r.Context()).Session, u.ID)
	outcome := auth.OutcomeSuccess
	if err != nil {
		s.log.Warn("sign out everywhere failed", "error", err)
		outcome = auth.OutcomeFailure
	}
	s.emit(r, auth.AuditEvent{Actor: actorOf(r, u), Action: "auth.logout", Outcome: outcome,
		Metadata: map[string]any{"scope": "all", "ended": n}})
	if err != nil {
		l := s.newLayout(r, "Sign out everywhere failed", "", message{Heading: "Sign out everywhere failed",
			Text: "You are signed out in this browser, but other sessions may still be active. Sign in and try again.",
			Link: "/login?redirect=%2Faccount", LinkText: "Sign in"})
		l.User, l.CanAudit, l.CanPlugins = nil, false, false
		s.render(w, http.StatusInternalServerError, "message", l)
		return
	}
	s.afterLogout(w, r, idpLogout, "signed-out-everywhere")
}
