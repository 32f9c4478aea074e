package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/authhost/authhost/auth"
	authid "github.com/authhost/authhost/auth/identity"
)

// meResponse is the body of GET /auth/me.
type meResponse struct {
	auth.User
	Permissions []string `json:"permissions"`
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	id := identityOf(r.Context())
	u := *id.user
	resp := meResponse{User: u, Permissions: []string{}}
	if acc := s.composed(r.Context()).AccessOf(r.Context(), s.cfg.License, u); acc != nil {
		resp.Roles, resp.Permissions = acc.Roles, acc.Permissions
	}
	writeJSON(w, http.StatusOK, resp)
}

type credentialsBody struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name,omitempty"`
}

// validate puts the email and, for a sign-up, the name in canonical form
// (auth/identity) and checks the body.
func (b *credentialsBody) validate(signUp bool) error {
	email, err := authid.Email(b.Email)
	if err != nil {
		return &fieldError{Field: "email", Message: "must be an email address"}
	}
	b.Email = email
	switch {
	case b.Password == "":
		return &fieldError{Field: "password", Message: "is required"}
	case len(b.Password) > 1024:
		return &fieldError{Field: "password", Message: "must be at most 1024 bytes"}
	}
	if signUp {
		if b.Name, err = authid.Name(b.Name); err != nil {
			return &fieldError{Field: "name", Message: fmt.Sprintf("must be at most %d characters", authid.MaxNameRunes)}
		}
	}
	return nil
}

// signInResponse is the body of a successful sign-in or sign-up.
type signInResponse struct {
	User  auth.User `json:"user"`
	Token string    `json:"token,omitempty"`
}

// loginResult is a successful sign-in or sign-up: the user, the bearer
// token the provider issued (if any) and the Set-Cookie values to send.
type loginResult struct {
	User    auth.User
	Token   string
	Cookies []string
}

// flowError is a failed sign-in or sign-up as the JSON API and the web
// pages both report it: a status, a code and a message safe to show.
type flowError struct {
	Status  int
	Code    string
	Message string
	// RetryAfter is set when the caller is rate limited.
	RetryAfter time.Duration
}

func (e *flowError) Error() string { return e.Code + ": " + e.Message }

// writeFlowError answers an error of signIn, signUp or loginCookies: a
// *fieldError as a validation failure, a *flowError with its status.
func writeFlowError(w http.ResponseWriter, err error) {
	var fe *flowError
	if !errors.As(err, &fe) {
		writeFieldError(w, err)
		return
	}
	if fe.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(fe.RetryAfter.Seconds())+1))
	}
	writeError(w, fe.Status, fe.Code, fe.Message)
}

func addCookies(w http.ResponseWriter, cookies []string) {
	for _, c := range cookies {
		w.Header().Add("Set-Cookie", c)
	}
}

// errNoCredentials is returned when no provider serves credentials.
var errNoCredentials = &flowError{Status: http.StatusNotFound, Code: "not_found", Message: "Credentials authentication not configured"}

// signInAvailable returns nil when credentials sign-in is configured.
func (s *Server) signInAvailable(r *http.Request) error {
	if s.composed(r.Context()).Credentials == nil {
		return errNoCredentials
	}
	return nil
}

// signUpAvailable returns nil when credentials sign-up is configured and
// enabled.
func (s *Server) signUpAvailable(r *http.Request) error {
	if err := s.signInAvailable(r); err != nil {
		return err
	}
	if !s.composed(r.Context()).Credentials.SignUpEnabled(r.Context()) {
		return &flowError{Status: http.StatusForbidden, Code: "sign_up_disabled", Message: "Sign up is disabled"}
	}
	return nil
}

func (s *Server) handleSignIn(w http.ResponseWriter, r *http.Request) {
	s.serveCredentials(w, r, s.signInAvailable(r), s.signIn, http.StatusOK)
}

func (s *Server) handleSignUp(w http.ResponseWriter, r *http.Request) {
	s.serveCredentials(w, r, s.signUpAvailable(r), s.signUp, http.StatusCreated)
}

