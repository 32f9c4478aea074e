// Command benchmemory starts the quick start (./bin/authhost with
// examples/authhost.yaml and a fresh data dir), samples its RSS while idle,
// drives a mixed load (GET /api/auth/me and /api/auth/capabilities, and
// sign-ins at a low rate) and prints the RSS over time. Run it from the
// repository root after building (go tool task bench-memory does both).
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	bin := flag.String("bin", "./bin/authhost", "authhost binary")
	conf := flag.String("config", "examples/authhost.yaml", "configuration")
	addr := flag.String("addr", "127.0.0.1:18181", "listen address (loopback)")
	flag.StringVar(&metricsAddr, "metrics-addr", metricsAddr, "metrics and pprof listen address (loopback)")
	idle := flag.Duration("idle", 10*time.Second, "idle time before the load")
	dur := flag.Duration("duration", 60*time.Second, "load duration")
	rate := flag.Int("rate", 1000, "requests per second (me and capabilities, alternating)")
	signIns := flag.Float64("sign-ins", 2, "successful sign-ins per second")
	every := flag.Duration("every", 5*time.Second, "RSS sample interval")
	profiles := flag.String("profiles", "", "directory to save the server's heap profiles in (heap-idle.pb.gz, heap-load.pb.gz)")
	wrkDur := flag.Duration("wrk", 0, "before the load, run wrk -t2 -c32 for this long on /api/auth/me and on /api/auth/capabilities (signed in) and print req/s")
	flag.Parse()
	if err := run(*bin, *conf, *addr, *idle, *dur, *rate, *signIns, *every, *profiles, *wrkDur); err != nil {
		log.Fatalf("benchmemory: %v", err)
	}
}

func run(bin, conf, addr string, idle, dur time.Duration, rate int, signIns float64, every time.Duration, profiles string, wrkDur time.Duration) error {
	data, err := os.MkdirTemp("", "authhost-benchmem-")
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	defer os.RemoveAll(data)
	// The quick-start config with the data dir replaced, in the same
	// directory so its relative plugins_dir still resolves.
	raw, err := os.ReadFile(conf)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	raw = bytes.Replace(raw, []byte(`data_dir: "../data"`), []byte(`data_dir: "`+data+`"`), 1)
	// The breakdown is read from the metrics endpoint, the heap profiles
	// (-profiles) from its pprof handlers.
	raw = append(raw, "\nmetrics:\n  listen: \""+metricsAddr+"\"\n"...)
	if profiles != "" {
		raw = append(raw, "  pprof: true\n"...)
	}
	tmpConf := filepath.Join(filepath.Dir(conf), ".benchmemory.yaml")
	if err := os.WriteFile(tmpConf, raw, 0o600); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	defer os.Remove(tmpConf)
	// Another server on these addresses would answer for ours.
	for _, a := range []string{addr, metricsAddr} {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			return fmt.Errorf("address taken (another benchmemory running? use -addr and -metrics-addr): %w", err)
		}
		ln.Close()
	}
	cmd := exec.Command(bin, "serve", "--config", tmpConf, "--listen", addr)
	logf, err := os.Create(filepath.Join(data, "server.log"))
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = os.Environ()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() { _ = cmd.Process.Kill(); <-exited }()
	base := "http://" + addr
	start := time.Now()
	for {
		select {
		case err := <-exited:
			exited <- err // for the deferred wait
			return fmt.Errorf("server exited before ready: %v (log: %s; is %s or %s taken?)", err, logf.Name(), addr, metricsAddr)
		default:
		}
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Since(start) > 2*time.Minute {
			return fmt.Errorf("not ready after 2 minutes (log: %s)", logf.Name())
		}
		time.Sleep(100 * time.Millisecond)
	}
	pid := cmd.Process.Pid
	fmt.Printf("ready after %s\n", time.Since(start).Round(time.Millisecond))
	fmt.Printf("%8s %10s %10s %8s %s\n", "t", "rss_mib", "hwm_mib", "req/s", "phase")
	sample := func(t time.Duration, reqs int64, phase string) {
		rss, hwm := procStatus(pid)
		fmt.Printf("%8s %10.1f %10.1f %8d %s\n", t.Round(time.Second), rss, hwm, reqs, phase)
	}
	t0 := time.Now()
	for time.Since(t0) < idle {
		time.Sleep(min(every, idle))
		sample(time.Since(t0), 0, "idle")
	}
	idleBD := breakdown(pid)
	idleBD.print("idle")
	printSmaps(pid)
	if err := saveHeapProfile(profiles, "heap-idle.pb.gz"); err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	cookie, err := signIn(client, base)
	if err != nil {
		return err
	}
	if wrkDur > 0 {
		for _, path := range []string{"/api/auth/me", "/api/auth/capabilities"} {
			rps, err := runWrk(base+path, cookie, wrkDur)
			if err != nil {
				return err
			}
			fmt.Printf("wrk -t2 -c32 -d%s %s: %.0f req/s\n", wrkDur, path, rps)
		}
		sample(time.Since(t0), 0, "after wrk")
	}
	before := breakdown(pid) // CPU and GC from here on are the load's
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var done, failed atomic.Int64
	var wg sync.WaitGroup
	work := make(chan int, rate)
	for range 32 {
		wg.Go(func() {
			for i := range work {
				path := "/api/auth/capabilities"
				if i%2 == 0 {
					path = "/api/auth/me"
				}
				req, _ := http.NewRequest(http.MethodGet, base+path, nil)
				req.Header.Set("Cookie", cookie)
				resp, err := client.Do(req)
				if err != nil || resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				done.Add(1)
			}
		})
	}
	if signIns > 0 {
		wg.Go(func() {
			tick := time.NewTicker(time.Duration(float64(time.Second) / signIns))
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
					if _, err := signIn(client, base); err != nil {
						failed.Add(1)
					}
				}
			}
		})
	}
	go func() {
		tick := time.NewTicker(time.Second / time.Duration(rate/10))
		defer tick.Stop()
		i := 0
		for {
			select {
			case <-ctx.Done():
				close(work)
				return
			case <-tick.C:
				for range 10 {
					select {
					case work <- i:
					default: // the server is behind: drop rather than queue
					}
					i++
				}
			}
		}
	}()
	l0 := time.Now()
	last := int64(0)
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-time.After(every):
			n := done.Load()
			sample(time.Since(t0), (n-last)*int64(time.Second)/int64(every), "load")
			last = n
		}
	}
	loadBD := breakdown(pid) // instances are still in the pools (idle timeout)
	if err := saveHeapProfile(profiles, "heap-load.pb.gz"); err != nil {
		return err
	}
	wg.Wait()
	fmt.Printf("load: %d requests in %s, %d failed\n", done.Load(), time.Since(l0).Round(time.Second), failed.Load())
	loadBD.print("end of load")
	if cpu := loadBD.cpu - before.cpu; cpu > 0 {
		gc := loadBD.gc - before.gc
		fmt.Printf("cpu during load: %.1f s, of which GC %.1f s (%.1f %%); %.2f cpu-ms per request\n",
			cpu, gc, 100*gc/cpu, 1000*cpu/float64(max(done.Load(), 1)))
	}
	for range 3 {
		time.Sleep(every)
		sample(time.Since(t0), 0, "after")
	}
	return nil
}

