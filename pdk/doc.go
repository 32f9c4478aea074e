// Package pdk is the Go plugin development kit for authhost providers.
//
// A provider is a Go `package main` built as a WebAssembly reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugins/my.wasm ./my-provider
//
// authhost's own builds add GOEXPERIMENT=jsonv2 (a cheaper encoding/json
// inside the sandbox) and -trimpath; neither is required (see
// docs/writing-a-provider.md). With GOEXPERIMENT=jsonv2 the PDK also
// decodes inputs and host answers with encoding/json/v2 directly
// (pdk/wire): v1's semantics, but errors reported at the first one.
//
// With -buildmode=c-shared the Go runtime runs package init functions (in
// the module's _initialize) but never main, so a provider registers itself
// in init and keeps an empty main:
//
//	func init() {
//		pdk.Register(pdk.Provider{
//			Name:        "static-users",
//			Version:     version,
//			User:        users,
//			Credentials: users,
//		})
//	}
//
//	func main() {}
//
// The PDK owns every export of ABI v1 (authhost_describe, user_current,
// credentials_sign_in, …; see abi/SPEC.md). It derives the capabilities in
// authhost_describe from the Provider fields that are set, and its
// implements list (abi 1.2) from the optional interfaces the capability
// values implement (type assertions), so the host calls only what the
// provider offers; it decodes each input, calls the matching interface
// method, and encodes the result as an envelope. Exports of capabilities
// that are not registered, and optional exports whose interface is not
// implemented, answer a not_supported envelope. Provider.Configure,
// SessionTransport and Demo fill the rest of abi 1.2: configuration checked
// at load (ConfigCache.Configure does it for a ConfigCache), where the
// session id travels, and demo accounts. Malformed input answers invalid_request; a panic inside a
// handler is recovered into an internal envelope (the instance survives).
//
// Errors returned by handlers carry their ABI code when they wrap an
// *abi.Error (build them with Errorf or WithCode); any other error becomes
// code internal.
//
// Host services: Config decodes the operator's configuration, KV is the
// plugin's key-value store, Log writes structured logs, and Transport /
// HTTPClient give an http.RoundTripper over the host's http_do function
// (the only way out of the sandbox).
//
// Every dispatch path compiles natively, so provider logic is unit-tested
// with `go test` and package pdktest, which installs in-memory stand-ins for
// the host functions. Provider.Call is the whole export surface as a pure
// function: export name and input bytes in, output bytes out.
//
// Building blocks for what most providers need: package jose verifies JWTs
// against a JWKS cached in KV (algorithm allow-list, no none or HMAC,
// issuer, audience, expiry, nonce; the signature natively through the
// host's jws_verify, SPEC §6.8, or in the guest when a host lacks it), and
// package kvsession keeps sessions in
// KV with a per-user index, revocation and refresh-token rotation that is
// safe under concurrent requests.
//
// The PDK is a Go module of its own (github.com/authhost/authhost/pdk,
// requiring only the ABI module and the Extism Go PDK), so a provider's
// go.mod pulls none of the server's dependencies.
package pdk
