// Package oidc starts a real OpenID Connect provider for tests: the example
// OP of github.com/zitadel/oidc/v3 (its exampleop router and in-memory
// storage, used as a library), listening on 127.0.0.1 on a free port inside
// the test process.
//
// Start returns one provider shared by the whole test process (started once);
// New starts a private one the test owns, for tests that stop the issuer or
// change its behaviour in ways other tests must not see. Both register a
// confidential client (client_secret_basic or _post) and a public client
// (PKCE only), a test user with known credentials, and offer helpers to
// drive the login form without a browser (Login), rotate the signing key
// (RotateKey, RotateKeyEdDSA), add claims (SetUserClaims), issue already
// expired ID tokens (SetIDTokenLifetime) or short-lived access tokens
// (SetAccessTokenLifetime), tamper with token responses or the discovery
// document on their way out (RewriteTokenResponses, RewriteDiscovery), see which refresh tokens are still valid
// (LiveRefreshTokens) and take the issuer down (Stop).
//
// The provider serves discovery, /auth, /oauth/token, /userinfo, /keys,
// /end_session, /revoke and /oauth/introspect; the login form is
// /login/username (fields id, username, password).
package oidc

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// Credentials and identities of the registered clients and test users.
const (
	// ClientID and ClientSecret identify the confidential (web) client.
	ClientID     = "authhost-web"
	ClientSecret = "authhost-web-secret"
	// PublicClientID identifies the public (native, PKCE-only) client.
	PublicClientID = "authhost-native"

	// TestUser / TestPassword sign in the first test user (UserID).
	TestUser     = "alice@example.com"
	TestPassword = "alice-password"
	UserID       = "user-alice"
	UserEmail    = "alice@example.com"
	UserName     = "Alice Liddell"

	// OtherUser / OtherPassword sign in a second user (OtherUserID).
	OtherUser     = "bob@example.com"
	OtherPassword = "bob-password"
	OtherUserID   = "user-bob"
)

// Provider is a running OpenID provider.
type Provider struct {
	// Issuer is the issuer URL, e.g. http://127.0.0.1:41234 (no trailing slash).
	Issuer string
	// ClientID and ClientSecret are the confidential client's credentials.
	ClientID, ClientSecret string
	// PublicClientID is the public client's id (token endpoint auth "none").
	PublicClientID string

	shared bool
	srv    *http.Server
	store  *peerStorage
}

// quietLogger is the example OP's logger (and so the process default):
// text to stderr without the OP's per-request info lines.
var quietLogger = slog.New(noRequestLog{slog.NewTextHandler(os.Stderr, nil)})

// noRequestLog drops the example OP's "http request" info records.
type noRequestLog struct{ slog.Handler }

func (h noRequestLog) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn && r.Message == "http request" {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h noRequestLog) WithAttrs(as []slog.Attr) slog.Handler {
	return noRequestLog{h.Handler.WithAttrs(as)}
}

func (h noRequestLog) WithGroup(name string) slog.Handler {
	return noRequestLog{h.Handler.WithGroup(name)}
}

var (
	sharedOnce sync.Once
	sharedP    *Provider
	sharedErr  error
)

// Start returns the provider shared by the test process, starting it on the
// first call. Changes a test makes to it (redirect URIs, claims, key
// rotation) are visible to other tests; tests that must not leak changes,
// or that stop the issuer, use New.
func Start(t testing.TB) *Provider {
	t.Helper()
	sharedOnce.Do(func() {
		sharedP, sharedErr = start()
		if sharedP != nil {
			sharedP.shared = true
		}
	})
	if sharedErr != nil {
		t.Fatalf("testenv/oidc: start shared provider: %v", sharedErr)
	}
	return sharedP
}

// New starts a provider owned by t; it is stopped when t ends.
func New(t testing.TB) *Provider {
	t.Helper()
	p, err := start()
	if err != nil {
		t.Fatalf("testenv/oidc: start provider: %v", err)
	}
	t.Cleanup(p.close)
	return p
}

