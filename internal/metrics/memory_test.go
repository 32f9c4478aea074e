package metrics

import (
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestWatchMemory: every class is served, the heap is not empty and
// wasm_code is what the engine reports.
func TestWatchMemory(t *testing.T) {
	t.Parallel()
	m := New()
	m.WatchMemory(func() uint64 { return 12345 })
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	value := func(class string) float64 {
		t.Helper()
		re := regexp.MustCompile(`(?m)^authhost_memory_bytes\{class="` + class + `"\} (\S+)$`)
		m := re.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("class %s missing from:\n%s", class, grep(body, "authhost_memory"))
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, mc := range memoryClasses {
		value(mc.class)
	}
	if v := value("heap_objects"); v <= 0 {
		t.Errorf("heap_objects = %v", v)
	}
	if v := value("stacks"); v <= 0 {
		t.Errorf("stacks = %v", v)
	}
	if v := value("wasm_code"); v != 12345 {
		t.Errorf("wasm_code = %v, want 12345", v)
	}
	for _, name := range []string{"authhost_memory_limit_bytes ", "authhost_gc_cpu_seconds_total "} {
		if !strings.Contains(body, "\n"+name) {
			t.Errorf("%s missing", name)
		}
	}
}

func grep(body, prefix string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
