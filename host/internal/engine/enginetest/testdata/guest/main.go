// Command guest is the test plugin of the engine conformance suite. It
// speaks the raw Extism ABI through go-pdk (no authhost PDK), so the suite
// exercises exactly what every Extism PDK relies on, and it carries the
// hostile exports (spin, block in a host function, churn memory, grow past
// the cap, panic) the suite stops.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/extism/go-pdk"
)

//go:wasmimport enginetest echo
func hostEcho(uint64) uint64

//go:wasmimport enginetest block
func hostBlock(uint64) uint64

var sink int

//go:wasmexport noop
func noop() int32 { return 0 }

// echo returns its input unchanged.
//
//go:wasmexport echo
func echo() int32 {
	pdk.Output(pdk.Input())
	return 0
}

// big returns as many bytes as its decimal input asks for.
//
//go:wasmexport big
func big() int32 {
	n, _ := strconv.Atoi(string(pdk.Input()))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	pdk.Output(b)
	return 0
}

// spin never returns.
//
//go:wasmexport spin
func spin() int32 {
	for i := 0; ; i++ {
		sink += i
	}
}

// hostblock calls the host function block, which returns only when the
// call's ctx is done, then spins.
//
//go:wasmexport hostblock
func hostblock() int32 {
	mem := pdk.AllocateString("{}")
	hostBlock(mem.Offset())
	return spin()
}

// churn allocates and drops memory forever, within the cap.
//
//go:wasmexport churn
func churn() int32 {
	var keep [8][]byte
	for i := 0; ; i++ {
		b := make([]byte, 1<<20)
		b[i%len(b)] = byte(i)
		keep[i%len(keep)] = b
	}
}

var hoard [][]byte

// grow allocates until the memory cap stops it.
//
//go:wasmexport grow
func grow() int32 {
	for {
		b := make([]byte, 1<<20)
		for i := range b {
			b[i] = byte(i)
		}
		hoard = append(hoard, b)
	}
}

//go:wasmexport panic
func panicky() int32 { panic("enginetest guest: boom") }

// fail sets an Extism error and returns 1.
//
//go:wasmexport fail
func fail() int32 {
	pdk.SetErrorString("enginetest guest: failure requested")
	return 1
}

// code returns 3 without an error message.
//
//go:wasmexport code
func code() int32 { return 3 }

// entropy returns 16 random bytes (hex), a space and the wall clock in
// Unix nanoseconds.
//
//go:wasmexport entropy
func entropy() int32 {
	b := make([]byte, 16)
	rand.Read(b)
	pdk.OutputString(hex.EncodeToString(b) + " " + strconv.FormatInt(time.Now().UnixNano(), 10))
	return 0
}

// sleep sleeps for its input in milliseconds and returns the monotonic
// time it measured, in milliseconds.
//
//go:wasmexport sleep
func sleep() int32 {
	ms, _ := strconv.Atoi(string(pdk.Input()))
	t0 := time.Now()
	time.Sleep(time.Duration(ms) * time.Millisecond)
	pdk.OutputString(strconv.FormatInt(time.Since(t0).Milliseconds(), 10))
	return 0
}

// fs tries to read, list and create files and reports each outcome.
//
//go:wasmexport fs
func fs() int32 {
	var out []string
	try := func(what string, err error) {
		if err == nil {
			out = append(out, what+":ok")
		} else {
			out = append(out, what+":denied")
		}
	}
	_, err := os.ReadFile("/etc/hostname")
	try("read", err)
	_, err = os.ReadDir("/")
	try("list", err)
	_, err = os.ReadDir(".")
	try("listcwd", err)
	f, err := os.Create("/tmp/enginetest-guest")
	if err == nil {
		f.Close()
	}
	try("create", err)
	pdk.OutputString(strings.Join(out, " "))
	return 0
}

// print writes its input to stdout and stderr and through the Extism log.
//
//go:wasmexport print
func print() int32 {
	s := string(pdk.Input())
	fmt.Print(s)
	fmt.Fprint(os.Stderr, s)
	pdk.Log(pdk.LogInfo, "extism log: "+strings.SplitN(s, "\n", 2)[0])
	return 0
}

// config returns the Extism config value named by its input, or "<none>".
//
//go:wasmexport config
func config() int32 {
	v, ok := pdk.GetConfig(string(pdk.Input()))
	if !ok {
		v = "<none>"
	}
	pdk.OutputString(v)
	return 0
}

// hostecho sends its input through the host function echo.
//
//go:wasmexport hostecho
func hostecho() int32 {
	mem := pdk.AllocateBytes(pdk.Input())
	off := hostEcho(mem.Offset())
	mem.Free()
	res := pdk.FindMemory(off)
	pdk.Output(res.ReadBytes())
	res.Free()
	return 0
}

// vars stores its input in an Extism variable and reads it back.
//
//go:wasmexport vars
func vars() int32 {
	prev := pdk.GetVar("v")
	pdk.SetVar("v", pdk.Input())
	got := pdk.GetVar("v")
	pdk.Output(append(append(prev, '|'), got...))
	return 0
}

// counter is package state: a fresh instance starts at zero whatever
// another instance counted.
var counter int

// scratch is a buffer count fills with its input, so an instance's writes
// into its memory are visible to the next call of the same instance only.
var scratch = make([]byte, 0, 64)

// count increments counter and returns it with what the previous call
// left in scratch, then stores its input there.
//
//go:wasmexport count
func count() int32 {
	counter++
	out := append([]byte(strconv.Itoa(counter)+"|"), scratch...)
	scratch = append(scratch[:0], pdk.Input()...)
	pdk.Output(out)
	return 0
}

func main() {}