// signIn signs the demo user in and returns its session cookies as a
// Cookie header.
func signIn(client *http.Client, base string) (string, error) {
	resp, err := client.Post(base+"/api/auth/credentials/sign-in", "application/json",
		strings.NewReader(`{"email":"admin@example.com","password":"authhost-demo"}`))
	if err != nil {
		return "", fmt.Errorf("sign in: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("sign in: %s: %s", resp.Status, body)
	}
	var cookies []string
	for _, c := range resp.Cookies() {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	if len(cookies) == 0 {
		return "", fmt.Errorf("sign in: no session cookie in the answer")
	}
	return strings.Join(cookies, "; "), nil
}

// procStatus returns VmRSS and VmHWM of pid in MiB.
func procStatus(pid int) (rss, hwm float64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		switch k {
		case "VmRSS":
			rss = kb / 1024
		case "VmHWM":
			hwm = kb / 1024
		}
	}
	return rss, hwm
}

// metricsAddr is where the server under test serves /metrics and its
// profiles (flag -metrics-addr).
var metricsAddr = "127.0.0.1:18182"

// memBreakdown is the server's memory by class (MiB) from its metrics,
// and its CPU seconds: all of them (from /proc) and the GC's.
type memBreakdown struct {
	lines   []string
	cpu, gc float64
}

// breakdown reads the server's memory classes, per-plugin instance,
// linear memory and code figures, and CPU time.
func breakdown(pid int) memBreakdown {
	var b memBreakdown
	b.cpu = procCPU(pid)
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		b.lines = []string{"metrics unavailable: " + err.Error()}
		return b
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(body), "\n") {
		name, val, ok := strings.Cut(l, " ")
		if !ok || strings.HasPrefix(l, "#") {
			continue
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(name, "authhost_gc_cpu_seconds_total"):
			b.gc = v
		case strings.HasPrefix(name, "authhost_memory_bytes"), strings.HasPrefix(name, "authhost_plugin_memory_bytes"),
			strings.HasPrefix(name, "authhost_plugin_code_bytes"), strings.HasPrefix(name, "authhost_memory_limit_bytes"):
			b.lines = append(b.lines, fmt.Sprintf("%-70s %8.1f MiB", name, v/(1<<20)))
		case strings.HasPrefix(name, "authhost_plugin_instances{"):
			b.lines = append(b.lines, fmt.Sprintf("%-70s %8.0f", name, v))
		}
	}
	return b
}

