package server

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/authhost/authhost/auth"
)

// loginPage is the data of the sign-in and sign-up pages.
type loginPage struct {
	// Redirect is where to go after signing in, already checked by the
	// redirect guard; the forms carry it in a hidden field.
	Redirect string
	// Enabled is false when no login method is configured.
	Enabled     bool
	Credentials bool
	SignUp      bool
	// ForgotPassword links to /forgot-password when the credentials
	// provider offers password reset (auth.SupportsPasswordReset).
	ForgotPassword bool
	SSO            *auth.SSOButton
	// SSOHref starts the SSO flow (a link, so it works without JavaScript
	// and the CSP's form-action 'self' is not involved).
	SSOHref string
	// Problems are the readiness problems (what is broken), shown in
	// development only: a production server with any refuses to start.
	Problems []string
	// Email and Name refill the form after an error; the password never is.
	Email, Name string
	// Error is shown inline above the form; ErrorField names the field at
	// fault, if any.
	Error, ErrorField string
	Notice            string
}

// notices are the fixed messages /login?notice= may show; anything else
// is ignored, so the page never echoes arbitrary text.
var notices = map[string]string{
	"signed-out":            "You have been signed out.",
	"signed-out-everywhere": "You have been signed out on every device.",
	"password-reset":        "Your password has been changed. Sign in with your new password.",
}

// ssoErrorText turns the ?error= code of a failed SSO callback into a
// sentence for the sign-in page.
func ssoErrorText(code string) string {
	switch code {
	case "":
		return ""
	case "invalid_state":
		return "The sign-in attempt expired or was started in another browser. Please try again."
	case "provider_denied":
		return "The identity provider did not approve the sign-in."
	case "missing_code":
		return "The identity provider sent an incomplete response. Please try again."
	case "sso_not_configured":
		return "Single sign-on is not configured."
	case string(auth.CodeInvalidCredentials):
		return "The identity provider's answer could not be verified. Please try again."
	case string(auth.CodeUnavailable), string(auth.CodeRateLimited):
		return "The identity provider is unavailable. Try again later."
	}
	return "Single sign-on failed. Please try again."
}

// loginOptions fills the login methods from the composed capabilities, the
// same ones GET /api/auth/capabilities reports.
func (s *Server) loginOptions(r *http.Request, target string) loginPage {
	caps := s.composed(r.Context()).PublicCapabilities(r.Context(), s.cfg.License, s.ssoLoginURL())
	p := loginPage{Redirect: target, Enabled: caps.Enabled && caps.Login != nil}
	if s.cfg.License.Mode != auth.ModeProduction {
		if ready, problems := s.cfg.Ready(); !ready {
			p.Problems = problems
		}
	}
	if !p.Enabled {
		return p
	}
	p.Credentials = caps.Login.Type == "credentials" || caps.Login.Type == "both"
	p.SignUp = p.Credentials && caps.Login.SignUpEnabled != nil && *caps.Login.SignUpEnabled
	p.ForgotPassword = p.Credentials && auth.SupportsPasswordReset(s.composed(r.Context()).Credentials)
	if caps.Login.SSO != nil {
		p.SSO = caps.Login.SSO
		// The SSO callback returns to /login, which forwards a signed-in
		// user to target and shows the callback's ?error= otherwise.
		back := "/login?" + url.Values{"redirect": {target}}.Encode()
		p.SSOHref = caps.Login.SSO.URL + "?" + url.Values{"redirect": {"true"}, "redirect_uri": {back}}.Encode()
	}
	return p
}

func (s *Server) pageLogin(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	target := s.redirects.Safe(q.Get("redirect"), "/account")
	if identityOf(r.Context()).user != nil {
		http.Redirect(w, r, target, http.StatusSeeOther)
		return
	}
	p := s.loginOptions(r, target)
	p.Error = ssoErrorText(q.Get("error"))
	p.Notice = notices[q.Get("notice")]
	s.render(w, http.StatusOK, "login", s.newLayout(r, "Sign in", "", p))
}

func (s *Server) pageLoginPost(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		p := s.loginOptions(r, "/account")
		p.Error = "The form could not be read. Please try again."
		s.render(w, http.StatusBadRequest, "login", s.newLayout(r, "Sign in", "", p))
		return
	}
	target := s.redirects.Safe(r.PostForm.Get("redirect"), "/account")
	body := credentialsBody{Email: r.PostForm.Get("email"), Password: r.PostForm.Get("password")}
	res, err := s.signIn(r, body)
	if err != nil {
		p := s.loginOptions(r, target)
		p.Email = body.Email
		status := formError(w, err, &p)
		s.render(w, status, "login", s.newLayout(r, "Sign in", "", p))
		return
	}
	addCookies(w, res.Cookies)
	s.redirectAfterLogin(w, r, target)
}