func start() (*Provider, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	issuer := "http://" + ln.Addr().String()
	key, err := newKey(jose.RS256)
	if err != nil {
		ln.Close()
		return nil, err
	}
	ps := &peerStorage{
		// The example storage looks clients up in this map only for device
		// flows; peerStorage answers client lookups itself.
		Storage: storage.NewStorageWithClients(users{}, map[string]*storage.Client{}),
		keys:    []*signingKey{key},
		claims: map[string]map[string]any{
			UserID:      {"roles": []any{"admin", "staff"}, "groups": []any{"eng"}},
			OtherUserID: {"roles": []any{"guest"}},
		},
		clients: map[string]*client{
			ClientID:       {id: ClientID, secret: ClientSecret, appType: op.ApplicationTypeWeb, auth: zoidc.AuthMethodBasic},
			PublicClientID: {id: PublicClientID, appType: op.ApplicationTypeNative, auth: zoidc.AuthMethodNone},
		},
		idTokenLifetime: time.Hour,
		refreshTokens:   map[string][]string{},
		rewrite:         map[string]func(map[string]any){},
	}
	for _, c := range ps.clients {
		c.store = ps
	}
	// Trailing slash: the example OP mounts its routes at the issuer path.
	// The example OP logs every request through the process's default
	// slog logger and replaces that logger with the one it is given; give
	// it one that drops those request lines, so benchmarks and -v output
	// are not drowned in them.
	router := exampleop.SetupServer(issuer+"/", ps, quietLogger, false)
	srv := &http.Server{Handler: ps.rewriting(router), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // returns http.ErrServerClosed on Stop
	p := &Provider{Issuer: issuer, ClientID: ClientID, ClientSecret: ClientSecret, PublicClientID: PublicClientID, srv: srv, store: ps}
	return p, nil
}

// Stop takes the issuer down: the listener closes and later requests fail
// to connect. Only providers from New can be stopped.
func (p *Provider) Stop(t testing.TB) {
	t.Helper()
	if p.shared {
		t.Fatal("testenv/oidc: the shared provider cannot be stopped; use oidc.New for an issuer the test owns")
	}
	p.close()
}

func (p *Provider) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = p.srv.Shutdown(ctx)
}

// RegisterRedirect allows uri as a redirect_uri of both clients.
func (p *Provider) RegisterRedirect(uri string) {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	for _, c := range p.store.clients {
		if !slices.Contains(c.redirects, uri) {
			c.redirects = append(c.redirects, uri)
		}
	}
}

// RegisterPostLogoutRedirect allows uri as a post_logout_redirect_uri of
// both clients.
func (p *Provider) RegisterPostLogoutRedirect(uri string) {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	for _, c := range p.store.clients {
		if !slices.Contains(c.postLogout, uri) {
			c.postLogout = append(c.postLogout, uri)
		}
	}
}

// SetUserClaims replaces the extra claims (e.g. roles) put into the ID
// tokens and userinfo answers of user id. It returns a function restoring
// the previous claims.
func (p *Provider) SetUserClaims(id string, claims map[string]any) (restore func()) {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	old, had := p.store.claims[id]
	p.store.claims[id] = claims
	return func() {
		p.store.mu.Lock()
		defer p.store.mu.Unlock()
		if had {
			p.store.claims[id] = old
		} else {
			delete(p.store.claims, id)
		}
	}
}

// SetIDTokenLifetime sets the lifetime of ID tokens issued from now on (a
// negative value issues already expired tokens). It returns a function
// restoring the previous lifetime.
func (p *Provider) SetIDTokenLifetime(d time.Duration) (restore func()) {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	old := p.store.idTokenLifetime
	p.store.idTokenLifetime = d
	return func() {
		p.store.mu.Lock()
		defer p.store.mu.Unlock()
		p.store.idTokenLifetime = old
	}
}

// SetAccessTokenLifetime sets the lifetime (expires_in) of access tokens
// issued from now on; 0 restores the example OP's 5 minutes. It returns a
// function restoring the previous lifetime.
func (p *Provider) SetAccessTokenLifetime(d time.Duration) (restore func()) {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	old := p.store.accessTokenLifetime
	p.store.accessTokenLifetime = d
	return func() {
		p.store.mu.Lock()
		defer p.store.mu.Unlock()
		p.store.accessTokenLifetime = old
	}
}

// RewriteTokenResponses makes fn edit every successful token endpoint
// answer (the decoded JSON: id_token, access_token, refresh_token …)
// before it leaves the provider, like a proxy in front of the token
// endpoint would; nil stops rewriting. The provider still does all the
// work. It returns a function restoring the previous rewriter.
func (p *Provider) RewriteTokenResponses(fn func(token map[string]any)) (restore func()) {
	return p.rewriteAt(tokenPath, fn)
}

