package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"unicode"
	"unicode/utf8"

	"github.com/authhost/authhost/auth"
)

// errorBody is the JSON body of every error response.
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorBody{Error: code, Message: msg})
}

// statusOf maps an auth error code to its HTTP status: the one place where
// provider errors become statuses.
func statusOf(code auth.Code) int {
	switch code {
	case auth.CodeInvalidRequest:
		return http.StatusBadRequest
	case auth.CodeInvalidCredentials, auth.CodeUnauthenticated:
		return http.StatusUnauthorized
	case auth.CodeForbidden, auth.CodeSignUpDisabled:
		return http.StatusForbidden
	case auth.CodeNotFound:
		return http.StatusNotFound
	case auth.CodeAlreadyExists:
		return http.StatusConflict
	case auth.CodeRateLimited:
		return http.StatusTooManyRequests
	case auth.CodeUnavailable:
		return http.StatusServiceUnavailable
	case auth.CodeNotSupported:
		return http.StatusNotImplemented
	}
	return http.StatusInternalServerError
}

// writeAuthError answers a provider or built-in error with the status of
// its code. Only an invalid-request message is shown (it explains what to
// fix, a password policy say); anything else gets fallback, so provider
// internals never reach the client.
func writeAuthError(w http.ResponseWriter, err error, fallback string) {
	code := auth.CodeOf(err)
	msg := fallback
	if code == auth.CodeInvalidRequest {
		msg = publicMessage(err, fallback)
	}
	writeError(w, statusOf(code), string(code), msg)
}

// publicMessage returns the error's own message when it is safe to show an
// end user, else fallback. Safe means: at most 200 bytes of valid UTF-8
// with no control or format characters (no line breaks, no bidi
// overrides), and not a host function's diagnostic to the provider (a
// message naming kv_*, http_do, password_* or log, such as a KV quota
// refusal the provider passed on), which concerns the operator, not the
// user.
func publicMessage(err error, fallback string) string {
	var ae *auth.Error
	if !errors.As(err, &ae) || ae.Message == "" || len(ae.Message) > 200 || !utf8.ValidString(ae.Message) {
		return fallback
	}
	for _, r := range ae.Message {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return fallback
		}
	}
	if hostDiagnostic.MatchString(ae.Message) {
		return fallback
	}
	return ae.Message
}

// hostDiagnostic matches the messages of the host functions' failed
// envelopes ("kv_set: …", "authhost kv_set: …", "kv: …").
var hostDiagnostic = regexp.MustCompile(`(^|\b)(authhost )?(kv|kv_get|kv_set|kv_delete|kv_cas|http_do|password_hash|password_verify|log): `)
