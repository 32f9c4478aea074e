package host

import (
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/host/internal/engine"
)

// TestUnselectedPluginsGiveCodeBack: plugins nothing selects, compiled
// and described at a first start (no describe records yet), leave no
// machine code mapped once loaded. Not parallel: it reads the process's
// mappings.
func TestUnselectedPluginsGiveCodeBack(t *testing.T) {
	if _, err := os.Stat("/proc/self/maps"); err != nil {
		t.Skip("no /proc/self/maps: code size is not measurable here")
	}
	settle := func() uint64 {
		for range 5 {
			runtime.GC()
			time.Sleep(20 * time.Millisecond)
		}
		return engine.ExecutableBytes()
	}
	before := settle()
	f, errs := newFixture(t, func(c *Config) {
		c.CacheDir = newCacheDir(t)
		c.Selected = func(string, []abi.Capability) bool { return false }
	}, "echo", "echob", "allcaps")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(f.m.Plugins()) != 3 {
		t.Fatalf("%d plugins loaded", len(f.m.Plugins()))
	}
	for _, p := range f.m.Plugins() {
		if compiled(p) {
			t.Errorf("%s still compiled", p.Name())
		}
	}
	if after := settle(); after > before+1<<20 {
		t.Fatalf("%d bytes of machine code mapped after loading three unselected plugins (%d before)", after, before)
	}
}
