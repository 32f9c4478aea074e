package cputime

import "testing"

// TestProcessAdvances: spinning for a while raises the process's CPU time.
func TestProcessAdvances(t *testing.T) {
	before := Process()
	if before <= 0 {
		t.Skip("process CPU time is not measured on this platform")
	}
	x := 0
	for Process()-before < 5e6 { // 5 ms of CPU
		for i := range 100000 {
			x += i
		}
	}
	if x == 0 {
		t.Fatal("the loop did not run")
	}
}
