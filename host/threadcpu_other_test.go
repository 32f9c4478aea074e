//go:build !linux

package host

import "time"

// threadCPU is unavailable outside Linux; loopMin then reports no cpu-ns/op.
func threadCPU() (time.Duration, bool) { return 0, false }