func (b memBreakdown) print(when string) {
	fmt.Printf("breakdown (%s):\n", when)
	for _, l := range b.lines {
		fmt.Println("  " + l)
	}
}

// procCPU returns the user + system CPU seconds of process pid.
func procCPU(pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command (which may hold spaces) start after ")".
	_, rest, _ := strings.Cut(string(raw), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// saveHeapProfile writes the server's heap profile to dir/name (nothing
// when dir is empty); read it with go tool pprof -sample_index=inuse_space.
func saveHeapProfile(dir, name string) error {
	if dir == "" {
		return nil
	}
	resp, err := http.Get("http://" + metricsAddr + "/debug/pprof/heap")
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("heap profile: %s", resp.Status)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("heap profile: %w", err)
	}
	fmt.Printf("heap profile: %s\n", f.Name())
	return f.Close()
}

// printSmaps prints the process's resident and proportional memory from
// /proc/<pid>/smaps_rollup, and its resident memory by kind of mapping
// from /proc/<pid>/smaps: the binary, other files, anonymous executable
// (wazero's machine code), anonymous read-write (Go heap, linear
// memories, stacks), and shared memory (memfd snapshots of instances).
func printSmaps(pid int) {
	if raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid)); err == nil {
		fmt.Println("smaps_rollup:")
		for _, l := range strings.Split(string(raw), "\n") {
			k, v, ok := strings.Cut(l, ":")
			if !ok {
				continue
			}
			switch k {
			case "Rss", "Pss", "Pss_Anon", "Pss_File", "Pss_Shmem", "Anonymous", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty":
				fmt.Printf("  %-14s %10.1f MiB\n", k, kib(v)/1024)
			}
		}
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return
	}
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	rss := map[string]float64{}
	count := map[string]int{}
	kind := ""
	for _, l := range strings.Split(string(raw), "\n") {
		f := strings.Fields(l)
		if len(f) >= 5 && strings.Contains(f[0], "-") && len(f[1]) == 4 {
			kind = mappingKind(f, exe)
			count[kind]++
			continue
		}
		if len(f) >= 2 && f[0] == "Rss:" {
			rss[kind] += kib(f[1]) / 1024
		}
	}
	fmt.Println("resident by mapping (smaps):")
	kinds := make([]string, 0, len(rss))
	for k := range rss {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		if rss[k] >= 0.05 {
			fmt.Printf("  %-34s %10.1f MiB in %d mappings\n", k, rss[k], count[k])
		}
	}
	n, size := memfds(pid)
	fmt.Printf("memfd snapshot images (shared memory; in RSS only where mapped and touched): %.1f MiB in %d\n", size, n)
}

// memfds counts the process's open memfds (the snapshot images of the
// plugin modules) and their size in MiB.
func memfds(pid int) (n int, mib float64) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0
	}
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil || !strings.HasPrefix(target, "/memfd:") {
			continue
		}
		if fi, err := os.Stat(filepath.Join(dir, e.Name())); err == nil {
			n++
			mib += float64(fi.Size()) / (1 << 20)
		}
	}
	return n, mib
}

// mappingKind classifies one smaps header line (address, perms, offset,
// device, inode, [path]).
func mappingKind(f []string, exe string) string {
	perms, path := f[1], ""
	if len(f) >= 6 {
		path = strings.Join(f[5:], " ")
	}
	switch {
	case path == exe:
		return "binary"
	case strings.HasPrefix(path, "/memfd:"):
		return "memfd (" + perms + ")"
	case strings.HasPrefix(path, "["):
		return path
	case path != "":
		return "other file"
	case strings.Contains(perms, "x"):
		return "anonymous executable"
	case strings.HasPrefix(perms, "rw"):
		return "anonymous read-write"
	default:
		return "anonymous (" + perms + ")"
	}
}

// kib parses a "1234 kB" smaps value.
func kib(v string) float64 {
	n, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
	return n
}

// runWrk loads url with wrk (2 threads, 32 connections) for d, sending
// cookie, and returns its requests per second. Non-2xx answers fail it.
func runWrk(url, cookie string, d time.Duration) (float64, error) {
	out, err := exec.Command("wrk", "-t2", "-c32", "-d"+strconv.Itoa(int(d.Seconds()))+"s", "-H", "Cookie: "+cookie, url).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("wrk %s: %w: %s", url, err, out)
	}
	if bytes.Contains(out, []byte("Non-2xx")) || bytes.Contains(out, []byte("Socket errors")) {
		return 0, fmt.Errorf("wrk %s: failed requests:\n%s", url, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "Requests/sec:"); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("wrk %s: no Requests/sec in:\n%s", url, out)
}
