package host

import "github.com/authhost/authhost/host/internal/engine"

// CodeBytes returns the machine code of the compiled plugin modules mapped
// in the process now (Linux; 0 elsewhere), including closed modules whose
// memory the Go runtime has not unmapped yet.
func CodeBytes() uint64 { return engine.ExecutableBytes() }
