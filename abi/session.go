package abi

import (
	"maps"
	"slices"
)

// Session metadata keys the host reads to build the signed-in user from a
// validated session alone (SPEC §Session), with no user_current call.
const (
	SessionMetaEmail     = "email"
	SessionMetaName      = "name"
	SessionMetaAvatarURL = "avatarUrl"
	SessionMetaRoles     = "roles"
	SessionMetaSource    = "source"
	// SessionMetaUserMetadata holds User.Metadata as an object.
	SessionMetaUserMetadata = "userMetadata"
	// SessionMetaSlidingTTL is the session's sliding lifetime in seconds:
	// the host refreshes it once less than half is left.
	SessionMetaSlidingTTL = "slidingTtlSeconds"
)

// SessionSnapshot returns session metadata describing u (its profile,
// roles and own metadata) and where the sign-in came from, in the keys
// above. Providers add their own keys to the returned map.
func SessionSnapshot(u User, source string) map[string]any {
	md := map[string]any{SessionMetaSource: source}
	if u.Email != "" {
		md[SessionMetaEmail] = u.Email
	}
	if u.Name != "" {
		md[SessionMetaName] = u.Name
	}
	if u.AvatarURL != "" {
		md[SessionMetaAvatarURL] = u.AvatarURL
	}
	if len(u.Roles) > 0 {
		md[SessionMetaRoles] = slices.Clone(u.Roles)
	}
	if len(u.Metadata) > 0 {
		md[SessionMetaUserMetadata] = maps.Clone(u.Metadata)
	}
	return md
}
