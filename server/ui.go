package server

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/authhost/authhost/auth"
)

// The web UI: server-rendered pages over the same shared logic as the JSON
// API (sign-in, sign-up, logout, audit queries), with every asset embedded.
// Core flows are plain HTML forms and links, so they work without
// JavaScript; static/app.js only adds conveniences (audit auto-refresh,
// local times). The CSP stays strict: no inline script or style anywhere.

//go:embed web
var webFiles embed.FS

// pageNames are the page templates under web/, each rendered inside
// web/layout.html.
var pageNames = []string{"login", "signup", "account", "audit", "plugins", "message", "forgot", "reset"}

// uiTemplates holds one parsed template set per page. It is built once and
// only read afterwards.
var uiTemplates = mustParseUI()

func mustParseUI() map[string]*template.Template {
	base := template.Must(template.New("layout.html").Funcs(uiFuncs).ParseFS(webFiles, "web/layout.html"))
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		t := template.Must(template.Must(base.Clone()).ParseFS(webFiles, "web/"+name+".html"))
		out[name] = t
	}
	return out
}

var uiFuncs = template.FuncMap{
	"utc": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"micros": func(us int64) string {
		switch {
		case us <= 0:
			return "–"
		case us < 1000:
			return fmt.Sprintf("%d µs", us)
		default:
			return fmt.Sprintf("%.1f ms", float64(us)/1000)
		}
	},
	"bytes": func(n int64) string {
		switch {
		case n < 1<<10:
			return fmt.Sprintf("%d B", n)
		case n < 1<<20:
			return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
		default:
			return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
		}
	},
	"join": strings.Join,
	"metaString": func(m map[string]any, key string) string {
		v, _ := m[key].(string)
		return v
	},
	"initials": func(u auth.User) string {
		src := strings.TrimSpace(u.Name)
		if src == "" {
			src, _, _ = strings.Cut(u.Email, "@")
		}
		var b strings.Builder
		for _, f := range strings.Fields(src) {
			for _, r := range f {
				b.WriteRune(r)
				break
			}
			if b.Len() >= 2 {
				break
			}
		}
		if b.Len() == 0 {
			return "?"
		}
		return strings.ToUpper(b.String())
	},
	"displayName": func(u auth.User) string {
		switch {
		case u.Name != "":
			return u.Name
		case u.Email != "":
			return u.Email
		}
		return u.ID
	},
	// avatarURL returns a URL the CSP lets the page load (img-src 'self'
	// https: data:), or "" to draw initials instead.
	"avatarURL": func(u auth.User) string {
		a := strings.TrimSpace(u.AvatarURL)
		if strings.HasPrefix(a, "https://") || strings.HasPrefix(a, "data:image/") {
			return a
		}
		return ""
	},
	"meta": func(m map[string]any) string {
		if len(m) == 0 {
			return ""
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s=%v", k, m[k]))
		}
		return truncate(strings.Join(parts, " "), 300)
	},
}

// layout is what every page template sees: the page's own data in Data,
// plus what the shared header needs.
type layout struct {
	Title string
	// Nav is the active navigation entry: account, audit or plugins.
	Nav        string
	User       *auth.User
	CanAudit   bool
	CanPlugins bool
	// LicenseOff is set in production without a license (`license:
	// none`): RBAC, ACL and audit are off, and every page says so.
	LicenseOff bool
	Data       any
}

// uiRoutes registers the web pages on r, which already runs identify and
// csrfGuard: browsers send Origin on form posts, so the same CSRF check as
// the API's protects the forms. The assets are served by handleStatic.
func (s *Server) uiRoutes(r chi.Router) {
	r.Get("/", s.pageRoot)
	r.Get("/login", s.pageLogin)
	r.Post("/login", s.pageLoginPost)
	r.Get("/signup", s.pageSignUp)
	r.Post("/signup", s.pageSignUpPost)
	r.Get("/forgot-password", s.pageForgot)
	r.Post("/forgot-password", s.pageForgotPost)
	r.Get("/reset-password", s.pageReset)
	r.Post("/reset-password", s.pageResetPost)
	r.Post("/logout", s.pageLogoutPost)
	r.Get("/account", s.pageAccount)
	r.Post("/account/sessions/end-all", s.pageEndAllSessions)
	r.Get("/audit", s.pageAudit)
	r.Get("/admin/plugins", s.pagePlugins)
}

// staticFiles serves web/static: the stylesheet, the script and the icon.
var staticFiles = func() http.Handler {
	sub, err := fs.Sub(webFiles, "web/static")
	if err != nil {
		panic(fmt.Errorf("server: ui: %w", err)) // the embed is fixed at build time
	}
	return http.StripPrefix("/static/", http.FileServer(http.FS(sub)))
}()

