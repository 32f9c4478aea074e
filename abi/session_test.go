package abi

import (
	"reflect"
	"testing"
)

func TestSessionSnapshot(t *testing.T) {
	u := User{ID: "u1", Email: "a@example.com", Name: "Ada", AvatarURL: "https://x/a.png",
		Roles: []string{"admin"}, Metadata: map[string]any{"emailVerified": true}}
	got := SessionSnapshot(u, "sso")
	want := map[string]any{"source": "sso", "email": "a@example.com", "name": "Ada", "avatarUrl": "https://x/a.png",
		"roles": []string{"admin"}, "userMetadata": map[string]any{"emailVerified": true}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("snapshot = %#v, want %#v", got, want)
	}
	// The snapshot is a copy: changing it leaves the user alone.
	got["roles"].([]string)[0] = "x"
	got["userMetadata"].(map[string]any)["emailVerified"] = false
	if u.Roles[0] != "admin" || u.Metadata["emailVerified"] != true {
		t.Fatal("the snapshot shares memory with the user")
	}
	if got := SessionSnapshot(User{ID: "u2"}, "credentials"); !reflect.DeepEqual(got, map[string]any{"source": "credentials"}) {
		t.Fatalf("empty profile snapshot = %v", got)
	}
}
