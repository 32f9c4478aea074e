// Command static-users is an example authhost provider: users, their
// password hashes and roles come from the plugin configuration; users who
// sign up (when allowed) are kept in the plugin's KV store.
//
// Build it as a Wasm reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugins/static-users.wasm ./examples/static-users
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk"
)

// version is the provider version reported in authhost_describe.
const version = "0.1.0"

func init() {
	p := provider{}
	pdk.Register(pdk.Provider{
		Name:         "static-users",
		Version:      version,
		ConfigSchema: []byte(configSchema),
		Configure:    configs.Configure,
		Demo:         demoCredentials,
		User:         p,
		Credentials:  p,
		RBAC:         p,
	})
}

// main is never run in a reactor build; the provider registers in init.
func main() {}

// provider implements the user, credentials and rbac capabilities.
type provider struct{}

var (
	_ pdk.UserProvider        = provider{}
	_ pdk.CredentialsProvider = provider{}
	_ pdk.SignUpEnabler       = provider{}
	_ pdk.RBACProvider        = provider{}
	_ pdk.RoleDefiner         = provider{}
)

// storedUser is a signed-up user as kept in KV.
type storedUser struct {
	ID           string    `json:"id"`
	Email        string    `json:"email"`
	Name         string    `json:"name,omitempty"`
	PasswordHash string    `json:"password_hash"`
	Roles        []string  `json:"roles"`
	CreatedAt    time.Time `json:"created_at"`
}

// KV layout: one record per email, and an id → email index.
func emailKey(email string) string { return "user/email/" + email }
func idKey(id string) string       { return "user/id/" + id }

// account is a user this provider can sign in, from config or KV.
type account struct {
	user abi.User
	hash string
}

func fromConfig(u *userConfig) *account {
	md := map[string]any{}
	for k, v := range u.Metadata {
		md[k] = v
	}
	md["source"] = "config"
	if u.Demo {
		md["demo"] = true
	}
	return &account{hash: u.PasswordHash, user: abi.User{
		ID: u.ID, Email: u.Email, Name: u.Name, AvatarURL: u.AvatarURL,
		Roles: slices.Clone(u.Roles), Metadata: md,
	}}
}

func fromStore(s *storedUser) *account {
	return &account{hash: s.PasswordHash, user: abi.User{
		ID: s.ID, Email: s.Email, Name: s.Name, Roles: slices.Clone(s.Roles),
		Metadata: map[string]any{"source": "sign_up", "created_at": s.CreatedAt.UTC().Format(time.RFC3339)},
	}}
}

// byEmail finds an account; (nil, nil) when there is none.
func byEmail(cfg *config, email string) (*account, error) {
	if u := cfg.byEmail[email]; u != nil {
		return fromConfig(u), nil
	}
	var s storedUser
	ok, err := pdk.KV.GetJSON(emailKey(email), &s)
	if err != nil || !ok {
		return nil, err
	}
	return fromStore(&s), nil
}

// byID finds an account; (nil, nil) when there is none.
func byID(cfg *config, id string) (*account, error) {
	if u := cfg.byID[id]; u != nil {
		return fromConfig(u), nil
	}
	email, ok, err := pdk.KV.Get(idKey(id))
	if err != nil || !ok {
		return nil, err
	}
	return byEmail(cfg, string(email))
}

// CurrentUser returns nil: this provider does not own sessions, so the
// host's session layer resolves the signed-in user with GetUser.
func (provider) CurrentUser(context.Context, abi.Request) (*abi.User, error) { return nil, nil }

// GetUser returns a configured or signed-up user by id.
func (provider) GetUser(_ context.Context, id string) (*abi.User, error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, nil
	}
	a, err := byID(cfg, id)
	if err != nil || a == nil {
		return nil, err
	}
	return &a.user, nil
}

var (
	errBadCredentials = abi.Errorf(abi.CodeInvalidCredentials, "invalid email or password")
	errExists         = abi.Errorf(abi.CodeAlreadyExists, "an account with this email already exists")
)

