package host

import (
	"net/http"

	"github.com/authhost/authhost/host/internal/egress"
)

// egressTransports are the HTTP transports of http_do: one whose dialer
// refuses non-public addresses (the default) and one for the plugins
// configured with AllowPrivateNetworks. Keeping them apart also keeps their
// connection pools apart: a connection one plugin was allowed to open to a
// private address is never reused for a plugin that is not.
type egressTransports struct {
	public, private *http.Transport
}

// newEgressTransports builds the transports; lookup and dial replace the
// resolver and the final connection in tests (nil: the system's).
func newEgressTransports(lookup egress.LookupFunc, dial egress.DialFunc) egressTransports {
	mk := func(allowPrivate bool) *http.Transport {
		t := http.DefaultTransport.(*http.Transport).Clone()
		d := &egress.Dialer{AllowPrivate: allowPrivate, Lookup: lookup, Dial: dial}
		t.DialContext = d.DialContext
		if !allowPrivate {
			// A proxy would resolve and connect on our behalf, past the
			// address check; guarded plugins connect directly.
			t.Proxy = nil
		}
		return t
	}
	return egressTransports{public: mk(false), private: mk(true)}
}

// forPlugin returns the transport pc's plugin uses.
func (t egressTransports) forPlugin(pc PluginConfig) http.RoundTripper {
	if pc.AllowPrivateNetworks {
		return t.private
	}
	return t.public
}

// closeIdle closes the idle connections of both transports.
func (t egressTransports) closeIdle() {
	t.public.CloseIdleConnections()
	t.private.CloseIdleConnections()
}
