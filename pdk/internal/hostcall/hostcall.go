// Package hostcall is the seam between the PDK and the authhost host
// functions. Inside the sandbox (GOOS=wasip1) it calls the Wasm imports of
// module "authhost"; in a native build it answers every call with a failed
// envelope until a test double (pdk/pdktest) is installed with Set.
package hostcall

import "sync"

// Host performs host-function calls. Call sends the JSON request req to the
// host function fn (an abi.Host* name) and returns the JSON envelope the
// host answered. Config returns the plugin's `config` value and whether the
// host set it.
type Host interface {
	Call(fn string, req []byte) []byte
	Config() ([]byte, bool)
}

var (
	mu      sync.Mutex
	current Host = sandbox{}
)

// Current returns the installed host.
func Current() Host {
	mu.Lock()
	defer mu.Unlock()
	return current
}

// Set installs h and returns a function that restores the previous host.
func Set(h Host) (restore func()) {
	mu.Lock()
	defer mu.Unlock()
	prev := current
	current = h
	return func() {
		mu.Lock()
		defer mu.Unlock()
		current = prev
	}
}