// handleStatic serves the UI's assets. It is registered outside the
// identify middleware: assets are public and need no session lookup.
func handleStatic(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/") {
		http.NotFound(w, r) // no directory listings
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	staticFiles.ServeHTTP(w, r)
}

func (s *Server) pageRoot(w http.ResponseWriter, r *http.Request) {
	if identityOf(r.Context()).user != nil {
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// newLayout fills the header fields for the request's user.
func (s *Server) newLayout(r *http.Request, title, nav string, data any) layout {
	l := layout{Title: title, Nav: nav, Data: data,
		LicenseOff: s.cfg.License.Mode == auth.ModeProduction && !s.cfg.License.Licensed}
	if u := identityOf(r.Context()).user; u != nil {
		l.User = u
		perms := s.permissionsOf(r.Context(), *u)
		l.CanAudit = s.rbacAllows(perms, auth.PermAuditRead)
		l.CanPlugins = s.rbacAllows(perms, auth.PermPluginsRead)
	}
	return l
}

// rbacAllows is the page-side twin of require's check: RBAC must be in
// force and grant perm.
func (s *Server) rbacAllows(perms []string, perm string) bool {
	return s.cfg.License.Enabled(auth.FeatureRBAC) && auth.HasPermission(perms, perm)
}

// render writes page with status. Templates render into a buffer first,
// so a template error becomes a clean 500 rather than half a page.
func (s *Server) render(w http.ResponseWriter, status int, page string, l layout) {
	var buf bytes.Buffer
	if err := uiTemplates[page].ExecuteTemplate(&buf, "layout.html", l); err != nil {
		s.log.Error("rendering a page failed", "page", page, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// message is the data of the generic message page (errors, notices).
type message struct {
	Heading string
	Text    string
	// Link and LinkText offer one way on.
	Link, LinkText string
	// Secondary is an optional second way on.
	Secondary, SecondaryText string
}

func (s *Server) renderMessage(w http.ResponseWriter, r *http.Request, status int, m message) {
	s.render(w, status, "message", s.newLayout(r, m.Heading, "", m))
}

// pageUser returns the signed-in user of a protected page. A visitor is
// sent to /login?redirect=<this page>; when perm is set and not granted the
// deny is audited and a 403 page shown. ok is false when the response is
// already written.
func (s *Server) pageUser(w http.ResponseWriter, r *http.Request, perm string) (u *auth.User, perms []string, ok bool) {
	id := identityOf(r.Context())
	if id.user == nil {
		if id.err != nil {
			s.renderMessage(w, r, http.StatusServiceUnavailable, message{Heading: "Service unavailable",
				Text: "The identity provider is unavailable. Try again in a moment.", Link: r.URL.RequestURI(), LinkText: "Retry"})
			return nil, nil, false
		}
		http.Redirect(w, r, "/login?"+url.Values{"redirect": {r.URL.RequestURI()}}.Encode(), http.StatusSeeOther)
		return nil, nil, false
	}
	perms = s.permissionsOf(r.Context(), *id.user)
	if perm == "" {
		return id.user, perms, true
	}
	if !s.rbacAllows(perms, perm) {
		reason := "missing permission"
		if !s.cfg.License.Enabled(auth.FeatureRBAC) {
			reason = "rbac requires a license in production"
		}
		s.emitDenied(r, perm, reason)
		s.renderMessage(w, r, http.StatusForbidden, message{Heading: "Access denied",
			Text: fmt.Sprintf("This page needs the %q permission, which your account does not have. Ask an administrator for access.", perm),
			Link: "/account", LinkText: "Back to your account"})
		return nil, nil, false
	}
	return id.user, perms, true
}

// maxFormBody bounds every form post.
const maxFormBody = 64 << 10

// parseForm reads a form-encoded body of at most maxFormBody bytes.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		return fmt.Errorf("server: ui: parse form: %w", err)
	}
	return nil
}

// redirectAfterLogin sends the browser on after a successful form post:
// a 303 to a same-origin path, or, for another allowed origin, a page with
// a link (the CSP's form-action 'self' forbids a form post from ending on
// another origin through a redirect).
func (s *Server) redirectAfterLogin(w http.ResponseWriter, r *http.Request, target string) {
	if strings.HasPrefix(target, "/") {
		http.Redirect(w, r, target, http.StatusSeeOther)
		return
	}
	s.renderMessage(w, r, http.StatusOK, message{Heading: "Signed in", Text: "You are signed in.", Link: target, LinkText: "Continue"})
}