// SignIn checks the password in constant time. An unknown email still
// verifies a dummy hash of the same cost, so response time does not reveal
// which emails exist.
func (provider) SignIn(_ context.Context, req abi.SignInRequest) (*abi.CredentialsResult, error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, err
	}
	email := normalizeEmail(req.Email)
	var a *account
	if email != "" {
		if a, err = byEmail(cfg, email); err != nil {
			return nil, err
		}
	}
	var hash string
	if a != nil {
		hash = a.hash
	} else if hash, err = cfg.dummyHash(); err != nil {
		return nil, err
	}
	ok, err := verifyPassword(hash, req.Password)
	if err != nil {
		return nil, err
	}
	if a == nil || !ok || len(req.Password) > maxPasswordBytes {
		return nil, errBadCredentials
	}
	return &abi.CredentialsResult{User: a.user}, nil
}

// SignUp creates a user when allow_sign_up is set.
func (provider) SignUp(_ context.Context, req abi.SignUpRequest) (*abi.CredentialsResult, error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, err
	}
	if !cfg.AllowSignUp {
		return nil, abi.Errorf(abi.CodeSignUpDisabled, "sign-up is disabled")
	}
	email := normalizeEmail(req.Email)
	if !validEmail(email) {
		return nil, abi.Errorf(abi.CodeInvalidRequest, "a valid email address is required")
	}
	if n := len([]rune(req.Password)); n < cfg.MinPasswordLength {
		return nil, abi.Errorf(abi.CodeInvalidRequest, "password must be at least %d characters", cfg.MinPasswordLength)
	}
	if len(req.Password) > maxPasswordBytes {
		return nil, abi.Errorf(abi.CodeInvalidRequest, "password must be at most %d bytes", maxPasswordBytes)
	}
	existing, err := byEmail(cfg, email)
	if err != nil {
		return nil, err
	}
	if existing != nil {
		return nil, errExists
	}
	hash, err := hashPassword(req.Password)
	if err != nil {
		return nil, err
	}
	s := storedUser{
		ID: userID(email), Email: email, Name: strings.TrimSpace(req.Name),
		PasswordHash: hash, Roles: []string{cfg.DefaultRole}, CreatedAt: time.Now().UTC(),
	}
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("sign up: encode user: %w", err)
	}
	// Create-only: of concurrent sign-ups of one email (which all passed
	// the lookup above), exactly one creates the record.
	created, err := pdk.KV.Create(emailKey(email), raw, 0)
	if err != nil {
		return nil, err
	}
	if !created {
		return nil, errExists
	}
	if err := pdk.KV.Set(idKey(s.ID), []byte(email), 0); err != nil {
		return nil, err
	}
	pdk.Log.Info("user signed up", "user_id", s.ID)
	return &abi.CredentialsResult{User: fromStore(&s).user}, nil
}

// SignUpEnabled reports allow_sign_up.
func (provider) SignUpEnabled(context.Context) (bool, error) {
	cfg, err := loadConfig()
	if err != nil {
		return false, err
	}
	return cfg.AllowSignUp, nil
}

func validEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && domain != "" && !strings.ContainsAny(s, " <>()[],;:\\\"") && !strings.ContainsFunc(s, unicode.IsControl) &&
		!strings.Contains(domain, "@") && len(s) <= 254
}

// Roles returns the user's roles: those stored for the user when this
// provider knows the id, otherwise the roles the host passed in.
func (provider) Roles(_ context.Context, u abi.User) ([]string, error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, err
	}
	return userRoles(cfg, u)
}

func userRoles(cfg *config, u abi.User) ([]string, error) {
	if u.ID != "" {
		a, err := byID(cfg, u.ID)
		if err != nil {
			return nil, err
		}
		if a != nil {
			return a.user.Roles, nil
		}
	}
	return u.Roles, nil
}

// Permissions resolves the user's roles, following inherits (cycle safe;
// unknown roles contribute nothing), into a sorted, de-duplicated list.
func (provider) Permissions(_ context.Context, u abi.User) ([]string, error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, err
	}
	roles, err := userRoles(cfg, u)
	if err != nil {
		return nil, err
	}
	return abi.ResolvePermissions(roles, cfg.Roles), nil
}

// RoleDefinitions returns the configured (or default) roles.
func (provider) RoleDefinitions(context.Context) ([]abi.RoleDefinition, error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, err
	}
	return slices.Clone(cfg.Roles), nil
}