// serveCredentials is the JSON side of sign-in and sign-up: unless
// unavailable is set, it decodes the body, runs flow and answers status
// with the user and token, or the flow's error.
func (s *Server) serveCredentials(w http.ResponseWriter, r *http.Request, unavailable error,
	flow func(*http.Request, credentialsBody) (*loginResult, error), status int) {
	if unavailable != nil {
		writeFlowError(w, unavailable)
		return
	}
	var body credentialsBody
	if err := decodeJSON(w, r, &body); err != nil {
		writeFieldError(w, err)
		return
	}
	res, err := flow(r, body)
	if err != nil {
		writeFlowError(w, err)
		return
	}
	addCookies(w, res.Cookies)
	writeJSON(w, status, signInResponse{User: res.User, Token: res.Token})
}

// signIn checks credentials for the JSON API and the sign-in page alike:
// validation, the rate limits, the provider call (holding a password-hash
// slot), session creation and the audit events. It returns a *fieldError
// for an invalid body and a *flowError for everything else.
//
// Every limit is reserved before the provider is asked and the reservation
// kept only for a wrong password, so concurrent guesses cannot overtake
// the count (see auth/RATIONALE.md, "Sign-in limits").
func (s *Server) signIn(r *http.Request, body credentialsBody) (*loginResult, error) {
	start := time.Now()
	if err := s.signInAvailable(r); err != nil {
		return nil, err
	}
	if err := body.validate(false); err != nil {
		return nil, err
	}
	actor := auth.AuditActor{Type: auth.ActorUser, ID: "unknown", Email: body.Email, IP: clientIP(r), UserAgent: truncate(r.UserAgent(), 256)}
	held, refused, err := s.reserveSignIn(r.Context(), body.Email, clientIP(r))
	if err != nil {
		return nil, s.limitsFailed(err)
	}
	if refused != nil {
		s.emit(r, auth.AuditEvent{Actor: actor, Action: "auth.sign-in", Outcome: auth.OutcomeDenied,
			Metadata: map[string]any{"reason": "rate limited", "key": refused.kind}, DurationMS: time.Since(start).Milliseconds()})
		return nil, &flowError{Status: http.StatusTooManyRequests, Code: "rate_limited", Message: "Too many failed sign-in attempts; try again later", RetryAfter: refused.wait}
	}
	var res *auth.CredentialsResult
	err = s.hashing(r.Context(), func(ctx context.Context) (err error) {
		res, err = s.composed(r.Context()).Credentials.SignIn(ctx, body.Email, body.Password, r)
		return err
	})
	if errors.Is(err, errNoHashSlot) {
		held.refund(r.Context())
		return nil, s.busy
	}
	if err != nil {
		return nil, s.signInFailed(r, actor, held, err, start)
	}
	held.refund(r.Context())
	actor.ID = res.User.ID
	cookies, err := s.loginCookies(r, auth.CapCredentials, res.User, res.SetCookie, "credentials")
	if err != nil {
		return nil, err
	}
	s.emit(r, auth.AuditEvent{Actor: actor, Action: "auth.sign-in", Outcome: auth.OutcomeSuccess, DurationMS: time.Since(start).Milliseconds()})
	return &loginResult{User: res.User, Token: res.Token, Cookies: cookies}, nil
}

// errNoHashSlot is wrapped by hashing's error when the call was not made.
var errNoHashSlot = errors.New("server: no password-hash slot")

// hashing runs call, a credentials provider call that hashes a password,
// holding a slot of the host-wide hash gate. When no slot frees up in time
// (or the request ends while waiting) it returns an error wrapping
// errNoHashSlot without calling: the attempt was not made.
//
// call gets a context marked as holding the slot, so password hashing host
// functions the provider calls on it reuse the slot instead of waiting for
// a second one.
func (s *Server) hashing(ctx context.Context, call func(ctx context.Context) error) error {
	release, err := s.hashes.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", errNoHashSlot, err)
	}
	defer release()
	return call(s.hashes.Holding(ctx))
}

// signInLimit is one rate limit a sign-in must pass.
type signInLimit struct {
	kind, key string
	limiter   *limiter
}

// signInLimits are the limits of a sign-in, loosest key first: the client
// address (any account), the account (any address, the soft throttle) and
// the pair (the hard lock).
func (s *Server) signInLimits(email, ip string) []signInLimit {
	client := clientNetwork(ip)
	return []signInLimit{{"ip", client, s.ipLimits}, {"account", email, s.accountLimits}, {"account-ip", email + "\x00" + client, s.pairLimits}}
}

// heldLimits are the reservations of one sign-in attempt.
type heldLimits []heldLimit

type heldLimit struct {
	kind string
	res  *reservation
}

