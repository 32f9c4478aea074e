package app_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authhost/authhost/host"
	"github.com/authhost/authhost/internal/testenv/ascbuild"
	"github.com/authhost/authhost/internal/testenv/authhostenv"
	"github.com/authhost/authhost/internal/testenv/cputime"
)

// BenchmarkReloadAddPlugin: the quick start (examples/authhost.yaml, its
// four Go plugins: static-users selected, betterauth, cloud and workos
// installed) and a reload. "add-one" drops in a fifth plugin, as-users,
// with bytes never seen before (a fresh custom section every time, so
// neither the describe cache nor the compilation cache hides its load),
// then reloads; "unchanged" reloads with nothing changed (SIGHUP, the
// admin route). Each op is one App.Reload, run after a GC. Reported per
// reload: wall and process CPU time, the RSS peak (VmHWM, reset before the
// reload) and its rise over the RSS before it, and how many plugins were
// loaded anew.
func BenchmarkReloadAddPlugin(b *testing.B) {
	if _, err := os.Stat("/proc/self/clear_refs"); err != nil {
		b.Skip("needs Linux /proc to reset the RSS peak")
	}
	quick, err := os.ReadFile(filepath.Join(authhostenv.RepoRoot(), "examples", "authhost.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	entry := filepath.Join(authhostenv.RepoRoot(), "examples", "as-users", "assembly", "index.ts")
	asUsers, err := os.ReadFile(ascbuild.Build(b, entry, "-O2", "--exportStart", "_initialize"))
	if err != nil {
		b.Fatal(err)
	}
	env := authhostenv.Start(b, authhostenv.Options{
		Plugins: []string{"examples/static-users", "plugins/betterauth", "plugins/cloud", "plugins/workos"},
		Config:  string(quick) + "\nwatch_plugins: false\n", // the benchmark reloads itself
	})
	if n := len(env.App.Plugins.Plugins()); n != 4 {
		b.Fatalf("%d plugins loaded, want the quick start's 4", n)
	}
	dir := filepath.Dir(env.App.Plugins.Plugin("static-users").File())
	added := filepath.Join(dir, "as-users.wasm")
	reload := func(b *testing.B) {
		if problems, err := env.App.Reload(context.Background()); err != nil || len(problems) > 0 {
			b.Fatalf("reload: %v %v", err, problems)
		}
	}
	seq := 0
	for _, bc := range []struct {
		name    string
		prepare func(b *testing.B) // before each reload, not timed
	}{
		{name: "add-one", prepare: func(b *testing.B) {
			if err := os.Remove(added); err == nil {
				reload(b) // back to the quick start's 4
			}
			seq++
			if err := os.WriteFile(added, withCustomSection(asUsers, fmt.Sprintf("bench %d %d", time.Now().UnixNano(), seq)), 0o644); err != nil {
				b.Fatal(err)
			}
		}},
		{name: "unchanged", prepare: func(b *testing.B) {
			if err := os.Remove(added); err == nil {
				reload(b)
			}
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var wall, cpu time.Duration
			var peak, rise, fresh float64
			for range b.N {
				b.StopTimer()
				bc.prepare(b)
				runtime.GC()
				debug.FreeOSMemory()
				before := map[*host.Plugin]bool{}
				for _, p := range env.App.Plugins.Plugins() {
					before[p] = true
				}
				rss0 := resetPeakRSS(b)
				c0, t0 := cputime.Process(), time.Now()
				b.StartTimer()
				reload(b)
				b.StopTimer()
				wall += time.Since(t0)
				cpu += cputime.Process() - c0
				hwm := procStatusKiB(b, "VmHWM")
				peak = max(peak, hwm/1024)
				rise += (hwm - rss0) / 1024
				for _, p := range env.App.Plugins.Plugins() {
					if !before[p] {
						fresh++
					}
				}
			}
			n := float64(b.N)
			b.ReportMetric(float64(wall.Milliseconds())/n, "wall-ms/reload")
			b.ReportMetric(float64(cpu.Milliseconds())/n, "cpu-ms/reload")
			b.ReportMetric(peak, "peak-rss-MiB")
			b.ReportMetric(rise/n, "rss-rise-MiB/reload")
			b.ReportMetric(fresh/n, "loaded/reload")
		})
	}
}

// resetPeakRSS resets the process's VmHWM to its current RSS and returns
// that RSS in KiB.
func resetPeakRSS(b *testing.B) float64 {
	b.Helper()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Fatalf("reset the RSS peak: %v", err)
	}
	return procStatusKiB(b, "VmRSS")
}

// procStatusKiB returns a kB field of /proc/self/status.
func procStatusKiB(b *testing.B, field string) float64 {
	b.Helper()
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				b.Fatal(err)
			}
			return v
		}
	}
	b.Fatalf("no %s in /proc/self/status", field)
	return 0
}
