package workos

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// DirectoryGroup is a Directory Sync group in the SDK's wire shape
// (directorysync.Group).
type DirectoryGroup struct {
	ID             string         `json:"id"`
	Object         string         `json:"object"`
	IdpID          string         `json:"idp_id"`
	DirectoryID    string         `json:"directory_id"`
	OrganizationID string         `json:"organization_id"`
	Name           string         `json:"name"`
	CreatedAt      string         `json:"created_at"`
	UpdatedAt      string         `json:"updated_at"`
	RawAttributes  map[string]any `json:"raw_attributes"`
}

// DirectoryEmail is one of a directory user's emails.
type DirectoryEmail struct {
	Primary bool   `json:"primary"`
	Type    string `json:"type"`
	Value   string `json:"value"`
}

// DirectoryUserGroup is the group reference inside a directory user.
type DirectoryUserGroup struct {
	ID     string `json:"id"`
	Object string `json:"object"`
	Name   string `json:"name"`
}

// DirectoryUser is a Directory Sync user in the SDK's wire shape
// (directorysync.User). Groups are filled from the group memberships.
type DirectoryUser struct {
	ID               string               `json:"id"`
	Object           string               `json:"object"`
	IdpID            string               `json:"idp_id"`
	DirectoryID      string               `json:"directory_id"`
	OrganizationID   string               `json:"organization_id"`
	Email            string               `json:"email"`
	Emails           []DirectoryEmail     `json:"emails"`
	Groups           []DirectoryUserGroup `json:"groups"`
	FirstName        string               `json:"first_name"`
	LastName         string               `json:"last_name"`
	State            string               `json:"state"`
	Role             *RoleRef             `json:"role,omitempty"`
	RawAttributes    map[string]any       `json:"raw_attributes"`
	CustomAttributes map[string]any       `json:"custom_attributes"`
	CreatedAt        string               `json:"created_at"`
	UpdatedAt        string               `json:"updated_at"`
}

// directory is the emulator's Directory Sync state; guarded by e.mu.
type directory struct {
	groups     map[string]*DirectoryGroup
	groupOrder []string
	users      map[string]*DirectoryUser
	userOrder  []string
	members    map[string][]string // directory user id -> group ids
}

func newDirectory() directory {
	return directory{groups: map[string]*DirectoryGroup{}, users: map[string]*DirectoryUser{}, members: map[string][]string{}}
}

// AddDirectoryGroup seeds a directory group (an empty ID is generated) and
// returns it.
func (e *Emulator) AddDirectoryGroup(g DirectoryGroup) DirectoryGroup {
	e.mu.Lock()
	defer e.mu.Unlock()
	if g.ID == "" {
		g.ID = "directory_group_" + randomID(13)
	}
	if g.IdpID == "" {
		g.IdpID = "idp-" + g.ID
	}
	g.Object = "directory_group"
	now := e.stamp()
	g.CreatedAt, g.UpdatedAt = now, now
	if g.RawAttributes == nil {
		g.RawAttributes = map[string]any{}
	}
	if _, ok := e.dir.groups[g.ID]; !ok {
		e.dir.groupOrder = append(e.dir.groupOrder, g.ID)
	}
	cp := g
	e.dir.groups[g.ID] = &cp
	return g
}

// AddDirectoryUser seeds a directory user in groupIDs (an empty ID is
// generated; an empty State is "active"; Email, when Emails is empty,
// becomes the primary email) and returns it as the API serves it.
func (e *Emulator) AddDirectoryUser(u DirectoryUser, groupIDs ...string) DirectoryUser {
	e.mu.Lock()
	if u.ID == "" {
		u.ID = "directory_user_" + randomID(13)
	}
	if u.IdpID == "" {
		u.IdpID = "idp-" + u.ID
	}
	u.Object = "directory_user"
	if u.State == "" {
		u.State = "active"
	}
	if len(u.Emails) == 0 && u.Email != "" {
		u.Emails = []DirectoryEmail{{Primary: true, Type: "work", Value: u.Email}}
	}
	now := e.stamp()
	u.CreatedAt, u.UpdatedAt = now, now
	if u.RawAttributes == nil {
		u.RawAttributes = map[string]any{}
	}
	if u.CustomAttributes == nil {
		u.CustomAttributes = map[string]any{}
	}
	if _, ok := e.dir.users[u.ID]; !ok {
		e.dir.userOrder = append(e.dir.userOrder, u.ID)
	}
	cp := u
	e.dir.users[u.ID] = &cp
	e.dir.members[u.ID] = append([]string(nil), groupIDs...)
	e.mu.Unlock()
	got, _ := e.DirectoryUser(u.ID)
	return got
}