func (h heldLimits) refund(ctx context.Context) {
	for _, l := range h {
		l.res.Refund(ctx)
	}
}

// refusedLimit names the limit that refused a sign-in and how long it will.
type refusedLimit struct {
	kind string
	wait time.Duration
}

// reserveSignIn reserves an attempt in every sign-in limit, or in none:
// when one refuses (or cannot count), those already taken are given back.
func (s *Server) reserveSignIn(ctx context.Context, email, ip string) (heldLimits, *refusedLimit, error) {
	var held heldLimits
	for _, l := range s.signInLimits(email, ip) {
		res, wait, err := l.limiter.Reserve(ctx, l.key)
		if err != nil || res == nil {
			held.refund(ctx)
			if err != nil {
				return nil, nil, err
			}
			return nil, &refusedLimit{kind: l.kind, wait: wait}, nil
		}
		held = append(held, heldLimit{kind: l.kind, res: res})
	}
	return held, nil, nil
}

// limitsFailed logs that the rate limits could not count (their store
// failed) and returns the refusal: a limit that cannot count fails closed.
func (s *Server) limitsFailed(err error) *flowError {
	s.log.Error("rate limits unavailable; refusing the attempt", "error", err)
	return &flowError{Status: http.StatusServiceUnavailable, Code: string(auth.CodeUnavailable), Message: "The service is unavailable; try again later"}
}

// signInFailed turns a failed sign-in into a generic error, keeps the
// attempt counted when it was a wrong password (refunding it otherwise)
// and audits it (and any lockout it caused).
func (s *Server) signInFailed(r *http.Request, actor auth.AuditActor, held heldLimits, err error, start time.Time) error {
	code := auth.CodeOf(err)
	meta := map[string]any{"code": string(code)}
	if providerFault(code) {
		held.refund(r.Context())
		s.emitProviderError(r, actor, auth.CapCredentials, "sign-in", err)
		s.emit(r, auth.AuditEvent{Actor: actor, Action: "auth.sign-in", Outcome: auth.OutcomeFailure, Metadata: meta, DurationMS: time.Since(start).Milliseconds()})
		// A provider fault is never the user's: internal answers 503
		// unavailable like an unreachable upstream (what the user can do
		// is the same: retry later); rate_limited keeps its 429.
		status, public := http.StatusServiceUnavailable, auth.CodeUnavailable
		if code == auth.CodeRateLimited {
			status, public = http.StatusTooManyRequests, code
		}
		return &flowError{Status: status, Code: string(public), Message: "The sign-in service is unavailable; try again later"}
	}
	if code == auth.CodeForbidden {
		// The password was right but the provider refuses the account (an
		// unverified email, a disabled user): not a guess to count.
		held.refund(r.Context())
		s.emit(r, auth.AuditEvent{Actor: actor, Action: "auth.sign-in", Outcome: auth.OutcomeDenied, Metadata: meta, DurationMS: time.Since(start).Milliseconds()})
		return &flowError{Status: http.StatusForbidden, Code: string(code), Message: "This account cannot sign in yet (for example, its email address is not verified)"}
	}
	for _, l := range held {
		if l.res.Commit(r.Context()) {
			s.emit(r, auth.AuditEvent{Actor: actor, Action: "auth.lockout", Outcome: auth.OutcomeDenied,
				Metadata: map[string]any{"key": l.kind}})
		}
	}
	s.emit(r, auth.AuditEvent{Actor: actor, Action: "auth.sign-in", Outcome: auth.OutcomeFailure, Metadata: meta, DurationMS: time.Since(start).Milliseconds()})
	return &flowError{Status: http.StatusUnauthorized, Code: "invalid_credentials", Message: "Invalid email or password"}
}

