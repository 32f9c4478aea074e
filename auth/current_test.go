package auth_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/authhost/authhost/auth"
)

// TestUserFromSession checks the user rebuilt from session metadata,
// including the user's own metadata a session provider put there.
func TestUserFromSession(t *testing.T) {
	tests := []struct {
		name string
		md   map[string]any
		want auth.User
	}{
		{"empty", nil, auth.User{ID: "u1"}},
		{"snapshot", auth.SnapshotMetadata(auth.User{ID: "u1", Email: "a@example.com", Name: "A", AvatarURL: "https://img/a", Roles: []string{"admin"}}, "credentials"),
			auth.User{ID: "u1", Email: "a@example.com", Name: "A", AvatarURL: "https://img/a", Roles: []string{"admin"}}},
		{"roles decoded from JSON", map[string]any{auth.MetaRoles: []any{"viewer", 3}}, auth.User{ID: "u1", Roles: []string{"viewer"}}},
		{"user metadata", map[string]any{auth.MetaEmail: "a@example.com", auth.MetaUserMetadata: map[string]any{"emailVerified": true, "createdAt": "2026-01-02T03:04:05Z"}},
			auth.User{ID: "u1", Email: "a@example.com", Metadata: map[string]any{"emailVerified": true, "createdAt": "2026-01-02T03:04:05Z"}}},
		{"user metadata of the wrong type", map[string]any{auth.MetaUserMetadata: "nope"}, auth.User{ID: "u1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &auth.Session{ID: "s1", UserID: "u1", Metadata: tt.md}
			got := auth.UserFromSession(s)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("UserFromSession = %+v, want %+v", got, tt.want)
			}
			if got.Metadata != nil {
				got.Metadata["x"] = 1
				if _, leaked := tt.md[auth.MetaUserMetadata].(map[string]any)["x"]; leaked {
					t.Fatal("the user's metadata aliases the session's")
				}
			}
		})
	}
}

func TestSlidingTTL(t *testing.T) {
	const def = 7 * 24 * time.Hour
	for _, tc := range []struct {
		name string
		meta any
		want time.Duration
	}{
		{"provider's, from JSON", float64(86400), 24 * time.Hour},
		{"provider's, as int", 3600, time.Hour},
		{"absent", nil, def},
		{"zero", float64(0), def},
		{"negative", float64(-5), def},
		{"not a number", "86400", def},
	} {
		s := &auth.Session{Metadata: map[string]any{}}
		if tc.meta != nil {
			s.Metadata[auth.MetaSlidingTTL] = tc.meta
		}
		if got := auth.SlidingTTL(s, def); got != tc.want {
			t.Errorf("%s: SlidingTTL = %v, want %v", tc.name, got, tc.want)
		}
	}
}
