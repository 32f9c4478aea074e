package server

import "net/http"

// handleCapabilities answers GET {prefix}/auth/capabilities: the login
// options for anyone, plus user, flags and access for a signed-in user.
func (s *Server) handleCapabilities(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	a := s.composed(r.Context())
	if u := identityOf(ctx).user; u != nil {
		writeJSON(w, http.StatusOK, a.AuthenticatedCapabilities(ctx, s.cfg.License, s.ssoLoginURL(), *u))
		return
	}
	writeJSON(w, http.StatusOK, a.PublicCapabilities(ctx, s.cfg.License, s.ssoLoginURL()))
}