// signUp creates an account for the JSON API and the sign-up page alike:
// validation, the per-IP limits, the provider call (holding a
// password-hash slot), session creation and the audit events. A sign-up
// that creates an account or finds one already there counts against the
// client's address (the latter slows account enumeration). The caller has
// checked signUpAvailable. It returns a *fieldError for an invalid body and
// a *flowError for everything else.
func (s *Server) signUp(r *http.Request, body credentialsBody) (*loginResult, error) {
	start := time.Now()
	if err := s.signInAvailable(r); err != nil {
		return nil, err
	}
	if err := body.validate(true); err != nil {
		return nil, err
	}
	ip := clientIP(r)
	actor := auth.AuditActor{Type: auth.ActorUser, ID: "unknown", Email: body.Email, IP: ip, UserAgent: truncate(r.UserAgent(), 256)}
	blocked, wait, err := s.ipLimits.Blocked(r.Context(), clientNetwork(ip))
	if err != nil {
		return nil, s.limitsFailed(err)
	}
	if blocked {
		return nil, &flowError{Status: http.StatusTooManyRequests, Code: "rate_limited", Message: "Too many attempts; try again later", RetryAfter: wait}
	}
	held, wait, err := s.signUpLimits.Reserve(r.Context(), clientNetwork(ip))
	if err != nil {
		return nil, s.limitsFailed(err)
	}
	if held == nil {
		s.emit(r, auth.AuditEvent{Actor: actor, Action: "auth.sign-up", Outcome: auth.OutcomeDenied,
			Metadata: map[string]any{"reason": "rate limited", "key": "ip"}, DurationMS: time.Since(start).Milliseconds()})
		return nil, &flowError{Status: http.StatusTooManyRequests, Code: "rate_limited", Message: "Too many sign-ups from this address; try again later", RetryAfter: wait}
	}
	var res *auth.CredentialsResult
	err = s.hashing(r.Context(), func(ctx context.Context) (err error) {
		res, err = s.composed(r.Context()).Credentials.SignUp(ctx, body.Email, body.Password, body.Name, r)
		return err
	})
	if errors.Is(err, errNoHashSlot) {
		held.Refund(r.Context())
		return nil, s.busy
	}
	if err != nil {
		code := auth.CodeOf(err)
		s.emit(r, auth.AuditEvent{Actor: actor, Action: "auth.sign-up", Outcome: auth.OutcomeFailure,
			Metadata: map[string]any{"code": string(code)}, DurationMS: time.Since(start).Milliseconds()})
		if code == auth.CodeAlreadyExists {
			held.Commit(r.Context())
			return nil, &flowError{Status: http.StatusConflict, Code: string(code), Message: "An account with this email already exists"}
		}
		held.Refund(r.Context())
		switch code {
		case auth.CodeInvalidRequest:
			return nil, &flowError{Status: http.StatusBadRequest, Code: string(code), Message: publicMessage(err, "Invalid sign-up request")}
		case auth.CodeSignUpDisabled:
			return nil, &flowError{Status: http.StatusForbidden, Code: string(code), Message: "Sign up is disabled"}
		default:
			if providerFault(code) {
				s.emitProviderError(r, actor, auth.CapCredentials, "sign-up", err)
			} else {
				s.log.Warn("sign-up failed", "code", code, "error", err)
			}
			return nil, &flowError{Status: statusOf(code), Code: string(code), Message: "Failed to create account"}
		}
	}
	held.Commit(r.Context())
	actor.ID = res.User.ID
	cookies, err := s.loginCookies(r, auth.CapCredentials, res.User, res.SetCookie, "credentials")
	if err != nil {
		return nil, err
	}
	s.emit(r, auth.AuditEvent{Actor: actor, Action: "auth.sign-up", Outcome: auth.OutcomeSuccess, DurationMS: time.Since(start).Milliseconds()})
	return &loginResult{User: res.User, Token: res.Token, Cookies: cookies}, nil
}

// finishLogin sets the cookies of a successful login (see loginCookies).
// It answers the error itself and returns false on failure.
func (s *Server) finishLogin(w http.ResponseWriter, r *http.Request, capability string, u auth.User, providerCookies []string, source string) bool {
	cookies, err := s.loginCookies(r, capability, u, providerCookies, source)
	if err != nil {
		writeFlowError(w, err)
		return false
	}
	addCookies(w, cookies)
	return true
}

// loginCookies returns the cookies of a successful login: the provider's
// own when it manages sessions, else those of a new host session holding a
// snapshot of the user. A failure is a *flowError. Every login passes
// here, so a bootstrap owner is granted its role here first.
func (s *Server) loginCookies(r *http.Request, capability string, u auth.User, providerCookies []string, source string) ([]string, error) {
	s.bootstrapOwner(r, u)
	if len(providerCookies) > 0 || s.composed(r.Context()).ManagesSessions(capability) || s.composed(r.Context()).Session == nil {
		return providerCookies, nil
	}
	sess, err := s.composed(r.Context()).Session.CreateSession(r.Context(), u.ID, auth.SnapshotMetadata(u, source))
	if err == nil {
		var cookies []string
		if cookies, err = s.composed(r.Context()).Session.SessionCookies(r.Context(), sess); err == nil {
			return cookies, nil
		}
	}
	s.log.Error("creating a session failed", "error", err)
	return nil, &flowError{Status: statusOf(auth.CodeOf(err)), Code: "session_error", Message: "Could not create a session"}
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	redirectTo, err := s.logout(w, r)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable",
			"Signed out in this browser, but the session could not be ended at the provider; it stays valid until it expires")
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Success    bool   `json:"success"`
		RedirectTo string `json:"redirectTo,omitempty"`
	}{Success: true, RedirectTo: redirectTo})
}