// SetDirectoryUserGroups replaces the groups of directory user id (as the
// identity provider would before WorkOS sends dsync.group.user_added or
// user_removed).
func (e *Emulator) SetDirectoryUserGroups(id string, groupIDs ...string) {
	e.mu.Lock()
	e.dir.members[id] = append([]string(nil), groupIDs...)
	e.mu.Unlock()
}

// DirectoryUser returns directory user id as GET /directory_users/{id}
// serves it (groups included), e.g. to build a webhook payload.
func (e *Emulator) DirectoryUser(id string) (DirectoryUser, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.directoryUser(id)
}

// DirectoryGroup returns directory group id.
func (e *Emulator) DirectoryGroup(id string) (DirectoryGroup, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	g, ok := e.dir.groups[id]
	if !ok {
		return DirectoryGroup{}, false
	}
	return *g, true
}

// directoryUser returns a copy with its groups; e.mu must be held.
func (e *Emulator) directoryUser(id string) (DirectoryUser, bool) {
	u, ok := e.dir.users[id]
	if !ok {
		return DirectoryUser{}, false
	}
	cp := *u
	cp.Groups = []DirectoryUserGroup{}
	for _, gid := range e.dir.members[id] {
		if g, ok := e.dir.groups[gid]; ok {
			cp.Groups = append(cp.Groups, DirectoryUserGroup{ID: g.ID, Object: "directory_group", Name: g.Name})
		}
	}
	return cp, true
}

// Data returns the user as the data map of a dsync.user.* event.
func (u DirectoryUser) Data() map[string]any {
	b, _ := json.Marshal(u)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// Data returns the group as a map for webhook payloads.
func (g DirectoryGroup) Data() map[string]any {
	b, _ := json.Marshal(g)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

func (e *Emulator) handleGetDirectoryUser(w http.ResponseWriter, r *http.Request) {
	u, ok := e.DirectoryUser(r.PathValue("id"))
	if !ok {
		writeStatusError(w, http.StatusNotFound, fmt.Sprintf("Directory User not found: '%s'.", r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (e *Emulator) handleGetDirectoryGroup(w http.ResponseWriter, r *http.Request) {
	g, ok := e.DirectoryGroup(r.PathValue("id"))
	if !ok {
		writeStatusError(w, http.StatusNotFound, fmt.Sprintf("Directory Group not found: '%s'.", r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, g)
}

// handleListDirectoryUsers serves GET /directory_users?directory=|group=.
func (e *Emulator) handleListDirectoryUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	dir, group := q.Get("directory"), q.Get("group")
	if dir == "" && group == "" {
		writeStatusError(w, http.StatusUnprocessableEntity, "Either directory or group must be provided.")
		return
	}
	e.mu.Lock()
	var items []listItem
	for _, id := range e.dir.userOrder {
		u, _ := e.directoryUser(id)
		if dir != "" && u.DirectoryID != dir {
			continue
		}
		if group != "" && !contains(e.dir.members[id], group) {
			continue
		}
		items = append(items, listItem{id: id, v: u})
	}
	e.mu.Unlock()
	e.writePage(w, items, q)
}

// handleListDirectoryGroups serves GET /directory_groups?directory=|user=.
func (e *Emulator) handleListDirectoryGroups(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	dir, user := q.Get("directory"), q.Get("user")
	if dir == "" && user == "" {
		writeStatusError(w, http.StatusUnprocessableEntity, "Either directory or user must be provided.")
		return
	}
	e.mu.Lock()
	var items []listItem
	for _, id := range e.dir.groupOrder {
		g := e.dir.groups[id]
		if dir != "" && g.DirectoryID != dir {
			continue
		}
		if user != "" && !contains(e.dir.members[user], id) {
			continue
		}
		items = append(items, listItem{id: id, v: *g})
	}
	e.mu.Unlock()
	e.writePage(w, items, q)
}

// writePage paginates items and writes the list response.
func (e *Emulator) writePage(w http.ResponseWriter, items []listItem, q map[string][]string) {
	page, meta, err := paginate(items, q)
	if err != nil {
		writeStatusError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": page, "list_metadata": meta})
}
