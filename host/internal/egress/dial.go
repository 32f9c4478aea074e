package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// BlockedError is a connection refused because an address of the host is
// not public.
type BlockedError struct {
	Host  string     // the host name or literal as requested
	Addr  netip.Addr // the refused address
	Class Class
}

func (e *BlockedError) Error() string {
	if e.Host == e.Addr.String() {
		return fmt.Sprintf("egress: address %s is %s", e.Addr, e.Class)
	}
	return fmt.Sprintf("egress: %q resolves to %s, which is %s", e.Host, e.Addr, e.Class)
}

// LookupFunc resolves a host name to its addresses.
type LookupFunc func(ctx context.Context, host string) ([]netip.Addr, error)

// DialFunc connects to address ("ip:port").
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// Dialer dials the checked addresses of a host. Its zero value resolves
// with net.DefaultResolver, dials with a net.Dialer and refuses every
// address that is not Public. It is safe for concurrent use; do not change
// its fields once it is in use.
type Dialer struct {
	// AllowPrivate skips the address check (the plugin's
	// allow_private_networks): names are still resolved once.
	AllowPrivate bool
	// Lookup replaces the resolver (tests).
	Lookup LookupFunc
	// Dial replaces the connection to an already checked address (tests).
	Dial DialFunc
}

// DialContext has the signature of http.Transport.DialContext. It resolves
// the host of address once (an IP literal in any encoding is parsed, not
// resolved), refuses with a *BlockedError if any of its addresses is not
// public, and connects to the checked addresses in turn, never looking the
// name up again.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("egress: %w", err)
	}
	addrs, err := d.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	addrs = forNetwork(addrs, network)
	if len(addrs) == 0 {
		return nil, fmt.Errorf("egress: %q has no %s address", host, network)
	}
	if !d.AllowPrivate {
		for _, a := range addrs {
			if c := Classify(a); c != Public {
				return nil, &BlockedError{Host: host, Addr: a, Class: c}
			}
		}
	}
	dial := d.Dial
	if dial == nil {
		var nd net.Dialer
		dial = nd.DialContext
	}
	var errs []error
	for _, a := range addrs {
		conn, err := dial(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// resolve returns the addresses of host: the literal itself, or one lookup.
func (d *Dialer) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, ok := ParseHost(host); ok {
		return []netip.Addr{a}, nil
	}
	lookup := d.Lookup
	if lookup == nil {
		lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	addrs, err := lookup(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("egress: resolve %q: %w", host, err)
	}
	return addrs, nil
}

// forNetwork keeps the addresses network can reach ("tcp4", "tcp6" or any).
func forNetwork(addrs []netip.Addr, network string) []netip.Addr {
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		a = a.Unmap()
		switch network {
		case "tcp4", "udp4":
			if !a.Is4() {
				continue
			}
		case "tcp6", "udp6":
			if !a.Is6() {
				continue
			}
		}
		out = append(out, a)
	}
	return out
}