func (s *Server) pageSignUp(w http.ResponseWriter, r *http.Request) {
	target := s.redirects.Safe(r.URL.Query().Get("redirect"), "/account")
	if identityOf(r.Context()).user != nil {
		http.Redirect(w, r, target, http.StatusSeeOther)
		return
	}
	if s.signUpAvailable(r) != nil {
		s.signUpUnavailable(w, r)
		return
	}
	s.render(w, http.StatusOK, "signup", s.newLayout(r, "Create your account", "", s.loginOptions(r, target)))
}

func (s *Server) signUpUnavailable(w http.ResponseWriter, r *http.Request) {
	s.renderMessage(w, r, http.StatusNotFound, message{Heading: "Sign-up is not available",
		Text: "This server does not accept new accounts. Ask an administrator to create one for you.", Link: "/login", LinkText: "Sign in"})
}

func (s *Server) pageSignUpPost(w http.ResponseWriter, r *http.Request) {
	if s.signUpAvailable(r) != nil {
		s.signUpUnavailable(w, r)
		return
	}
	if err := parseForm(w, r); err != nil {
		p := s.loginOptions(r, "/account")
		p.Error = "The form could not be read. Please try again."
		s.render(w, http.StatusBadRequest, "signup", s.newLayout(r, "Create your account", "", p))
		return
	}
	target := s.redirects.Safe(r.PostForm.Get("redirect"), "/account")
	body := credentialsBody{Email: r.PostForm.Get("email"), Password: r.PostForm.Get("password"), Name: r.PostForm.Get("name")}
	res, err := s.signUp(r, body)
	if err != nil {
		p := s.loginOptions(r, target)
		p.Email, p.Name = body.Email, body.Name
		status := formError(w, err, &p)
		s.render(w, status, "signup", s.newLayout(r, "Create your account", "", p))
		return
	}
	addCookies(w, res.Cookies)
	s.redirectAfterLogin(w, r, target)
}

// formError puts a signIn or signUp error on the page and returns the
// status to answer with (the API's status for the same failure).
func formError(w http.ResponseWriter, err error, p *loginPage) int {
	var fe *flowError
	if errors.As(err, &fe) {
		if fe.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(fe.RetryAfter.Seconds())+1))
		}
		p.Error = fe.Message
		return fe.Status
	}
	var ve *fieldError
	if errors.As(err, &ve) {
		p.ErrorField = ve.Field
		switch ve.Field {
		case "email":
			p.Error = "Enter a valid email address."
		case "password":
			if ve.Message == "is required" {
				p.Error = "Enter your password."
			} else {
				p.Error = "The password is too long."
			}
		case "name":
			p.Error = "The name is too long (at most 200 characters)."
		default:
			p.Error = ve.Error()
		}
		return http.StatusBadRequest
	}
	p.Error = "Something went wrong. Please try again."
	return http.StatusInternalServerError
}

// pageLogoutPost signs out this browser.
func (s *Server) pageLogoutPost(w http.ResponseWriter, r *http.Request) {
	idpLogout, err := s.logout(w, r)
	if err != nil {
		s.logoutFailed(w, r)
		return
	}
	s.afterLogout(w, r, idpLogout, "signed-out")
}

// logoutFailed tells a browser whose cookies were cleared that its session
// could not be ended at the provider.
func (s *Server) logoutFailed(w http.ResponseWriter, r *http.Request) {
	l := s.newLayout(r, "Sign out incomplete", "", message{Heading: "Sign out incomplete",
		Text: "You are signed out in this browser, but the identity provider could not end your session, so it stays valid until it expires. Sign in and sign out again later to end it.",
		Link: "/login", LinkText: "Sign in"})
	l.User, l.CanAudit, l.CanPlugins = nil, false, false
	s.render(w, http.StatusServiceUnavailable, "message", l)
}

// afterLogout sends a signed-out browser to the sign-in page with notice.
// When the identity provider has a logout URL the page offers it as a
// link instead: a form post may not be redirected to another origin under
// the CSP's form-action 'self'.
func (s *Server) afterLogout(w http.ResponseWriter, r *http.Request, idpLogout, notice string) {
	if idpLogout == "" {
		http.Redirect(w, r, "/login?notice="+notice, http.StatusSeeOther)
		return
	}
	l := s.newLayout(r, "Signed out", "", message{Heading: "You are signed out",
		Text: notices[notice] + " Your identity provider may still keep you signed in there.",
		Link: idpLogout, LinkText: "Sign out of the identity provider too", Secondary: "/login", SecondaryText: "Sign in again"})
	l.User, l.CanAudit, l.CanPlugins = nil, false, false
	s.render(w, http.StatusOK, "message", l)
}
