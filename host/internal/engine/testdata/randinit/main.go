// Command randinit draws a key from crypto/rand in a package init: an
// instance restored from a snapshot would share it with every other, so
// the engine must not snapshot this module.
package main

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/extism/go-pdk"
)

var key = make([]byte, 16)

func init() { rand.Read(key) }

// keyExport returns the key drawn at init, in hex.
//
//go:wasmexport key
func keyExport() int32 {
	pdk.OutputString(hex.EncodeToString(key))
	return 0
}

func main() {}