// logout ends the request's session for the JSON API and the web pages
// alike: it clears the session cookies on w, audits the logout and returns
// the identity provider's logout URL ("" when there is none). The cookies
// are cleared even when the session provider cannot end the session (a
// shared computer must not stay signed in); that failure is returned and
// audited, since the session stays valid at the provider until it expires.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) (redirectTo string, err error) {
	id := identityOf(r.Context())
	ctx := r.Context()
	// The identity provider's logout URL may need the session (an OIDC
	// id_token_hint, a WorkOS session id), so it is built before the
	// session is destroyed.
	if sso := s.composed(r.Context()).SSO; sso != nil && id.user != nil {
		if u, err := sso.LogoutURL(ctx, s.cfg.PublicURL.String(), r); err == nil {
			redirectTo = u
		} else {
			s.log.Warn("logout: building the identity provider's logout URL failed", "error", err)
		}
	}
	if sp := s.composed(r.Context()).Session; sp != nil {
		if sid, e := sp.SessionIDFromRequest(ctx, r); e == nil && sid != "" {
			if e := sp.DestroySession(ctx, sid); e != nil {
				err = e
				s.emitProviderError(r, actorOf(r, id.user), auth.CapSession, "logout", e)
			}
		}
		if cookies, e := sp.ClearCookies(ctx); e == nil {
			for _, c := range cookies {
				w.Header().Add("Set-Cookie", c)
			}
		}
	}
	if id.user != nil || err != nil {
		outcome := auth.OutcomeSuccess
		if err != nil {
			outcome = auth.OutcomeFailure
		}
		s.emit(r, auth.AuditEvent{Actor: actorOf(r, id.user), Action: "auth.logout", Outcome: outcome})
	}
	return redirectTo, err
}

func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) {
	sp := s.composed(r.Context()).Session
	if sp == nil {
		writeError(w, http.StatusNotFound, "not_found", "Sessions are not managed by this server")
		return
	}
	ctx := r.Context()
	sid, err := sp.SessionIDFromRequest(ctx, r)
	var sess *auth.Session
	if err == nil && sid != "" {
		sess, err = sp.RefreshSession(ctx, sid)
	}
	if err != nil || sess == nil {
		s.emit(r, auth.AuditEvent{Actor: actorOf(r, nil), Action: "auth.refresh", Outcome: auth.OutcomeFailure})
		writeError(w, http.StatusUnauthorized, "unauthenticated", "No valid session to refresh")
		return
	}
	cookies, err := sp.SessionCookies(ctx, sess)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "session_error", "Could not refresh the session")
		return
	}
	for _, c := range cookies {
		w.Header().Add("Set-Cookie", c)
	}
	u := auth.UserFromSession(sess)
	s.emit(r, auth.AuditEvent{Actor: actorOf(r, &u), Action: "auth.refresh", Outcome: auth.OutcomeSuccess})
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "expiresAt": sess.ExpiresAt})
}

type resetRequestBody struct {
	Email string `json:"email"`
}

type resetConfirmBody struct {
	Token       string `json:"token"`
	NewPassword string `json:"newPassword"`
}

// handlePasswordReset starts a reset. It answers 202 whether or not the
// account exists, so it cannot be used to discover accounts.
func (s *Server) handlePasswordReset(w http.ResponseWriter, r *http.Request) {
	creds := s.composed(r.Context()).Credentials
	if creds == nil {
		writeError(w, http.StatusNotFound, "not_found", "Credentials authentication not configured")
		return
	}
	var body resetRequestBody
	if err := decodeJSON(w, r, &body); err != nil {
		writeFieldError(w, err)
		return
	}
	email, err := authid.Email(body.Email)
	if err != nil {
		writeFieldError(w, &fieldError{Field: "email", Message: "must be an email address"})
		return
	}
	if err := s.requestReset(r, email); err != nil {
		var fe *flowError
		if errors.As(err, &fe) {
			writeFlowError(w, fe)
			return
		}
		writeError(w, http.StatusNotImplemented, "not_supported", "Password reset is not supported by the credentials provider")
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"success": true})
}

