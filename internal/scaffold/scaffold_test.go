package scaffold

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"my-provider", true},
		{"p2", true},
		{"null", true}, // a plain name, nothing special
		{"", false},
		{"My", false},
		{"1st", false},
		{"-x", false},
		{"a b", false},
		{"a/b", false},
		{"../x", false},
		{"x\x00", false},
		{"x\n", false},
		{"\u0440rovider", false}, // Cyrillic er
		{"ｐrovider", false},      // fullwidth p
		{"127.0.0.1", false},
		{strings.Repeat("a", 65), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "p")
			err := Write(dir, tc.name)
			if (err == nil) != tc.ok {
				t.Fatalf("Write(%q) = %v, want ok=%v", tc.name, err, tc.ok)
			}
			if !tc.ok {
				if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("refused name %q still created %s", tc.name, dir)
				}
				return
			}
			main, err := os.ReadFile(filepath.Join(dir, "main.go"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(main), `Name: "`+tc.name+`"`) {
				t.Errorf("main.go does not register %q", tc.name)
			}
			if n := strings.Count(string(main), "\n"); n > 60 {
				t.Errorf("main.go has %d lines, the target is at most 60", n)
			}
			for _, f := range []string{"main_test.go", "authhost.yaml"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func TestWriteRefusesNonEmptyDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, "p"); !errors.Is(err, ErrExists) {
		t.Fatalf("Write into a non-empty dir = %v, want ErrExists", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "main.go")); string(b) != "package main\n" {
		t.Errorf("existing main.go overwritten: %q", b)
	}
}
