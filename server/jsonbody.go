package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxJSONBody bounds every JSON request body.
const maxJSONBody = 64 << 10

// fieldError is a request-validation failure naming the field at fault.
type fieldError struct {
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (e *fieldError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// decodeJSON strictly decodes one JSON object from r's body into v: the
// content type must be JSON, the body at most maxJSONBody bytes, unknown
// fields and trailing data are errors, and type errors name the field.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return &fieldError{Message: "Content-Type must be application/json"}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describeJSONError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &fieldError{Message: "request body must hold a single JSON object"}
	}
	return nil
}

func describeJSONError(err error) error {
	var (
		syntax    *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		maxErr    *http.MaxBytesError
		fieldName string
	)
	switch {
	case errors.Is(err, io.EOF):
		return &fieldError{Message: "request body is empty"}
	case errors.As(err, &maxErr):
		return &fieldError{Message: fmt.Sprintf("request body exceeds %d bytes", maxErr.Limit)}
	case errors.As(err, &syntax):
		return &fieldError{Message: fmt.Sprintf("malformed JSON at byte %d", syntax.Offset)}
	case errors.As(err, &typeErr):
		return &fieldError{Field: typeErr.Field, Message: fmt.Sprintf("must be a %s, not %s", typeErr.Type, typeErr.Value)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &fieldError{Message: "malformed JSON: unexpected end of body"}
	}
	if _, after, ok := strings.Cut(err.Error(), "json: unknown field "); ok {
		fieldName = strings.Trim(after, `"`)
		return &fieldError{Field: fieldName, Message: "unknown field"}
	}
	return &fieldError{Message: "malformed JSON"}
}

// writeFieldError answers 400 (or 413 for an oversized body) for a decode
// or validation failure.
func writeFieldError(w http.ResponseWriter, err error) {
	var fe *fieldError
	if !errors.As(err, &fe) {
		fe = &fieldError{Message: "invalid request"}
	}
	status := http.StatusBadRequest
	if strings.Contains(fe.Message, "exceeds") {
		status = http.StatusRequestEntityTooLarge
	}
	writeJSON(w, status, struct {
		Error   string `json:"error"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
	}{"invalid_request", fe.Error(), fe.Field})
}
