package auth

import (
	"context"
	"encoding/json"
)

// LoginConfig is the "login" object of the capabilities response.
type LoginConfig struct {
	Type          string     `json:"type"` // sso, credentials or both
	SignUpEnabled *bool      `json:"signUpEnabled,omitempty"`
	SSO           *SSOButton `json:"sso,omitempty"`
}

// SSOButton is the SSO button with the host's login URL.
type SSOButton struct {
	LoginButton
	URL string `json:"url"`
}

// CapabilityFlags says which capabilities are in force.
type CapabilityFlags struct {
	User        bool `json:"user"`
	Session     bool `json:"session"`
	SSO         bool `json:"sso"`
	Credentials bool `json:"credentials"`
	RBAC        bool `json:"rbac"`
	ACL         bool `json:"acl"`
	Audit       bool `json:"audit"`
}

// Access is what the current user may do.
type Access struct {
	Roles       []string `json:"roles"`
	Permissions []string `json:"permissions"`
}

// CapabilitiesResponse is the body of GET /api/auth/capabilities. User,
// Capabilities and Access are present only when a user is signed in;
// Access is then null when RBAC is off or failed.
type CapabilitiesResponse struct {
	Enabled      bool             `json:"enabled"`
	Login        *LoginConfig     `json:"login"`
	User         *User            `json:"user,omitempty"`
	Capabilities *CapabilityFlags `json:"capabilities,omitempty"`
	Access       *Access          `json:"-"`
	License      *LicenseSummary  `json:"license,omitempty"`
}

// LicenseSummary tells clients which gated features are off and why.
type LicenseSummary struct {
	Mode     Mode     `json:"mode"`
	Licensed bool     `json:"licensed"`
	Disabled []string `json:"disabled,omitempty"`
}

// MarshalJSON renders access as null (not absent) for signed-in users.
func (r CapabilitiesResponse) MarshalJSON() ([]byte, error) {
	type plain CapabilitiesResponse
	if r.User == nil {
		return json.Marshal(plain(r))
	}
	return json.Marshal(struct {
		plain
		Access *Access `json:"access"`
	}{plain(r), r.Access})
}

// PublicCapabilities builds the response for a visitor with no session.
// ssoURL is the host's SSO login route.
func (c *Composed) PublicCapabilities(ctx context.Context, lic LicenseState, ssoURL string) CapabilitiesResponse {
	resp := CapabilitiesResponse{Enabled: c.SSO != nil || c.Credentials != nil}
	if lic.Mode == ModeProduction {
		sum := &LicenseSummary{Mode: lic.Mode, Licensed: lic.Licensed}
		for _, f := range GatedFeatures {
			if !lic.Enabled(f) {
				sum.Disabled = append(sum.Disabled, f)
			}
		}
		resp.License = sum
	}
	if !resp.Enabled {
		return resp
	}
	login := &LoginConfig{}
	switch {
	case c.SSO != nil && c.Credentials != nil:
		login.Type = "both"
	case c.SSO != nil:
		login.Type = "sso"
	default:
		login.Type = "credentials"
	}
	if c.Credentials != nil {
		enabled := c.Credentials.SignUpEnabled(ctx)
		login.SignUpEnabled = &enabled
	}
	if c.SSO != nil {
		login.SSO = &SSOButton{LoginButton: c.SSO.LoginButton(), URL: ssoURL}
		if login.SSO.Text == "" {
			login.SSO.Text = "Sign in with SSO"
		}
	}
	resp.Login = login
	return resp
}

// Flags reports the capabilities in force under lic.
func (c *Composed) Flags(lic LicenseState) CapabilityFlags {
	return CapabilityFlags{
		User:        c.User != nil || c.Session != nil,
		Session:     c.Session != nil,
		SSO:         c.SSO != nil,
		Credentials: c.Credentials != nil,
		RBAC:        c.RBAC != nil && lic.Enabled(FeatureRBAC),
		ACL:         c.ACL != nil && lic.Enabled(FeatureACL),
		Audit:       c.Audit != nil && lic.Enabled(FeatureAudit),
	}
}

// AccessOf returns the user's roles and permissions, or nil when RBAC is off
// or fails (a failure never widens access).
func (c *Composed) AccessOf(ctx context.Context, lic LicenseState, u User) *Access {
	if c.RBAC == nil || !lic.Enabled(FeatureRBAC) {
		return nil
	}
	roles, err := c.RBAC.Roles(ctx, u)
	if err != nil {
		return nil
	}
	perms, err := c.RBAC.Permissions(ctx, u)
	if err != nil {
		return nil
	}
	if roles == nil {
		roles = []string{}
	}
	if perms == nil {
		perms = []string{}
	}
	return &Access{Roles: roles, Permissions: perms}
}

// AuthenticatedCapabilities builds the response for a signed-in user.
func (c *Composed) AuthenticatedCapabilities(ctx context.Context, lic LicenseState, ssoURL string, u User) CapabilitiesResponse {
	resp := c.PublicCapabilities(ctx, lic, ssoURL)
	resp.User = &u
	flags := c.Flags(lic)
	flags.User = true // a user was resolved, so user resolution is in force
	resp.Capabilities = &flags
	resp.Access = c.AccessOf(ctx, lic, u)
	return resp
}
