package main

import (
	"strings"
	"time"

	"github.com/authhost/authhost/abi"
)

// sourceName is how sessions and users of this provider say where they
// came from.
const sourceName = "better-auth"

// baUser is Better Auth's user object.
type baUser struct {
	ID            string    `json:"id"`
	Email         string    `json:"email"`
	Name          string    `json:"name"`
	Image         *string   `json:"image"`
	EmailVerified bool      `json:"emailVerified"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
	Role          string    `json:"role"` // admin plugin, comma-separated
}

// baSession is Better Auth's session object.
type baSession struct {
	ID        string    `json:"id"`
	Token     string    `json:"token"`
	UserID    string    `json:"userId"`
	ExpiresAt time.Time `json:"expiresAt"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	IPAddress string    `json:"ipAddress"`
	UserAgent string    `json:"userAgent"`
}

// getSessionResult is the body of GET /get-session (null when there is no
// session).
type getSessionResult struct {
	Session baSession `json:"session"`
	User    baUser    `json:"user"`
}

// authResult is the body of sign-in and sign-up.
type authResult struct {
	Token *string `json:"token"`
	User  baUser  `json:"user"`
}

// toABI maps a Better Auth user to our user shape: image is the avatar,
// verification and timestamps go to metadata.
func (u baUser) toABI() *abi.User {
	out := &abi.User{ID: u.ID, Email: u.Email, Name: u.Name, Metadata: map[string]any{
		"emailVerified": u.EmailVerified,
		"source":        sourceName,
	}}
	if u.Image != nil {
		out.AvatarURL = *u.Image
	}
	if !u.CreatedAt.IsZero() {
		out.Metadata["createdAt"] = u.CreatedAt.UTC().Format(time.RFC3339Nano)
	}
	if !u.UpdatedAt.IsZero() {
		out.Metadata["updatedAt"] = u.UpdatedAt.UTC().Format(time.RFC3339Nano)
	}
	for _, r := range strings.Split(u.Role, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out.Roles = append(out.Roles, r)
		}
	}
	return out
}

// sessionFor builds our session (id = the token the caller holds) carrying
// a snapshot of the user.
func sessionFor(id string, s baSession, u *abi.User) *abi.Session {
	md := snapshot(u)
	if s.ID != "" {
		md["betterAuthSessionId"] = s.ID
	}
	if s.IPAddress != "" {
		md["ipAddress"] = s.IPAddress
	}
	if s.UserAgent != "" {
		md["userAgent"] = s.UserAgent
	}
	userID := s.UserID
	if userID == "" && u != nil {
		userID = u.ID
	}
	return &abi.Session{ID: id, UserID: userID, ExpiresAt: s.ExpiresAt, CreatedAt: s.CreatedAt, Metadata: md}
}

// snapshot is the session metadata describing u (abi.SessionSnapshot),
// with emailVerified also at the top level.
func snapshot(u *abi.User) map[string]any {
	if u == nil {
		return map[string]any{abi.SessionMetaSource: sourceName}
	}
	md := abi.SessionSnapshot(*u, sourceName)
	if v, ok := u.Metadata["emailVerified"]; ok {
		md["emailVerified"] = v
	}
	return md
}

// verified reports whether u's email is verified (per its metadata).
func verified(u *abi.User) bool {
	v, _ := u.Metadata["emailVerified"].(bool)
	return v
}
