package metrics

import (
	"runtime/metrics"

	"github.com/prometheus/client_golang/prometheus"
)

// memoryClasses maps each class of authhost_memory_bytes to the
// runtime/metrics samples it sums. Together with "wasm_code" they are
// where the process's memory goes: the Go heap (where wazero keeps the
// plugins' linear memories), goroutine stacks, the runtime's own, and the
// plugins' machine code (outside the Go runtime).
var memoryClasses = []struct {
	class   string
	samples []string
}{
	{"heap_objects", []string{"/memory/classes/heap/objects:bytes"}},
	{"heap_unused", []string{"/memory/classes/heap/unused:bytes"}},
	{"heap_free", []string{"/memory/classes/heap/free:bytes"}},
	{"heap_released", []string{"/memory/classes/heap/released:bytes"}},
	{"stacks", []string{"/memory/classes/heap/stacks:bytes", "/memory/classes/os-stacks:bytes"}},
	{"runtime_other", []string{"/memory/classes/metadata/other:bytes", "/memory/classes/metadata/mspan/inuse:bytes",
		"/memory/classes/metadata/mspan/free:bytes", "/memory/classes/metadata/mcache/inuse:bytes",
		"/memory/classes/metadata/mcache/free:bytes", "/memory/classes/profiling/buckets:bytes", "/memory/classes/other:bytes"}},
}

var (
	descMemory = prometheus.NewDesc("authhost_memory_bytes",
		"Process memory by class: the Go runtime's (runtime/metrics: heap_objects, heap_unused, heap_free, heap_released (returned to the OS), stacks, runtime_other) and wasm_code, the plugins' machine code mapped outside the Go heap.",
		[]string{"class"}, nil)
	descMemoryLimit = prometheus.NewDesc("authhost_memory_limit_bytes", "The Go runtime's soft memory limit (GOMEMLIMIT, memory_limit_mib).", nil, nil)
	descGCCPU       = prometheus.NewDesc("authhost_gc_cpu_seconds_total", "CPU time the Go garbage collector has used (runtime/metrics /cpu/classes/gc/total).", nil, nil)
)

// WatchMemory registers a collector that reads the process's memory by
// class at scrape time; code returns the plugins' machine code bytes.
func (m *Metrics) WatchMemory(code func() uint64) {
	m.reg.MustRegister(memoryCollector{code: code})
}

type memoryCollector struct{ code func() uint64 }

// Describe implements prometheus.Collector.
func (c memoryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descMemory
	ch <- descMemoryLimit
	ch <- descGCCPU
}

// Collect implements prometheus.Collector.
func (c memoryCollector) Collect(ch chan<- prometheus.Metric) {
	samples := []metrics.Sample{{Name: "/gc/gomemlimit:bytes"}, {Name: "/cpu/classes/gc/total:cpu-seconds"}}
	for _, mc := range memoryClasses {
		for _, name := range mc.samples {
			samples = append(samples, metrics.Sample{Name: name})
		}
	}
	metrics.Read(samples)
	values := map[string]float64{}
	for _, s := range samples {
		switch s.Value.Kind() {
		case metrics.KindUint64:
			values[s.Name] = float64(s.Value.Uint64())
		case metrics.KindFloat64:
			values[s.Name] = s.Value.Float64()
		}
	}
	for _, mc := range memoryClasses {
		var sum float64
		for _, name := range mc.samples {
			sum += values[name]
		}
		ch <- prometheus.MustNewConstMetric(descMemory, prometheus.GaugeValue, sum, mc.class)
	}
	ch <- prometheus.MustNewConstMetric(descMemory, prometheus.GaugeValue, float64(c.code()), "wasm_code")
	ch <- prometheus.MustNewConstMetric(descMemoryLimit, prometheus.GaugeValue, values["/gc/gomemlimit:bytes"])
	ch <- prometheus.MustNewConstMetric(descGCCPU, prometheus.CounterValue, values["/cpu/classes/gc/total:cpu-seconds"])
}