// RewriteDiscovery makes fn edit the discovery document
// (/.well-known/openid-configuration) as served from now on, e.g. to move
// an endpoint to another host name; nil stops rewriting. It returns a
// function restoring the previous rewriter.
func (p *Provider) RewriteDiscovery(fn func(doc map[string]any)) (restore func()) {
	return p.rewriteAt(discoveryPath, fn)
}

// Paths whose JSON answers can be rewritten.
const (
	tokenPath     = "/oauth/token"
	discoveryPath = "/.well-known/openid-configuration"
)

func (p *Provider) rewriteAt(path string, fn func(map[string]any)) (restore func()) {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	old := p.store.rewrite[path]
	p.store.rewrite[path] = fn
	return func() {
		p.store.mu.Lock()
		defer p.store.mu.Unlock()
		p.store.rewrite[path] = old
	}
}

// LiveRefreshTokens returns the refresh tokens issued to user id that the
// provider would still accept (not rotated away, revoked or ended by
// end_session), oldest first.
func (p *Provider) LiveRefreshTokens(id string) []string {
	p.store.mu.Lock()
	issued := slices.Clone(p.store.refreshTokens[id])
	p.store.mu.Unlock()
	var live []string
	for _, tok := range issued {
		if _, err := p.store.Storage.TokenRequestByRefreshToken(context.Background(), tok); err == nil {
			live = append(live, tok)
		}
	}
	return live
}

// Host returns the issuer's host name without the port, as a plugin's
// allowed_hosts lists it.
func (p *Provider) Host() string {
	u, _ := url.Parse(p.Issuer)
	return u.Hostname()
}

// RotateKey makes a new RS256 key the signing key and returns its key id.
// The JWKS keeps publishing the previous key next to it.
func (p *Provider) RotateKey() (string, error) { return p.rotate(jose.RS256) }

// RotateKeyEdDSA makes a new Ed25519 (EdDSA) key the signing key and
// returns its key id.
func (p *Provider) RotateKeyEdDSA() (string, error) { return p.rotate(jose.EdDSA) }

func (p *Provider) rotate(alg jose.SignatureAlgorithm) (string, error) {
	k, err := newKey(alg)
	if err != nil {
		return "", err
	}
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	p.store.keys = []*signingKey{k, p.store.keys[0]}
	return k.id, nil
}

// KeyID returns the id of the current signing key.
func (p *Provider) KeyID() string {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	return p.store.keys[0].id
}

var (
	formIDRe     = regexp.MustCompile(`name="id"\s+value="([^"]*)"`)
	formActionRe = regexp.MustCompile(`<form[^>]*action="([^"]*)"`)
)

// ErrLoginRejected is returned by Login when the provider re-renders the
// login form (wrong user name or password).
var ErrLoginRejected = errors.New("testenv/oidc: login rejected")

