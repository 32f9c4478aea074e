// Command betterauth is an authhost provider for an existing Better Auth
// deployment (https://better-auth.com), reached over its HTTP API through
// the host's http_do. Better Auth keeps users and sessions; its own session
// cookie (<prefix>.session_token) carries the session, so the provider
// declares manages_sessions and passes Better Auth's Set-Cookie values on.
//
// Capabilities: credentials (email+password sign-in and sign-up, password
// reset), user (current user from the session cookie or a bearer token) and
// session (validate, refresh, destroy, list, cookies). With jwt.enabled,
// Better Auth JWTs (jwt plugin, EdDSA) are verified locally against its
// JWKS, without a network call per request.
//
// Operating notes:
//   - Better Auth checks the Origin of state-changing calls and the URLs it
//     redirects to against its trustedOrigins. The plugin sends `origin`
//     (default: base_url's origin); authhost passes its own
//     <public_url>/reset-password as a password reset's redirectTo, so
//     authhost's public URL must be trusted too, or no reset email is sent
//     (authhost still answers 202 and logs the refusal).
//   - Give the plugin an http_timeout_ms below its timeout_ms (e.g. 3000 and
//     5000): a Better Auth that hangs is then a transport error the plugin
//     answers as unavailable, rather than a call deadline that discards the
//     instance and counts against the plugin's health.
//
// Build it as a Wasm reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugins/betterauth.wasm ./plugins/betterauth
package main

import (
	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk"
)

// version is the provider version reported in authhost_describe.
const version = "0.1.0"

func init() {
	p := provider{}
	pdk.Register(pdk.Provider{
		Name:            "betterauth",
		Version:         version,
		ManagesSessions: true,
		ConfigSchema:    []byte(configSchema),
		Configure:       configs.Configure,
		SessionTransport: func() *abi.SessionTransport {
			cfg, err := loadConfig()
			if err != nil {
				return nil // the host then asks session_id_from_request
			}
			return transport(cfg)
		},
		User:        p,
		Session:     p,
		Credentials: p,
	})
}

// main is never run in a reactor build; the provider registers in init.
func main() {}

// provider implements the user, session and credentials capabilities.
type provider struct{}

var (
	_ pdk.UserProvider        = provider{}
	_ pdk.SessionProvider     = provider{}
	_ pdk.SessionLister       = provider{}
	_ pdk.CredentialsProvider = provider{}
	_ pdk.SignUpEnabler       = provider{}
	_ pdk.PasswordResetter    = provider{}
)
