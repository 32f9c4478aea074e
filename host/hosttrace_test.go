package host

import (
	"strings"
	"sync"
	"testing"

	"github.com/authhost/authhost/abi"
)

// TestOnHostCall checks that the tracing hook sees every host function call
// with its plugin, name, input and output, from concurrent calls too.
func TestOnHostCall(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var recs []HostCallRecord
	f, errs := newFixture(t, func(c *Config) {
		c.OnHostCall = func(r HostCallRecord) {
			r.Input, r.Output = append([]byte(nil), r.Input...), append([]byte(nil), r.Output...)
			mu.Lock()
			recs = append(recs, r)
			mu.Unlock()
		}
	}, "echo")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p := f.plugin(t, "echo")
	const n = 8
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if err := hostcall(p, abi.HostKVSet, abi.KVSetRequest{Key: "traced", Value: []byte("v")}, nil); err != nil {
				t.Errorf("kv_set: %v", err)
			}
		})
	}
	wg.Wait()
	if err := hostcall(p, abi.HostKVGet, abi.KVGetRequest{Key: ""}, nil); err == nil {
		t.Error("kv_get of an empty key succeeded")
	}
	mu.Lock()
	defer mu.Unlock()
	var sets, gets int
	for _, r := range recs {
		if r.Plugin != "echo" {
			t.Errorf("record of plugin %q", r.Plugin)
		}
		switch r.Func {
		case abi.HostKVSet:
			sets++
			if !strings.Contains(string(r.Input), `"traced"`) || !strings.Contains(string(r.Output), `"ok":true`) {
				t.Errorf("kv_set record in=%s out=%s", r.Input, r.Output)
			}
		case abi.HostKVGet:
			gets++
			if !strings.Contains(string(r.Output), `"ok":false`) {
				t.Errorf("refused kv_get traced as %s", r.Output)
			}
		}
	}
	if sets != n || gets != 1 {
		t.Errorf("traced %d kv_set and %d kv_get, want %d and 1: %+v", sets, gets, n, recs)
	}
}
