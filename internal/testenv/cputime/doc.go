// Package cputime reads the CPU time the test process has used.
// Benchmarks report it per operation next to wall time: on a machine
// shared with other jobs it shows the cost of an operation where wall time
// shows mostly the wait for a core.
package cputime