// requestReset asks the credentials provider (the caller checked there is
// one) to email a reset link leading to the reset page, for the API and
// the forgot-password page alike. Every request counts against the
// client's address in the per-IP limit (each may send an email), reserved
// first: over the limit it returns a *flowError without asking. It returns
// the provider's error only when the provider does not support reset: any
// other failure is logged, so the caller answers the same whether or not
// the account exists.
func (s *Server) requestReset(r *http.Request, email string) error {
	held, wait, err := s.ipLimits.Reserve(r.Context(), clientNetwork(clientIP(r)))
	if err != nil {
		return s.limitsFailed(err)
	}
	if held == nil {
		return &flowError{Status: http.StatusTooManyRequests, Code: "rate_limited", Message: "Too many attempts; try again later", RetryAfter: wait}
	}
	err = s.composed(r.Context()).Credentials.RequestPasswordReset(r.Context(), email, s.cfg.PublicURL.String()+"/reset-password")
	if auth.CodeOf(err) == auth.CodeNotSupported {
		held.Refund(r.Context())
		return err
	}
	held.Commit(r.Context())
	if err != nil {
		s.log.Warn("password reset request failed", "error", err)
	}
	return nil
}

func (s *Server) handlePasswordResetConfirm(w http.ResponseWriter, r *http.Request) {
	creds := s.composed(r.Context()).Credentials
	if creds == nil {
		writeError(w, http.StatusNotFound, "not_found", "Credentials authentication not configured")
		return
	}
	var body resetConfirmBody
	if err := decodeJSON(w, r, &body); err != nil {
		writeFieldError(w, err)
		return
	}
	if body.Token == "" || body.NewPassword == "" {
		writeFieldError(w, &fieldError{Field: "token", Message: "token and newPassword are required"})
		return
	}
	if err := s.resetPassword(r, body.Token, body.NewPassword); err != nil {
		var fe *flowError
		if errors.As(err, &fe) {
			writeFlowError(w, fe)
			return
		}
		writeAuthError(w, err, "Password reset failed")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true})
}

// resetPassword sets a new password with a reset token for the API and the
// reset page alike (the caller checked a credentials provider exists): the
// per-IP limit first, reserved, then the provider holding a password-hash
// slot (both refusals are a *flowError). A refused token keeps its count
// against the client's address, which slows token guessing; a success is
// audited. Provider errors are returned as they are.
func (s *Server) resetPassword(r *http.Request, token, password string) error {
	held, wait, err := s.ipLimits.Reserve(r.Context(), clientNetwork(clientIP(r)))
	if err != nil {
		return s.limitsFailed(err)
	}
	if held == nil {
		return &flowError{Status: http.StatusTooManyRequests, Code: "rate_limited", Message: "Too many attempts; try again later", RetryAfter: wait}
	}
	err = s.hashing(r.Context(), func(ctx context.Context) error {
		return s.composed(r.Context()).Credentials.ResetPassword(ctx, token, password)
	})
	if errors.Is(err, errNoHashSlot) {
		held.Refund(r.Context())
		return s.busy
	}
	if err == nil {
		held.Refund(r.Context())
		s.emit(r, auth.AuditEvent{Actor: actorOf(r, nil), Action: "auth.password-reset", Outcome: auth.OutcomeSuccess})
		return nil
	}
	if badResetToken(auth.CodeOf(err)) {
		held.Commit(r.Context())
	} else {
		held.Refund(r.Context())
	}
	return err
}

// badResetToken reports whether a provider refused a reset because of its
// token (unknown, used or expired) rather than the new password.
func badResetToken(code auth.Code) bool {
	switch code {
	case auth.CodeInvalidCredentials, auth.CodeUnauthenticated, auth.CodeNotFound, auth.CodeForbidden:
		return true
	}
	return false
}

