package host

import (
	"os"
	"testing"
	"time"
)

// payload mirrors the echo plugin's ~200-byte benchmark document.
type payload struct {
	ID        string            `json:"id"`
	Email     string            `json:"email"`
	Name      string            `json:"name"`
	Roles     []string          `json:"roles"`
	Active    bool              `json:"active"`
	Logins    int               `json:"logins"`
	Labels    map[string]string `json:"labels"`
	CreatedAt time.Time         `json:"created_at"`
}

func benchPayload() payload {
	return payload{
		ID: "user_01HZX3K8Q9V7", Email: "ada.lovelace@example.com", Name: "Ada Lovelace",
		Roles: []string{"admin", "editor"}, Active: true, Logins: 42,
		Labels:    map[string]string{"team": "core", "region": "eu-west-1"},
		CreatedAt: time.Date(2025, 5, 15, 10, 30, 0, 0, time.UTC),
	}
}

func copyWasm(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
