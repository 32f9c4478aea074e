package workos

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// codeTTL is how long an authorization code stays valid.
const codeTTL = 10 * time.Minute

// authorizeParams are the query parameters of GET /user_management/authorize
// that the login form carries over.
var authorizeParams = []string{"client_id", "redirect_uri", "response_type", "provider", "connection_id",
	"organization_id", "state", "code_challenge", "code_challenge_method", "login_hint", "domain_hint", "screen_hint"}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>WorkOS emulator — sign in</title></head>
<body>
<h1>Sign in (WorkOS emulator)</h1>
<form method="post" action="/user_management/authorize/login">
{{range $k, $v := .Hidden}}<input type="hidden" name="{{$k}}" value="{{$v}}">
{{end}}<label>Email <input type="email" name="email" value="{{.LoginHint}}" list="users" required></label>
<datalist id="users">{{range .Users}}<option value="{{.Email}}">{{end}}</datalist>
<button type="submit">Continue</button>
</form>
</body></html>
`))

// knownProviders are the provider values GetAuthorizationURL documents.
var knownProviders = map[string]bool{"authkit": true, "GoogleOAuth": true, "MicrosoftOAuth": true, "GitHubOAuth": true, "AppleOAuth": true}

// checkAuthorize validates authorize parameters; it returns a message for
// an invalid request.
func (e *Emulator) checkAuthorize(v url.Values) string {
	switch {
	case v.Get("client_id") != e.ClientID:
		return "Invalid client ID."
	case v.Get("response_type") != "code":
		return "response_type must be 'code'."
	case v.Get("redirect_uri") == "":
		return "redirect_uri is required."
	case v.Get("provider") == "" && v.Get("connection_id") == "" && v.Get("organization_id") == "":
		return "One of provider, connection_id or organization_id is required."
	case v.Get("code_challenge") != "" && v.Get("code_challenge_method") != "S256":
		return "code_challenge_method must be S256."
	case v.Get("provider") != "" && !knownProviders[v.Get("provider")]:
		return "Invalid provider."
	case v.Get("screen_hint") != "" && v.Get("provider") != "authkit":
		return "screen_hint is only supported with provider=authkit."
	}
	if id := v.Get("connection_id"); id != "" {
		e.mu.Lock()
		_, ok := e.connections[id]
		e.mu.Unlock()
		if !ok {
			return "Invalid connection ID."
		}
	}
	if u, err := url.Parse(v.Get("redirect_uri")); err != nil || u.Scheme == "" || u.Host == "" {
		return "redirect_uri is not a valid URL."
	}
	return ""
}

// handleAuthorize serves the hosted login page.
func (e *Emulator) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if msg := e.checkAuthorize(q); msg != "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", msg)
		return
	}
	hidden := map[string]string{}
	for _, k := range authorizeParams {
		if v := q.Get(k); v != "" {
			hidden[k] = v
		}
	}
	e.mu.Lock()
	var users []User
	for _, id := range e.userOrder {
		users = append(users, *e.users[id])
	}
	e.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = loginPage.Execute(w, map[string]any{"Hidden": hidden, "Users": users, "LoginHint": q.Get("login_hint")})
}

// handleLogin takes the login form and redirects with a code.
func (e *Emulator) handleLogin(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "malformed form")
		return
	}
	f := r.PostForm
	if msg := e.checkAuthorize(f); msg != "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", msg)
		return
	}
	email := strings.TrimSpace(f.Get("email"))
	e.mu.Lock()
	var user *User
	for _, id := range e.userOrder {
		if strings.EqualFold(e.users[id].Email, email) {
			user = e.users[id]
		}
	}
	if user == nil {
		e.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, "<!doctype html><p>No user with email %s.</p>", template.HTMLEscapeString(email))
		return
	}
	orgID := f.Get("organization_id")
	if c, ok := e.connections[f.Get("connection_id")]; ok {
		orgID = c.OrganizationID
	}
	if orgID == "" {
		for _, m := range e.memberships {
			if m.UserID == user.ID && m.Status == "active" {
				orgID = m.OrganizationID
				break
			}
		}
	}
	code := "01" + randomID(12)
	e.codes[code] = &authCode{
		userID: user.ID, orgID: orgID, clientID: f.Get("client_id"), redirectURI: f.Get("redirect_uri"),
		challenge: f.Get("code_challenge"), method: f.Get("code_challenge_method"), expires: time.Now().Add(codeTTL),
	}
	e.mu.Unlock()
	target, _ := url.Parse(f.Get("redirect_uri"))
	qq := target.Query()
	qq.Set("code", code)
	if s := f.Get("state"); s != "" {
		qq.Set("state", s)
	}
	target.RawQuery = qq.Encode()
	http.Redirect(w, r, target.String(), http.StatusFound)
}

// authenticateRequest is the JSON body the SDK's Authenticate* calls send.
type authenticateRequest struct {
	ClientID       string `json:"client_id"`
	ClientSecret   string `json:"client_secret"`
	GrantType      string `json:"grant_type"`
	Code           string `json:"code"`
	CodeVerifier   string `json:"code_verifier"`
	RefreshToken   string `json:"refresh_token"`
	OrganizationID string `json:"organization_id"`
	IPAddress      string `json:"ip_address"`
	UserAgent      string `json:"user_agent"`
}

func (e *Emulator) handleAuthenticate(w http.ResponseWriter, r *http.Request) {
	var req authenticateRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Malformed JSON body.")
		return
	}
	if req.ClientID != e.ClientID {
		writeOAuthError(w, http.StatusBadRequest, "invalid_client", "Invalid client ID.")
		return
	}
	if req.ClientSecret != e.APIKey {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "Invalid client secret.")
		return
	}
	switch req.GrantType {
	case "authorization_code":
		e.authenticateCode(w, req)
	case "refresh_token":
		e.authenticateRefresh(w, req)
	default:
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("Unsupported grant type %q.", req.GrantType))
	}
}

func (e *Emulator) authenticateCode(w http.ResponseWriter, req authenticateRequest) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.codes[req.Code]
	delete(e.codes, req.Code) // single use, even when the exchange fails
	if !ok || time.Now().After(c.expires) {
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", fmt.Sprintf("The code '%s' has expired or is invalid.", req.Code))
		return
	}
	if c.challenge != "" {
		sum := sha256.Sum256([]byte(req.CodeVerifier))
		if req.CodeVerifier == "" || base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge {
			writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "The code_verifier does not match the code_challenge.")
			return
		}
	} else if req.CodeVerifier != "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "A code_verifier was sent but the authorization request had no code_challenge.")
		return
	}
	u := e.users[c.userID]
	if u == nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "The user no longer exists.")
		return
	}
	u.LastSignInAt = time.Now().UTC().Format(time.RFC3339)
	sid := "session_" + randomID(13)
	e.sessions[sid] = &session{id: sid, userID: u.ID}
	access, err := e.mint(u.ID, sid, c.orgID)
	if err != nil {
		writeStatusError(w, http.StatusInternalServerError, "")
		return
	}
	refresh := randomID(16)
	e.refreshTokens[refresh] = &refreshEntry{sid: sid, orgID: c.orgID}
	resp := map[string]any{
		"user":                  *u,
		"organization_id":       c.orgID,
		"access_token":          access,
		"refresh_token":         refresh,
		"authentication_method": "SSO",
		"impersonator":          nil,
	}
	if c.orgID == "" {
		delete(resp, "organization_id")
	}
	writeJSON(w, http.StatusOK, resp)
}

func (e *Emulator) authenticateRefresh(w http.ResponseWriter, req authenticateRequest) {
	e.mu.Lock()
	defer e.mu.Unlock()
	rt, ok := e.refreshTokens[req.RefreshToken]
	if !ok || rt.used {
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "Refresh token already exchanged or invalid.")
		return
	}
	rt.used = true
	s := e.sessions[rt.sid]
	if s == nil || s.ended {
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "Session has already ended.")
		return
	}
	orgID := rt.orgID
	if req.OrganizationID != "" {
		if !e.isMember(s.userID, req.OrganizationID) {
			writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "The user is not a member of the organization.")
			return
		}
		orgID = req.OrganizationID
	}
	access, err := e.mint(s.userID, s.id, orgID)
	if err != nil {
		writeStatusError(w, http.StatusInternalServerError, "")
		return
	}
	next := randomID(16)
	e.refreshTokens[next] = &refreshEntry{sid: s.id, orgID: orgID}
	writeJSON(w, http.StatusOK, map[string]any{"access_token": access, "refresh_token": next})
}

// mint signs an access token; e.mu must be held.
func (e *Emulator) mint(userID, sid, orgID string) (string, error) {
	now := time.Now()
	claims := map[string]any{
		"iss": e.issuer,
		"sub": userID,
		"sid": sid,
		"jti": "01" + randomID(12),
		"iat": now.Unix(),
		"exp": now.Add(AccessTokenTTL).Unix(),
	}
	if orgID != "" {
		claims["org_id"] = orgID
		for _, m := range e.memberships {
			if m.UserID == userID && m.OrganizationID == orgID && m.Status == "active" {
				claims["role"] = m.Role.Slug
				claims["roles"] = []string{m.Role.Slug}
				perms := []string{}
				for _, r := range e.orgRoles[orgID] {
					if r.Slug == m.Role.Slug {
						perms = append(perms, r.Permissions...)
					}
				}
				claims["permissions"] = perms
				break
			}
		}
	}
	return e.signJWT(claims)
}

// SignJWT signs arbitrary claims with the emulator's key (RS256, with the
// JWKS kid), for tests that need forged, expired or odd tokens.
func (e *Emulator) SignJWT(claims map[string]any) (string, error) { return e.signJWT(claims) }

func (e *Emulator) signJWT(claims map[string]any) (string, error) {
	h, err := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": e.kid})
	if err != nil {
		return "", fmt.Errorf("encode jwt header: %w", err)
	}
	p, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encode jwt claims: %w", err)
	}
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, e.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign jwt: %w", err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

func (e *Emulator) handleJWKS(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("client_id") != e.ClientID {
		writeStatusError(w, http.StatusNotFound, "")
		return
	}
	pub := e.key.PublicKey
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]any{{
		"alg": "RS256", "kty": "RSA", "use": "sig", "kid": e.kid,
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

func (e *Emulator) handleLogout(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	e.mu.Lock()
	s, ok := e.sessions[q.Get("session_id")]
	if ok {
		s.ended = true
	}
	e.mu.Unlock()
	if !ok {
		writeStatusError(w, http.StatusNotFound, "Session not found.")
		return
	}
	if rt := q.Get("return_to"); rt != "" {
		http.Redirect(w, r, rt, http.StatusFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, "<!doctype html><p>Signed out.</p>")
}

func (e *Emulator) handleRevoke(w http.ResponseWriter, r *http.Request) {
	var body struct {
		SessionID string `json:"session_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.SessionID == "" {
		writeStatusError(w, http.StatusUnprocessableEntity, "session_id is required.")
		return
	}
	e.mu.Lock()
	s, ok := e.sessions[body.SessionID]
	if ok {
		s.ended = true
	}
	e.mu.Unlock()
	if !ok {
		writeStatusError(w, http.StatusNotFound, "Session not found.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{})
}

func (e *Emulator) handleAuditEvent(w http.ResponseWriter, r *http.Request) {
	var raw json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
		writeStatusError(w, http.StatusBadRequest, "Malformed JSON body.")
		return
	}
	var body struct {
		OrganizationID string         `json:"organization_id"`
		Event          map[string]any `json:"event"`
	}
	_ = json.Unmarshal(raw, &body)
	var missing []map[string]string
	need := func(ok bool, field string) {
		if !ok {
			missing = append(missing, map[string]string{"code": "required", "field": field})
		}
	}
	need(body.OrganizationID != "", "organization_id")
	need(body.Event != nil, "event")
	if body.Event != nil {
		str := func(m map[string]any, k string) bool { s, _ := m[k].(string); return s != "" }
		need(str(body.Event, "action"), "event.action")
		need(str(body.Event, "occurred_at"), "event.occurred_at")
		actor, _ := body.Event["actor"].(map[string]any)
		need(actor != nil && str(actor, "id") && str(actor, "type"), "event.actor")
		targets, _ := body.Event["targets"].([]any)
		need(targets != nil, "event.targets")
		ctx, _ := body.Event["context"].(map[string]any)
		need(ctx != nil && str(ctx, "location"), "event.context.location")
	}
	if len(missing) > 0 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation failed.", "code": "invalid_audit_log", "errors": missing})
		return
	}
	key := r.Header.Get("Idempotency-Key")
	e.mu.Lock()
	if key == "" || !e.auditKeys[key] {
		if key != "" {
			e.auditKeys[key] = true
		}
		e.audit = append(e.audit, AuditEvent{IdempotencyKey: key, OrganizationID: body.OrganizationID, Event: body.Event, Raw: raw})
	}
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
}