// Login drives the provider's login like a browser without JavaScript:
// starting at loginURL (an authorization URL, or any URL that redirects to
// one), it follows redirects on the issuer, fills in and posts the login
// form with user and pass, and returns the first redirect that leaves the
// issuer (the client's redirect_uri with code and state). hc may be nil;
// its redirect policy and cookie jar are used only for requests it makes
// off the issuer (the first one, when loginURL is not on the issuer).
func (p *Provider) Login(hc *http.Client, loginURL, user, pass string) (*url.URL, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	issuer, err := url.Parse(p.Issuer)
	if err != nil {
		return nil, fmt.Errorf("testenv/oidc: issuer: %w", err)
	}
	onIssuer := func(u *url.URL) bool { return u.Scheme == issuer.Scheme && u.Host == issuer.Host }

	next, err := url.Parse(loginURL)
	if err != nil {
		return nil, fmt.Errorf("testenv/oidc: login url: %w", err)
	}
	posted := false
	for range 20 {
		var resp *http.Response
		if !posted && next.Path == "/login/username" && onIssuer(next) {
			// The login page: fetch it, then post the form.
			page, err := get(&c, next.String())
			if err != nil {
				return nil, err
			}
			body, _ := io.ReadAll(page.Body)
			page.Body.Close()
			m := formIDRe.FindSubmatch(body)
			a := formActionRe.FindSubmatch(body)
			if m == nil || a == nil {
				return nil, fmt.Errorf("testenv/oidc: no login form at %s (status %d)", next, page.StatusCode)
			}
			action, err := next.Parse(html.UnescapeString(string(a[1])))
			if err != nil {
				return nil, fmt.Errorf("testenv/oidc: form action: %w", err)
			}
			form := url.Values{"id": {html.UnescapeString(string(m[1]))}, "username": {user}, "password": {pass}}
			resp, err = c.PostForm(action.String(), form)
			if err != nil {
				return nil, fmt.Errorf("testenv/oidc: post login form: %w", err)
			}
			posted = true
		} else {
			if resp, err = get(&c, next.String()); err != nil {
				return nil, err
			}
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode < 300 || resp.StatusCode > 399 || loc == "" {
			if posted && resp.StatusCode == http.StatusOK {
				return nil, ErrLoginRejected
			}
			return nil, fmt.Errorf("testenv/oidc: %s answered %d without a redirect", next, resp.StatusCode)
		}
		u, err := next.Parse(loc)
		if err != nil {
			return nil, fmt.Errorf("testenv/oidc: bad redirect %q: %w", loc, err)
		}
		if onIssuer(next) && !onIssuer(u) {
			if e := u.Query().Get("error"); e != "" {
				return u, fmt.Errorf("testenv/oidc: authorization failed: %s: %s", e, u.Query().Get("error_description"))
			}
			return u, nil
		}
		next = u
	}
	return nil, fmt.Errorf("testenv/oidc: too many redirects from %s", loginURL)
}

func get(c *http.Client, u string) (*http.Response, error) {
	resp, err := c.Get(u)
	if err != nil {
		return nil, fmt.Errorf("testenv/oidc: GET %s: %w", u, err)
	}
	return resp, nil
}

// --- storage ---

// peerStorage wraps the example storage with dynamic clients, per-user
// extra claims, configurable token lifetimes, rotating keys, a token
// response rewriter and a record of the refresh tokens it issued.
type peerStorage struct {
	*storage.Storage

	mu                  sync.Mutex
	keys                []*signingKey // keys[0] signs
	claims              map[string]map[string]any
	clients             map[string]*client
	idTokenLifetime     time.Duration
	accessTokenLifetime time.Duration                   // 0: the example storage's
	rewrite             map[string]func(map[string]any) // by path
	refreshTokens       map[string][]string             // user id -> refresh tokens issued
}

// accessExpiry applies the configured access-token lifetime to exp.
func (s *peerStorage) accessExpiry(exp time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.accessTokenLifetime != 0 {
		return time.Now().Add(s.accessTokenLifetime)
	}
	return exp
}

func (s *peerStorage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	id, exp, err := s.Storage.CreateAccessToken(ctx, req)
	return id, s.accessExpiry(exp), err
}

func (s *peerStorage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	id, refresh, exp, err := s.Storage.CreateAccessAndRefreshTokens(ctx, req, current)
	if err != nil {
		return "", "", time.Time{}, err
	}
	s.mu.Lock()
	s.refreshTokens[req.GetSubject()] = append(s.refreshTokens[req.GetSubject()], refresh)
	s.mu.Unlock()
	return id, refresh, s.accessExpiry(exp), nil
}

// rewriting serves h, passing successful JSON answers of a path through
// that path's rewriter when one is set.
func (s *peerStorage) rewriting(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		fn := s.rewrite[r.URL.Path]
		s.mu.Unlock()
		if fn == nil {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		var m map[string]any
		if rec.Code == http.StatusOK && json.Unmarshal(body, &m) == nil {
			fn(m)
			if b, err := json.Marshal(m); err == nil {
				body = b
			}
		}
		for k, v := range rec.Header() {
			if k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(rec.Code)
		_, _ = io.Copy(w, bytes.NewReader(body))
	})
}

var _ exampleop.Storage = (*peerStorage)(nil)

func (s *peerStorage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return nil, fmt.Errorf("client not found")
	}
	return c, nil
}

func (s *peerStorage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok || c.secret == "" || c.secret != secret {
		return fmt.Errorf("invalid client")
	}
	return nil
}

func (s *peerStorage) SigningKey(context.Context) (op.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[0], nil
}

func (s *peerStorage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var algs []jose.SignatureAlgorithm
	for _, k := range s.keys {
		if !slices.Contains(algs, k.alg) {
			algs = append(algs, k.alg)
		}
	}
	return algs, nil
}

