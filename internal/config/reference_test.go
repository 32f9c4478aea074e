package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// configKeys lists every YAML key path of t: "session.ttl",
// "plugins.<name>.limits.memory_mib", "rbac.roles[].id".
func configKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		path := prefix + tag
		keys = append(keys, path)
		keys = append(keys, nested(f.Type, path)...)
	}
	return keys
}

func nested(ft reflect.Type, path string) []string {
	switch ft.Kind() {
	case reflect.Struct:
		if ft.PkgPath() == reflect.TypeFor[Config]().PkgPath() {
			return configKeys(ft, path+".")
		}
	case reflect.Map:
		if ft.Elem().Kind() == reflect.Struct {
			return configKeys(ft.Elem(), path+".<name>.")
		}
	case reflect.Slice:
		if ft.Elem().Kind() == reflect.Struct {
			return configKeys(ft.Elem(), path+"[].")
		}
	}
	return nil
}

// TestConfigurationReferenceIsComplete keeps docs/configuration.md in step
// with the Config struct: every key is documented, and every documented
// key exists.
func TestConfigurationReferenceIsComplete(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	keys := configKeys(reflect.TypeFor[Config](), "")
	known := map[string]bool{}
	for _, k := range keys {
		known[k] = true
		if !strings.Contains(text, "\n| `"+k+"` |") {
			t.Errorf("docs/configuration.md has no row for `%s`", k)
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		k, _, _ := strings.Cut(strings.TrimPrefix(line, "| `"), "`")
		if !known[k] {
			t.Errorf("docs/configuration.md documents `%s`, which the config does not have", k)
		}
	}
}
