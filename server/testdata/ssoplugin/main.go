// Command ssoplugin is a small SSO provider, built with the Go PDK, that
// plays an identity provider honestly enough for the server's SSO route
// tests: it remembers each login attempt's state, nonce, PKCE challenge and
// redirect URI, and its callback succeeds only when the host sends back the
// matching state, nonce, redirect URI and a verifier whose S256 hash is the
// challenge. Code "code-<email>" signs in <email>, "idp-down" plays an
// unreachable identity provider, any other code is wrong.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk"
)

// attempt is what the fake identity provider remembers per login.
type attempt struct {
	Challenge   string `json:"challenge"`
	Nonce       string `json:"nonce"`
	RedirectURI string `json:"redirect_uri"`
}

type provider struct{}

func (provider) LoginURL(_ context.Context, req abi.SSOLoginURLRequest) (string, error) {
	if req.CodeChallengeMethod != "S256" || req.CodeChallenge == "" || req.State == "" || req.Nonce == "" || req.RedirectURI == "" {
		return "", pdk.Errorf(abi.CodeInvalidRequest, "state, nonce, redirect_uri and an S256 challenge are required")
	}
	if err := pdk.KV.SetJSON("attempt/"+req.State, attempt{req.CodeChallenge, req.Nonce, req.RedirectURI}, 10*time.Minute); err != nil {
		return "", err
	}
	q := url.Values{"state": {req.State}, "nonce": {req.Nonce}, "redirect_uri": {req.RedirectURI},
		"code_challenge": {req.CodeChallenge}, "code_challenge_method": {req.CodeChallengeMethod}}
	return "https://idp.test/authorize?" + q.Encode(), nil
}

func (provider) Callback(_ context.Context, req abi.SSOCallbackRequest) (*abi.SSOCallbackResult, error) {
	var a attempt
	found, err := pdk.KV.GetJSON("attempt/"+req.State, &a)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, pdk.Errorf(abi.CodeInvalidCredentials, "unknown or used state")
	}
	if err := pdk.KV.Delete("attempt/" + req.State); err != nil { // codes are single use
		return nil, err
	}
	sum := sha256.Sum256([]byte(req.CodeVerifier))
	switch {
	case base64.RawURLEncoding.EncodeToString(sum[:]) != a.Challenge:
		return nil, pdk.Errorf(abi.CodeInvalidCredentials, "pkce verifier does not match the challenge")
	case req.Nonce != a.Nonce:
		return nil, pdk.Errorf(abi.CodeInvalidCredentials, "nonce mismatch")
	case req.RedirectURI != a.RedirectURI:
		return nil, pdk.Errorf(abi.CodeInvalidCredentials, "redirect_uri mismatch")
	}
	if req.Code == "idp-down" {
		return nil, pdk.Errorf(abi.CodeUnavailable, "identity provider unreachable")
	}
	email, ok := strings.CutPrefix(req.Code, "code-")
	if !ok || email == "" {
		return nil, pdk.Errorf(abi.CodeInvalidCredentials, "invalid code")
	}
	return &abi.SSOCallbackResult{
		User:   abi.User{ID: "sso-" + email, Email: email, Name: "SSO User", Roles: []string{"member"}},
		Tokens: abi.Tokens{AccessToken: "access-" + email},
	}, nil
}

func (provider) LogoutURL(_ context.Context, req abi.SSOLogoutURLRequest) (string, error) {
	return "https://idp.test/logout?" + url.Values{"post_logout_redirect_uri": {req.RedirectURI}}.Encode(), nil
}

func init() {
	pdk.Register(pdk.Provider{
		Name:    "testsso",
		Version: "1.0.0",
		Login:   &abi.LoginButton{Provider: "testsso", Text: "Sign in with Test IdP"},
		SSO:     provider{},
	})
}

func main() {}
