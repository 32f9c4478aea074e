package host

import (
	"encoding/json"
	"testing"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/abi/jws/jwstest"
	"github.com/authhost/authhost/auth"
)

// TestJWSVerifyHostFunc runs the jws_verify conformance table
// (abi/jws/jwstest) through a real guest on both engines: every vector
// gets its answer, and a request that is not one is invalid_request,
// never a trap.
func TestJWSVerifyHostFunc(t *testing.T) {
	t.Parallel()
	vectors := jwstest.Vectors(t)
	requestErrors := jwstest.RequestErrors(t)
	for _, eng := range engines {
		t.Run(eng, func(t *testing.T) {
			t.Parallel()
			f, errs := newFixture(t, func(c *Config) { c.Engine = eng }, "echo")
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			p := f.plugin(t, "echo")
			for _, v := range vectors {
				var res abi.JWSVerifyResult
				err := hostcall(p, abi.HostJWSVerify, abi.JWSVerifyRequest{JWS: v.JWS, JWKS: v.JWKS, Algorithms: v.Algorithms}, &res)
				if err != nil {
					t.Fatalf("%s: %v", v.Name, err)
				}
				jwstest.Check(t, v, &res)
			}
			for _, r := range requestErrors {
				if !json.Valid(r.Request) {
					continue // the test guest forwards JSON only; abi/jws covers the rest
				}
				var res abi.JWSVerifyResult
				if err := hostcall(p, abi.HostJWSVerify, json.RawMessage(r.Request), &res); auth.CodeOf(err) != auth.CodeInvalidRequest {
					t.Errorf("%s: %+v, %v; want invalid_request", r.Name, res, err)
				}
			}
			// The instance survived every call: nothing trapped.
			if err := callNoop(p); err != nil {
				t.Fatalf("after the table: %v", err)
			}
		})
	}
}
