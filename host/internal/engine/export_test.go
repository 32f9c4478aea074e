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

// InstrumentLoops exposes instrumentLoops to the external tests.
var InstrumentLoops = instrumentLoops

// ParseExecutableBytes exposes executableBytes to the external tests.
var ParseExecutableBytes = executableBytes