func (s *peerStorage) KeySet(context.Context) ([]op.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]op.Key, len(s.keys))
	for i, k := range s.keys {
		keys[i] = publicKey{k}
	}
	return keys, nil
}

func (s *peerStorage) extraClaims(userID string, info *zoidc.UserInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.claims[userID] {
		info.AppendClaims(k, v)
	}
}

func (s *peerStorage) SetUserinfoFromRequest(ctx context.Context, info *zoidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, info, req, scopes); err != nil {
		return err
	}
	s.extraClaims(req.GetSubject(), info)
	return nil
}

func (s *peerStorage) SetUserinfoFromToken(ctx context.Context, info *zoidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, info, tokenID, subject, origin); err != nil {
		return err
	}
	s.extraClaims(info.Subject, info)
	return nil
}

// users is the test user store.
type users struct{}

var userList = []*storage.User{
	{ID: UserID, Username: TestUser, Password: TestPassword, FirstName: "Alice", LastName: "Liddell",
		Email: UserEmail, EmailVerified: true, PreferredLanguage: language.English},
	{ID: OtherUserID, Username: OtherUser, Password: OtherPassword, FirstName: "Bob", LastName: "Builder",
		Email: "bob@example.com", EmailVerified: false, PreferredLanguage: language.English},
}

func (users) GetUserByID(id string) *storage.User {
	for _, u := range userList {
		if u.ID == id {
			c := *u
			return &c
		}
	}
	return nil
}

func (users) GetUserByUsername(name string) *storage.User {
	for _, u := range userList {
		if strings.EqualFold(u.Username, name) {
			c := *u
			return &c
		}
	}
	return nil
}

func (users) ExampleClientID() string { return storage.ServiceUserID }

// client is a registered OAuth client whose redirect URIs can grow.
type client struct {
	store      *peerStorage
	id, secret string
	appType    op.ApplicationType
	auth       zoidc.AuthMethod
	redirects  []string
	postLogout []string
}

var _ op.Client = (*client)(nil)

func (c *client) GetID() string { return c.id }
func (c *client) RedirectURIs() []string {
	c.store.mu.Lock()
	defer c.store.mu.Unlock()
	return slices.Clone(c.redirects)
}
func (c *client) PostLogoutRedirectURIs() []string {
	c.store.mu.Lock()
	defer c.store.mu.Unlock()
	return slices.Clone(c.postLogout)
}
func (c *client) ApplicationType() op.ApplicationType { return c.appType }
func (c *client) AuthMethod() zoidc.AuthMethod        { return c.auth }
func (c *client) ResponseTypes() []zoidc.ResponseType {
	return []zoidc.ResponseType{zoidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []zoidc.GrantType {
	return []zoidc.GrantType{zoidc.GrantTypeCode, zoidc.GrantTypeRefreshToken}
}
func (c *client) LoginURL(id string) string           { return "/login/username?authRequestID=" + id }
func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c *client) IDTokenLifetime() time.Duration {
	c.store.mu.Lock()
	defer c.store.mu.Unlock()
	return c.store.idTokenLifetime
}

// DevMode allows http redirect URIs on 127.0.0.1 for the web client.
func (c *client) DevMode() bool { return true }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) IsScopeAllowed(string) bool           { return false }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c *client) ClockSkew() time.Duration             { return 0 }

// --- keys ---

type signingKey struct {
	id  string
	alg jose.SignatureAlgorithm
	key any // *rsa.PrivateKey or ed25519.PrivateKey
	pub any
}

func newKey(alg jose.SignatureAlgorithm) (*signingKey, error) {
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	k := &signingKey{id: fmt.Sprintf("%s-%x", strings.ToLower(string(alg)), id), alg: alg}
	switch alg {
	case jose.RS256:
		priv, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("testenv/oidc: generate rsa key: %w", err)
		}
		k.key, k.pub = priv, &priv.PublicKey
	case jose.EdDSA:
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("testenv/oidc: generate ed25519 key: %w", err)
		}
		k.key, k.pub = priv, pub
	default:
		return nil, fmt.Errorf("testenv/oidc: unsupported algorithm %s", alg)
	}
	return k, nil
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

type publicKey struct{ k *signingKey }

func (p publicKey) ID() string                         { return p.k.id }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return p.k.alg }
func (p publicKey) Use() string                        { return "sig" }
func (p publicKey) Key() any                           { return p.k.pub }
