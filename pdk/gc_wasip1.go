//go:build wasip1

package pdk

import "runtime/debug"

// guestGCPercent is the GOGC the PDK sets when a provider starts. A Wasm
// linear memory never shrinks, so an instance keeps the largest heap it
// ever reached: with Go's default of 100 the heap of a small provider grows
// to its 4 MiB minimum goal before the first collection. At 25 the first
// collection comes at 1 MiB, which keeps each instance ~2 MiB smaller for
// no measurable CPU on a 218-byte JSON echo (BENCHMARKS.md, "Go guest
// cost"). A provider that prefers speed to memory calls
// debug.SetGCPercent in its own init, which runs after this one.
const guestGCPercent = 25

func init() { debug.SetGCPercent(guestGCPercent) }
