// Package scaffold writes a new Go provider from templates: a user +
// credentials provider on the PDK (accounts in the plugin KV), its pdktest
// unit test and an authhost config to run `authhost conformance` and
// `authhost serve` with. `go tool task new-provider NAME=…` and
// `authhost new-provider` use it.
package scaffold

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"go/format"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
)

//go:embed template/*.tmpl
var templates embed.FS

// validName is a provider name as the host accepts it (pdk.Provider.Name):
// lower-case ASCII letters, digits and '-', starting with a letter.
var validName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,63}$`)

// ErrExists is returned when the target directory already holds files.
var ErrExists = errors.New("scaffold: directory is not empty")

// Write creates dir (which must be absent or empty) and writes the provider
// name into it: main.go, main_test.go and authhost.yaml.
func Write(dir, name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("scaffold: provider name %q: want lower-case letters, digits and '-', starting with a letter, at most 64", name)
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("%w: %s", ErrExists, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("scaffold: %w", err)
	}
	files, err := templates.ReadDir("template")
	if err != nil {
		return fmt.Errorf("scaffold: %w", err)
	}
	for _, f := range files {
		tmpl, err := template.ParseFS(templates, "template/"+f.Name())
		if err != nil {
			return fmt.Errorf("scaffold: %s: %w", f.Name(), err)
		}
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, struct{ Name string }{name}); err != nil {
			return fmt.Errorf("scaffold: %s: %w", f.Name(), err)
		}
		out, target := buf.Bytes(), strings.TrimSuffix(f.Name(), ".tmpl")
		if strings.HasSuffix(target, ".go") {
			if out, err = format.Source(out); err != nil {
				return fmt.Errorf("scaffold: format %s: %w", target, err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, target), out, 0o644); err != nil {
			return fmt.Errorf("scaffold: %w", err)
		}
	}
	return nil
}
