package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/authhost/authhost/auth"
)

// auditFilterFrom parses the audit filters of a query string.
func auditFilterFrom(q url.Values) (auth.AuditFilter, error) {
	f := auth.AuditFilter{
		ActorID: q.Get("actorId"), ActorType: q.Get("actorType"), Action: q.Get("action"), ActionPrefix: q.Get("actionPrefix"),
		ResourceType: q.Get("resourceType"), ResourceID: q.Get("resourceId"), Outcome: q.Get("outcome"), Text: q.Get("q"),
	}
	switch f.ActorType {
	case "", auth.ActorUser, auth.ActorSystem, auth.ActorAPIKey:
	case "api-key":
		f.ActorType = auth.ActorAPIKey
	default:
		return f, &fieldError{Field: "actorType", Message: "must be user, system or apikey"}
	}
	switch f.Outcome {
	case "", auth.OutcomeSuccess, auth.OutcomeFailure, auth.OutcomeDenied:
	default:
		return f, &fieldError{Field: "outcome", Message: "must be success, failure or denied"}
	}
	var err error
	if f.Start, err = parseDate(q.Get("startDate"), false); err != nil {
		return f, &fieldError{Field: "startDate", Message: err.Error()}
	}
	if f.End, err = parseDate(q.Get("endDate"), true); err != nil {
		return f, &fieldError{Field: "endDate", Message: err.Error()}
	}
	if !f.Start.IsZero() && !f.End.IsZero() && f.End.Before(f.Start) {
		return f, &fieldError{Field: "endDate", Message: "must not be before startDate"}
	}
	return f, nil
}

// parseDate accepts RFC 3339 or a plain date (the start or the end of that
// UTC day).
func parseDate(s string, endOfDay bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, errors.New("must be an RFC 3339 time or a YYYY-MM-DD date")
	}
	if endOfDay {
		return d.Add(24*time.Hour - time.Nanosecond), nil
	}
	return d, nil
}

func intParam(q url.Values, name string, def, min, max int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		return 0, &fieldError{Field: name, Message: fmt.Sprintf("must be an integer from %d to %d", min, max)}
	}
	return n, nil
}

// auditPageFrom accepts offset/limit, page/perPage (Gen B) or a cursor.
func auditPageFrom(q url.Values) (auth.AuditPage, error) {
	var p auth.AuditPage
	var err error
	if p.Limit, err = intParam(q, "limit", 50, 1, 1000); err != nil {
		return p, err
	}
	if q.Has("perPage") {
		if p.Limit, err = intParam(q, "perPage", 50, 1, 1000); err != nil {
			return p, err
		}
	}
	if p.Offset, err = intParam(q, "offset", 0, 0, 1<<30); err != nil {
		return p, err
	}
	if q.Has("page") {
		page, err := intParam(q, "page", 0, 0, 1<<20)
		if err != nil {
			return p, err
		}
		p.Offset = page * p.Limit
	}
	p.Cursor = q.Get("cursor")
	return p, nil
}

func (s *Server) auditStore(w http.ResponseWriter, r *http.Request) auth.AuditStore {
	st := s.composed(r.Context()).AuditStore
	if st == nil || !s.cfg.License.Enabled(auth.FeatureAudit) {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "Audit storage not configured")
		return nil
	}
	return st
}

// auditListResponse is the body of GET /audit.
type auditListResponse struct {
	Events []auth.AuditEvent `json:"events"`
	Total  int               `json:"total"`
	// TotalCapped says Total stopped at the store's cap: more match.
	TotalCapped bool   `json:"totalCapped"`
	Offset      int    `json:"offset"`
	Limit       int    `json:"limit"`
	HasMore     bool   `json:"hasMore"`
	NextCursor  string `json:"nextCursor,omitempty"`
}

func (s *Server) handleAuditList(w http.ResponseWriter, r *http.Request) {
	st := s.auditStore(w, r)
	if st == nil {
		return
	}
	f, err := auditFilterFrom(r.URL.Query())
	if err != nil {
		writeFieldError(w, err)
		return
	}
	p, err := auditPageFrom(r.URL.Query())
	if err != nil {
		writeFieldError(w, err)
		return
	}
	res, err := st.Query(r.Context(), f, p)
	if err != nil {
		if auth.CodeOf(err) == auth.CodeInvalidRequest {
			writeFieldError(w, &fieldError{Field: "cursor", Message: "is invalid"})
			return
		}
		s.log.Error("audit query failed", "error", err)
		writeError(w, http.StatusInternalServerError, "internal", "audit query failed")
		return
	}
	events := res.Events
	if events == nil {
		events = []auth.AuditEvent{}
	}
	writeJSON(w, http.StatusOK, auditListResponse{Events: events, Total: res.Total, TotalCapped: res.TotalCapped, Offset: p.Offset, Limit: p.Limit,
		HasMore: res.NextCursor != "", NextCursor: res.NextCursor})
}

func (s *Server) handleAuditGet(w http.ResponseWriter, r *http.Request) {
	st := s.auditStore(w, r)
	if st == nil {
		return
	}
	e, err := st.Get(r.Context(), chi.URLParam(r, "id"))
	if auth.CodeOf(err) == auth.CodeNotFound || (err == nil && e == nil) {
		writeError(w, http.StatusNotFound, "not_found", "Audit event not found")
		return
	}
	if err != nil {
		s.log.Error("audit get failed", "error", err)
		writeError(w, http.StatusInternalServerError, "internal", "audit lookup failed")
		return
	}
	writeJSON(w, http.StatusOK, e)
}

// handleAuditExport streams the export: rows are written as they are read,
// never buffered whole.
func (s *Server) handleAuditExport(w http.ResponseWriter, r *http.Request) {
	st := s.auditStore(w, r)
	if st == nil {
		return
	}
	f, err := auditFilterFrom(r.URL.Query())
	if err != nil {
		writeFieldError(w, err)
		return
	}
	format := auth.ExportFormat(r.URL.Query().Get("format"))
	ext, ctype := "", ""
	switch format {
	case "", "jsonl", "json":
		format, ext, ctype = auth.ExportJSONL, "jsonl", "application/x-ndjson"
	case auth.ExportCSV:
		ext, ctype = "csv", "text/csv; charset=utf-8"
	default:
		writeFieldError(w, &fieldError{Field: "format", Message: "must be csv or jsonl"})
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="audit-export-%s.%s"`, time.Now().UTC().Format("20060102T150405Z"), ext))
	if err := st.Export(r.Context(), f, format, w); err != nil {
		s.log.Error("audit export failed mid-stream", "error", err)
		panic(http.ErrAbortHandler) // the status is sent; abort so the client sees a truncated body, not a valid file
	}
	id := identityOf(r.Context())
	s.emit(r, auth.AuditEvent{Actor: actorOf(r, id.user), Action: "audit.export", Outcome: auth.OutcomeSuccess,
		Metadata: map[string]any{"format": string(format)}})
}
