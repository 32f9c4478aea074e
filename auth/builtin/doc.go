// Package builtin is the home of authhost's built-in capability defaults,
// each in its own package:
//
//   - session: in-memory, store-backed and stateless cookie sessions
//   - rbac: static roles (auth.DefaultRoles), role mapping, stored assignments
//   - acl: resource grants in the store, FilterAccessible
//   - audit: console logger and a queryable, exportable audit store
//
// All of them keep their state in a store.Store (badger by default) under
// disjoint key prefixes (session/, session-user/, session-revoked/,
// rbac/user/, acl/, acl-sub/, audit/), so they can share one store.
package builtin
