package engine

// NewWazeroCloseOnDone returns the wazero engine in its fallback mode
// (wazero's close-on-done instead of loop instrumentation), so the
// conformance suite covers that path too.
func NewWazeroCloseOnDone() (Engine, error) {
	e, err := NewWazero(WazeroConfig{})
	if err != nil {
		return nil, err
	}
	e.(*wazeroEngine).closeOnDone = true
	return e, nil
}

// InstrumentLoops exposes instrumentLoops to the external tests: the
// instrumented module, and why it cannot be snapshotted ("" when it can).
func InstrumentLoops(wasm []byte) ([]byte, string, error) {
	out, _, why, err := instrumentLoops(wasm, true)
	return out, why, err
}

// SnapshotTaken reports whether m (of the wazero engine) starts its
// instances from a snapshot.
func SnapshotTaken(m Module) bool { return m.(*wazeroModule).snap.Load() != nil }

// ParseExecutableBytes exposes executableBytes to the external tests.
var ParseExecutableBytes = executableBytes

// NewWazeroUnchecked returns the wazero engine compiling modules with
// neither loop instrumentation nor close-on-done: a guest it runs cannot be
// stopped. BenchmarkLoopChecks weighs the instrumentation against it.
func NewWazeroUnchecked() (Engine, error) {
	e, err := NewWazero(WazeroConfig{NoSnapshots: true})
	if err != nil {
		return nil, err
	}
	e.(*wazeroEngine).unchecked = true
	return e, nil
}
