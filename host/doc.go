// Package host is authhost's plugin manager. It loads the provider plugins
// (WebAssembly, Extism ABI) of a directory, verifies each one's ABI version
// and exports against abi, keeps a pool of sandboxed instances per plugin
// (memory cap, per-call deadline, real clocks and randomness, no
// filesystem or sockets), serves the authhost host functions (per-plugin
// KV under a quota, http_do limited to allow-listed hosts at public
// addresses, log) and exposes each declared capability through an adapter
// that implements the matching auth interface. RATIONALE.md explains the
// egress guard and the KV accounting. From abi 1.2 on the adapters offer
// only the optional exports describe lists in implements, read the session
// id where describe's session_transport says, and keep validated sessions
// for as long as the provider vouches (auth/sessioncache, capped by
// PluginConfig.SessionCacheSeconds) and RBAC answers per user for
// PluginConfig.RoleCacheSeconds (auth/rbaccache); a plugin's
// authhost_configure checks
// its configuration at load (ConfigError names the field).
//
// Any error from a Wasm call (trap, panic, timeout, exit) discards the
// instance; business errors travel as failed envelopes and keep it. A
// plugin that keeps crashing is marked unhealthy and fails closed with
// auth.CodeUnavailable for a growing backoff.
package host
