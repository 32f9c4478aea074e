package server

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/authhost/authhost/auth"
	authid "github.com/authhost/authhost/auth/identity"
)

// The password-reset pages: /forgot-password asks the credentials provider
// to email a reset link (the same call as POST
// /api/auth/credentials/password-reset), and the link leads to
// /reset-password?token=…, which sets the new password. The token is only
// ever carried in the link and the form's hidden field: it is never logged,
// audited or shown.

// forgotPage is the data of /forgot-password.
type forgotPage struct {
	// Email refills the form after an error.
	Email string
	// Sent is true once a request was accepted: the page then only says
	// that a link was sent if the account exists.
	Sent  bool
	Error string
}

// resetPage is the data of /reset-password.
type resetPage struct {
	// Token is the reset token from the link, carried in a hidden field;
	// empty once the provider refused it, which hides the form.
	Token string
	// Error is shown inline above the form; ErrorField names the field at
	// fault, if any.
	Error, ErrorField string
	// Expired is true when the token was refused: the page offers a new
	// link instead of the form.
	Expired bool
}

// resetUnavailable answers a reset page when credentials are not
// configured or the provider does not support password reset.
func (s *Server) resetUnavailable(w http.ResponseWriter, r *http.Request, status int) {
	s.renderMessage(w, r, status, message{Heading: "Password reset is not available",
		Text: "This server cannot reset passwords. Ask an administrator to reset yours.", Link: "/login", LinkText: "Sign in"})
}

// resetRateLimited answers a reset page for a client over the per-IP limit.
func (s *Server) resetRateLimited(w http.ResponseWriter, r *http.Request, page string, data any, wait int) {
	w.Header().Set("Retry-After", strconv.Itoa(wait))
	title := "Reset your password"
	if page == "reset" {
		title = "Choose a new password"
	}
	s.render(w, http.StatusTooManyRequests, page, s.newLayout(r, title, "", data))
}

func (s *Server) pageForgot(w http.ResponseWriter, r *http.Request) {
	if s.composed(r.Context()).Credentials == nil {
		s.resetUnavailable(w, r, http.StatusNotFound)
		return
	}
	s.render(w, http.StatusOK, "forgot", s.newLayout(r, "Reset your password", "", forgotPage{}))
}

// pageForgotPost requests a reset link (requestReset: every request that
// reaches the provider counts against the client's address, each may send
// an email), and the page says the same whether or not the account exists.
func (s *Server) pageForgotPost(w http.ResponseWriter, r *http.Request) {
	if s.composed(r.Context()).Credentials == nil {
		s.resetUnavailable(w, r, http.StatusNotFound)
		return
	}
	p := forgotPage{}
	if err := parseForm(w, r); err != nil {
		p.Error = "The form could not be read. Please try again."
		s.render(w, http.StatusBadRequest, "forgot", s.newLayout(r, "Reset your password", "", p))
		return
	}
	p.Email = strings.TrimSpace(r.PostForm.Get("email"))
	email, err := authid.Email(p.Email)
	if err != nil {
		p.Error = "Enter a valid email address."
		s.render(w, http.StatusBadRequest, "forgot", s.newLayout(r, "Reset your password", "", p))
		return
	}
	p.Email = email
	if err := s.requestReset(r, email); err != nil {
		var limited *flowError
		if errors.As(err, &limited) {
			s.resetRateLimited(w, r, "forgot", forgotPage{Error: "Too many attempts; try again later."}, int(limited.RetryAfter.Seconds())+1)
			return
		}
		s.resetUnavailable(w, r, http.StatusNotImplemented)
		return
	}
	p.Sent = true
	s.render(w, http.StatusOK, "forgot", s.newLayout(r, "Check your email", "", p))
}

func (s *Server) pageReset(w http.ResponseWriter, r *http.Request) {
	if s.composed(r.Context()).Credentials == nil {
		s.resetUnavailable(w, r, http.StatusNotFound)
		return
	}
	p := resetPage{Token: r.URL.Query().Get("token")}
	status := http.StatusOK
	if p.Token == "" {
		p.Expired, p.Error = true, "This reset link is incomplete. Request a new one."
		status = http.StatusBadRequest
	}
	s.render(w, status, "reset", s.newLayout(r, "Choose a new password", "", p))
}

// pageResetPost sets the new password (resetPassword: rate limit, provider,
// audit) and shows what went wrong inline.
func (s *Server) pageResetPost(w http.ResponseWriter, r *http.Request) {
	if s.composed(r.Context()).Credentials == nil {
		s.resetUnavailable(w, r, http.StatusNotFound)
		return
	}
	render := func(status int, p resetPage) {
		s.render(w, status, "reset", s.newLayout(r, "Choose a new password", "", p))
	}
	if err := parseForm(w, r); err != nil {
		render(http.StatusBadRequest, resetPage{Expired: true, Error: "The form could not be read. Request a new link."})
		return
	}
	p := resetPage{Token: r.PostForm.Get("token")}
	password, confirm := r.PostForm.Get("password"), r.PostForm.Get("confirm")
	switch {
	case p.Token == "":
		p.Expired, p.Error = true, "This reset link is incomplete. Request a new one."
	case password == "":
		p.Error, p.ErrorField = "Enter a new password.", "password"
	case len(password) > 1024:
		p.Error, p.ErrorField = "The password is too long.", "password"
	case password != confirm:
		p.Error, p.ErrorField = "The two passwords do not match.", "confirm"
	}
	if p.Error != "" {
		if p.Expired {
			p.Token = ""
		}
		render(http.StatusBadRequest, p)
		return
	}
	err := s.resetPassword(r, p.Token, password)
	if err == nil {
		http.Redirect(w, r, "/login?notice=password-reset", http.StatusSeeOther)
		return
	}
	var limited *flowError
	if errors.As(err, &limited) {
		if limited == s.busy {
			// The server is busy hashing: the link is still good.
			p.Error = limited.Message
			s.resetRateLimited(w, r, "reset", p, int(limited.RetryAfter.Seconds())+1)
			return
		}
		s.resetRateLimited(w, r, "reset", resetPage{Expired: true, Error: "Too many attempts; try again later."}, int(limited.RetryAfter.Seconds())+1)
		return
	}
	code := auth.CodeOf(err)
	switch {
	case code == auth.CodeNotSupported:
		s.resetUnavailable(w, r, http.StatusNotImplemented)
		return
	case code == auth.CodeInvalidRequest:
		// The provider's password policy: its message says what to fix.
		p.Error, p.ErrorField = publicMessage(err, "Choose a stronger password."), "password"
	case badResetToken(code):
		p.Token, p.Expired = "", true
		p.Error = "This reset link is invalid or has expired. Request a new one."
	default:
		// The provider's error should not hold the token; make sure.
		s.log.Warn("password reset failed", "error", strings.ReplaceAll(err.Error(), p.Token, "[token]"))
		p.Error = "The password could not be changed right now. Try again later."
	}
	render(statusOf(code), p)
}
