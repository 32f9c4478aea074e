package server

import "net/http"

// handleCapabilities answers GET {prefix}/auth/capabilities: the login
// options for anyone, plus user, flags and access for a signed-in user.
func (s *Server) handleCapabilities(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	a := s.cfg.Auth
	u, _, err := a.CurrentUser(ctx, r)
	if err != nil {
		s.log.Warn("capabilities: resolving the current user failed; answering as anonymous", "error", err)
		u = nil
	}
	if u == nil {
		writeJSON(w, http.StatusOK, a.PublicCapabilities(ctx, s.cfg.License, s.ssoLoginURL()))
		return
	}
	writeJSON(w, http.StatusOK, a.AuthenticatedCapabilities(ctx, s.cfg.License, s.ssoLoginURL(), *u))
}
