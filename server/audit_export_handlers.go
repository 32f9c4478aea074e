package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/authhost/authhost/auth"
)

// maxExportFilter bounds each filter list of an export request.
const maxExportFilter = 100

// auditExportBody is the JSON body of POST /audit/exports. Times are
// RFC 3339 strings, parsed here so a bad one is named in the error.
type auditExportBody struct {
	RangeStart string   `json:"rangeStart"`
	RangeEnd   string   `json:"rangeEnd"`
	Actions    []string `json:"actions"`
	ActorIDs   []string `json:"actorIds"`
	Targets    []string `json:"targets"`
}

// request validates the body and converts it.
func (b auditExportBody) request() (auth.AuditExportRequest, error) {
	var req auth.AuditExportRequest
	parse := func(field, v string) (time.Time, error) {
		if strings.TrimSpace(v) == "" {
			return time.Time{}, &fieldError{Field: field, Message: "is required"}
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return time.Time{}, &fieldError{Field: field, Message: "must be an RFC 3339 time, e.g. 2026-03-01T00:00:00Z"}
		}
		return t.UTC(), nil
	}
	var err error
	if req.RangeStart, err = parse("rangeStart", b.RangeStart); err != nil {
		return req, err
	}
	if req.RangeEnd, err = parse("rangeEnd", b.RangeEnd); err != nil {
		return req, err
	}
	if req.RangeEnd.Before(req.RangeStart) {
		return req, &fieldError{Field: "rangeEnd", Message: "must not be before rangeStart"}
	}
	for _, l := range []struct {
		field string
		in    []string
		out   *[]string
	}{{"actions", b.Actions, &req.Actions}, {"actorIds", b.ActorIDs, &req.ActorIDs}, {"targets", b.Targets, &req.Targets}} {
		if len(l.in) > maxExportFilter {
			return req, &fieldError{Field: l.field, Message: "has more than 100 entries"}
		}
		for _, v := range l.in {
			if strings.TrimSpace(v) == "" {
				return req, &fieldError{Field: l.field, Message: "must not contain empty strings"}
			}
		}
		*l.out = l.in
	}
	return req, nil
}

// auditExporter returns the composed audit exporter, or answers 501 when
// no selected audit provider can export (503 when audit is not licensed,
// as for the audit store).
func (s *Server) auditExporter(w http.ResponseWriter, r *http.Request) auth.AuditExporter {
	if !s.cfg.License.Enabled(auth.FeatureAudit) {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "Audit is not enabled by the license")
		return nil
	}
	x := s.composed(r.Context()).AuditExporter
	if x == nil {
		writeError(w, http.StatusNotImplemented, string(auth.CodeNotSupported), "No audit provider can create exports")
		return nil
	}
	return x
}

// handleAuditExportCreate asks the audit provider to prepare an export of
// its events and answers 201 with the export (usually pending). The
// request is audited as audit.export with its outcome.
func (s *Server) handleAuditExportCreate(w http.ResponseWriter, r *http.Request) {
	x := s.auditExporter(w, r)
	if x == nil {
		return
	}
	var body auditExportBody
	if err := decodeJSON(w, r, &body); err != nil {
		writeFieldError(w, err)
		return
	}
	req, err := body.request()
	if err != nil {
		writeFieldError(w, err)
		return
	}
	id := identityOf(r.Context())
	md := map[string]any{"kind": "provider", "rangeStart": req.RangeStart.Format(time.RFC3339), "rangeEnd": req.RangeEnd.Format(time.RFC3339)}
	if len(req.Actions) > 0 {
		md["actions"] = strings.Join(req.Actions, ",")
	}
	if len(req.ActorIDs) > 0 {
		md["actorIds"] = strings.Join(req.ActorIDs, ",")
	}
	if len(req.Targets) > 0 {
		md["targets"] = strings.Join(req.Targets, ",")
	}
	ex, err := x.CreateAuditExport(r.Context(), req)
	if err == nil && ex == nil {
		err = auth.Errorf(auth.CodeInternal, "audit provider returned no export")
	}
	if err != nil {
		md["error"] = string(auth.CodeOf(err))
		s.emit(r, auth.AuditEvent{Actor: actorOf(r, id.user), Action: "audit.export", Outcome: auth.OutcomeFailure, Metadata: md})
		if auth.CodeOf(err) != auth.CodeInvalidRequest && auth.CodeOf(err) != auth.CodeNotSupported {
			s.log.Error("audit export creation failed", "error", err)
		}
		writeAuthError(w, err, "Could not create the audit export")
		return
	}
	md["state"] = ex.State
	s.emit(r, auth.AuditEvent{Actor: actorOf(r, id.user), Action: "audit.export", Outcome: auth.OutcomeSuccess,
		Resource: &auth.AuditResource{Type: "audit_export", ID: ex.ID}, Metadata: md})
	writeJSON(w, http.StatusCreated, ex)
}

// handleAuditExportGet reports the state of an export (200) or 404.
func (s *Server) handleAuditExportGet(w http.ResponseWriter, r *http.Request) {
	x := s.auditExporter(w, r)
	if x == nil {
		return
	}
	exportID := chi.URLParam(r, "id")
	ex, err := x.GetAuditExport(r.Context(), exportID)
	if err == nil && ex == nil {
		err = auth.Errorf(auth.CodeNotFound, "audit export %q not found", exportID)
	}
	if err != nil {
		if c := auth.CodeOf(err); c != auth.CodeNotFound && c != auth.CodeInvalidRequest && c != auth.CodeNotSupported {
			s.log.Error("audit export lookup failed", "error", err)
		}
		writeAuthError(w, err, "Could not read the audit export")
		return
	}
	writeJSON(w, http.StatusOK, ex)
}