// handleSSOLogin starts an SSO login: fresh state, nonce and PKCE verifier
// go into a sealed HttpOnly cookie; the provider gets state, nonce and the
// S256 challenge.
func (s *Server) handleSSOLogin(w http.ResponseWriter, r *http.Request) {
	sso := s.composed(r.Context()).SSO
	if sso == nil {
		writeError(w, http.StatusNotFound, "not_found", "SSO not configured")
		return
	}
	st := ssoState{State: randomToken(32), Nonce: randomToken(32), Verifier: randomToken(48),
		Redirect: s.redirects.Safe(r.URL.Query().Get("redirect_uri"), "/"), Expires: time.Now().Add(ssoTTL)}
	loginURL, err := sso.LoginURL(r.Context(), auth.SSOLoginRequest{RedirectURI: s.callbackURL(), State: st.State,
		Nonce: st.Nonce, CodeChallenge: pkceChallenge(st.Verifier), CodeChallengeMethod: "S256"})
	if err != nil {
		s.emitProviderError(r, actorOf(r, nil), auth.CapSSO, "sso login", err)
		if r.URL.Query().Get("redirect") == "true" {
			// A browser navigation: back to its page, with the error.
			http.Redirect(w, r, withQuery(st.Redirect, "error", string(auth.CodeOf(err))), http.StatusFound)
			return
		}
		writeAuthError(w, err, "Could not start SSO login")
		return
	}
	sealed, err := s.sealer.seal(st)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "internal error")
		return
	}
	w.Header().Add("Set-Cookie", s.ssoCookie(sealed, int(ssoTTL.Seconds())))
	if r.URL.Query().Get("redirect") == "true" {
		http.Redirect(w, r, loginURL, http.StatusFound)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"url": loginURL})
}

// callbackURL is the absolute URL of the SSO callback route.
func (s *Server) callbackURL() string {
	return strings.TrimRight(s.cfg.PublicURL.String(), "/") + s.cfg.APIPrefix + "/auth/sso/callback"
}

// handleSSOCallback finishes an SSO login: the state must match the sealed
// cookie of this browser, the code is exchanged with the PKCE verifier, a
// session is created unless the provider manages its own, and the browser
// goes to the validated return URL (with ?error= on failure).
func (s *Server) handleSSOCallback(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	q := r.URL.Query()
	root := strings.TrimRight(s.cfg.PublicURL.String(), "/") + "/"
	w.Header().Add("Set-Cookie", s.ssoCookie("", -1)) // single use, whatever happens
	fail := func(target, code string, err error) {
		meta := map[string]any{"error": code}
		if err != nil {
			meta["detail"] = truncate(err.Error(), 300)
		}
		s.emit(r, auth.AuditEvent{Actor: actorOf(r, nil), Action: "auth.sso-callback", Outcome: auth.OutcomeFailure,
			Metadata: meta, DurationMS: time.Since(start).Milliseconds()})
		http.Redirect(w, r, withQuery(target, "error", code), http.StatusFound)
	}
	sso := s.composed(r.Context()).SSO
	if sso == nil {
		fail(root, "sso_not_configured", nil)
		return
	}
	st, err := s.readSSOState(r, q.Get("state"), time.Now())
	if err != nil {
		fail(root, "invalid_state", err)
		return
	}
	target := s.redirects.Safe(st.Redirect, root)
	if e := q.Get("error"); e != "" {
		fail(target, "provider_denied", errors.New(truncate(e, 100)))
		return
	}
	code := q.Get("code")
	if code == "" {
		fail(target, "missing_code", nil)
		return
	}
	res, err := sso.Callback(r.Context(), auth.SSOCallbackRequest{Code: code, State: st.State, Nonce: st.Nonce,
		CodeVerifier: st.Verifier, RedirectURI: s.callbackURL(), Request: r})
	if err != nil {
		c := auth.CodeOf(err)
		if providerFault(c) {
			s.emitProviderError(r, actorOf(r, nil), auth.CapSSO, "sso callback", err)
		}
		fail(target, string(c), err)
		return
	}
	if !s.finishLogin(w, r, auth.CapSSO, res.User, res.SetCookie, "sso") {
		return
	}
	s.emit(r, auth.AuditEvent{Actor: actorOf(r, &res.User), Action: "auth.sso-callback", Outcome: auth.OutcomeSuccess,
		DurationMS: time.Since(start).Milliseconds()})
	http.Redirect(w, r, target, http.StatusFound)
}

// withQuery adds key=value to target's query.
func withQuery(target, key, value string) string {
	u, err := url.Parse(target)
	if err != nil {
		return target
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}
