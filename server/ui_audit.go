package server

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/authhost/authhost/auth"
)

// auditPerPage is the audit page's page size.
const auditPerPage = 25

// auditFilterKeys are the query parameters the audit page's filter form
// sends (the API's names, so the export links reuse them as they are).
var auditFilterKeys = []string{"actorType", "outcome", "actionPrefix", "q", "startDate", "endDate"}

// auditActionPrefixes are offered as suggestions in the action filter.
var auditActionPrefixes = []string{"auth.", "auth.sign-in", "auth.denied", "audit.", "admin.", "provider.", "webhook."}

// option is one choice of a select element.
type option struct {
	Value, Label string
	Selected     bool
}

func options(selected string, pairs ...string) []option {
	var out []option
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, option{Value: pairs[i], Label: pairs[i+1], Selected: pairs[i] == selected})
	}
	return out
}

// auditPage is the data of /audit.
type auditPage struct {
	// Form holds the submitted filter values, to refill the form.
	Form                 map[string]string
	ActorTypes, Outcomes []option
	Prefixes             []string
	Events               []auth.AuditEvent
	Total                int
	// TotalLabel is Total as shown: digits grouped, "+" when capped
	// ("10,000+").
	TotalLabel string
	// Page is 1-based; From and To number the rows shown (1-based).
	Page, From, To     int
	PrevHref, NextHref string
	// ExportCSV and ExportJSONL are set when the user may export.
	ExportCSV, ExportJSONL string
	// Self is this page's URL (the auto-refresh script fetches it).
	Self  string
	Error string
}

func (s *Server) pageAudit(w http.ResponseWriter, r *http.Request) {
	_, perms, ok := s.pageUser(w, r, auth.PermAuditRead)
	if !ok {
		return
	}
	q := r.URL.Query()
	p := auditPage{Form: map[string]string{}, Prefixes: auditActionPrefixes, Self: r.URL.RequestURI()}
	filters := url.Values{}
	for _, k := range auditFilterKeys {
		if v := q.Get(k); v != "" {
			p.Form[k] = v
			filters.Set(k, v)
		}
	}
	p.ActorTypes = options(p.Form["actorType"], "", "All actors", auth.ActorUser, "User", auth.ActorSystem, "System", auth.ActorAPIKey, "API key")
	p.Outcomes = options(p.Form["outcome"], "", "All outcomes", auth.OutcomeSuccess, "Success", auth.OutcomeFailure, "Failure", auth.OutcomeDenied, "Denied")
	status, problem := s.fillAudit(r, &p, filters, q)
	p.Error = problem
	if p.Error == "" && s.rbacAllows(perms, auth.PermAuditExport) {
		p.ExportCSV = s.cfg.APIPrefix + "/audit/export?" + withParam(filters, "format", "csv")
		p.ExportJSONL = s.cfg.APIPrefix + "/audit/export?" + withParam(filters, "format", "jsonl")
	}
	s.render(w, status, "audit", s.newLayout(r, "Audit log", "audit", p))
}

// fillAudit runs the page's query through the API's own filter parsing and
// the audit store. problem is a sentence for the page when it failed.
func (s *Server) fillAudit(r *http.Request, p *auditPage, filters, q url.Values) (status int, problem string) {
	st := s.composed(r.Context()).AuditStore
	if st == nil || !s.cfg.License.Enabled(auth.FeatureAudit) {
		return http.StatusServiceUnavailable, "Audit storage is not configured on this server."
	}
	f, err := auditFilterFrom(filters)
	if err != nil {
		return http.StatusBadRequest, "Invalid filter: " + err.Error()
	}
	page, err := intParam(q, "page", 1, 1, 1<<20)
	if err != nil {
		return http.StatusBadRequest, "Invalid page: " + err.Error()
	}
	offset := (page - 1) * auditPerPage
	res, err := st.Query(r.Context(), f, auth.AuditPage{Offset: offset, Limit: auditPerPage})
	if err != nil {
		s.log.Error("audit page: query failed", "error", err)
		return http.StatusInternalServerError, "The audit log could not be read; try again."
	}
	p.Events, p.Total, p.Page = res.Events, res.Total, page
	p.TotalLabel = totalLabel(res.Total, res.TotalCapped)
	if len(p.Events) > 0 {
		p.From, p.To = offset+1, offset+len(p.Events)
	}
	if page > 1 {
		p.PrevHref = "/audit?" + withParam(filters, "page", strconv.Itoa(page-1))
	}
	if res.NextCursor != "" || offset+len(p.Events) < res.Total {
		p.NextHref = "/audit?" + withParam(filters, "page", strconv.Itoa(page+1))
	}
	return http.StatusOK, ""
}

// totalLabel shows n with its thousands grouped by commas and, when the
// count stopped at its cap, a "+".
func totalLabel(n int, capped bool) string {
	digits := strconv.Itoa(n)
	var b strings.Builder
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	if capped {
		b.WriteByte('+')
	}
	return b.String()
}

// withParam encodes v plus key=value, leaving v alone.
func withParam(v url.Values, key, value string) string {
	out := url.Values{}
	for k, vs := range v {
		out[k] = vs
	}
	out.Set(key, value)
	return out.Encode()
}