// auditExport is an export with its timestamps; pinned keeps a state set
// by SetExportState.
type auditExport struct {
	AuditExport
	createdAt, updatedAt string
	pinned               bool
}

// json is the SDK's auditlogs.AuditLogExport shape; the URL only when
// ready.
func (x *auditExport) json(base string) map[string]any {
	m := map[string]any{"object": "audit_log_export", "id": x.ID, "state": x.State,
		"created_at": x.createdAt, "updated_at": x.updatedAt}
	if x.State == "Ready" {
		m["url"] = base + "/audit_logs/exports/" + x.ID + "/download"
	}
	return m
}

func (e *Emulator) handleCreateExport(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeStatusError(w, http.StatusBadRequest, "Could not read the body.")
		return
	}
	// The keys of the SDK's auditlogs.CreateExportOpts.
	var body struct {
		OrganizationID string   `json:"organization_id"`
		RangeStart     string   `json:"range_start"`
		RangeEnd       string   `json:"range_end"`
		Actions        []string `json:"actions"`
		Actors         []string `json:"actors"`
		ActorNames     []string `json:"actor_names"`
		ActorIDs       []string `json:"actor_ids"`
		Targets        []string `json:"targets"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		writeStatusError(w, http.StatusBadRequest, "Malformed JSON body.")
		return
	}
	var problems []map[string]string
	check := func(field, v string) {
		switch {
		case v == "":
			problems = append(problems, map[string]string{"code": "required", "field": field})
		case field != "organization_id":
			if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
				problems = append(problems, map[string]string{"code": "invalid_date", "field": field})
			}
		}
	}
	check("organization_id", body.OrganizationID)
	check("range_start", body.RangeStart)
	check("range_end", body.RangeEnd)
	if len(problems) == 0 {
		start, _ := time.Parse(time.RFC3339Nano, body.RangeStart)
		end, _ := time.Parse(time.RFC3339Nano, body.RangeEnd)
		if end.Before(start) {
			problems = append(problems, map[string]string{"code": "invalid_range", "field": "range_end"})
		}
	}
	if len(problems) > 0 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation failed.", "code": "invalid_request_parameters", "errors": problems})
		return
	}
	e.mu.Lock()
	now := e.stamp()
	ex := &auditExport{AuditExport: AuditExport{ID: "audit_log_export_" + randomID(13), OrganizationID: body.OrganizationID,
		RangeStart: body.RangeStart, RangeEnd: body.RangeEnd, Actions: body.Actions, Actors: body.Actors,
		ActorNames: body.ActorNames, ActorIDs: body.ActorIDs, Targets: body.Targets, State: "Pending", Raw: raw},
		createdAt: now, updatedAt: now}
	e.exports[ex.ID] = ex
	e.exportOrder = append(e.exportOrder, ex.ID)
	out := ex.json(e.URL)
	e.mu.Unlock()
	writeJSON(w, http.StatusCreated, out)
}

// handleGetExport answers an export; a pending one becomes ready on its
// first read, so a client's polling is exercised.
func (e *Emulator) handleGetExport(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	ex, ok := e.exports[r.PathValue("id")]
	var out map[string]any
	if ok {
		if ex.State == "Pending" && !ex.pinned {
			ex.State, ex.updatedAt = "Ready", e.stamp()
		}
		out = ex.json(e.URL)
	}
	e.mu.Unlock()
	if !ok {
		writeStatusError(w, http.StatusNotFound, "Audit Log Export not found: '"+r.PathValue("id")+"'.")
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// WebhookSignature returns the WorkOS-Signature header value for body,
// signed with secret at time at: "t=<unix ms>, v1=<hex HMAC-SHA256>".
func WebhookSignature(secret string, body []byte, at time.Time) string {
	ts := strconv.FormatInt(at.UnixMilli(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + string(body)))
	return "t=" + ts + ", v1=" + hex.EncodeToString(mac.Sum(nil))
}

// WebhookEvent builds the body of a WorkOS webhook event.
func WebhookEvent(event string, data map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{
		"id": "event_" + randomID(13), "event": event, "data": data,
		"created_at": time.Now().UTC().Format(time.RFC3339),
	})
	return b
}

// SendWebhook POSTs a signed webhook event to url, as WorkOS delivers it,
// and returns the response status.
func (e *Emulator) SendWebhook(url, secret string, body []byte) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
	if err != nil {
		return 0, fmt.Errorf("build webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("WorkOS-Signature", WebhookSignature(secret, body, time.Now()))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("deliver webhook: %w", err)
	}
	res.Body.Close()
	return res.StatusCode, nil
}
