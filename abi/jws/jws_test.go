package jws_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/abi/jws"
	"github.com/authhost/authhost/abi/jws/jwstest"
)

// serve decodes a raw jws_verify request and answers it, as the host does.
func serve(raw []byte) (*abi.JWSVerifyResult, error) {
	var req abi.JWSVerifyRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, abi.Errorf(abi.CodeInvalidRequest, "jws_verify: %v", err)
	}
	return jws.Serve(req)
}

// TestVectors runs the conformance table through Serve.
func TestVectors(t *testing.T) {
	for _, v := range jwstest.Vectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			res, err := jws.Serve(abi.JWSVerifyRequest{JWS: v.JWS, JWKS: v.JWKS, Algorithms: v.Algorithms})
			if err != nil {
				t.Fatalf("Serve: %v", err)
			}
			jwstest.Check(t, v, res)
		})
	}
}

// TestRequestErrors: a request that is not one is invalid_request.
func TestRequestErrors(t *testing.T) {
	for _, r := range jwstest.RequestErrors(t) {
		t.Run(r.Name, func(t *testing.T) {
			if res, err := serve(r.Request); !abi.IsCode(err, abi.CodeInvalidRequest) {
				t.Fatalf("Serve = %+v, %v; want invalid_request", res, err)
			}
		})
	}
}

// FuzzServe: no request makes Serve panic or fail without a reason, and
// a token that verifies carries its own payload and stops verifying when
// the first character of its signature changes.
func FuzzServe(f *testing.F) {
	for _, v := range jwstest.Vectors(f) {
		if len(v.JWS) < 4096 {
			f.Add(v.JWS, string(v.JWKS))
		}
	}
	f.Fuzz(func(t *testing.T, tok, set string) {
		res, err := jws.Serve(abi.JWSVerifyRequest{JWS: tok, JWKS: json.RawMessage(set)})
		if err != nil {
			if !abi.IsCode(err, abi.CodeInvalidRequest) {
				t.Fatalf("error %v is not invalid_request", err)
			}
			return
		}
		if !res.Verified {
			if res.Reason == "" || len(res.Payload) > 0 {
				t.Fatalf("a failure without reason or with a payload: %+v", res)
			}
			return
		}
		parts := strings.Split(tok, ".")
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		if !bytes.Equal(payload, res.Payload) || len(parts[2]) == 0 {
			t.Fatalf("verified %q with payload %q", tok, res.Payload)
		}
		c := "A"
		if parts[2][0] == 'A' {
			c = "B"
		}
		tampered := parts[0] + "." + parts[1] + "." + c + parts[2][1:]
		if res, err := jws.Serve(abi.JWSVerifyRequest{JWS: tampered, JWKS: json.RawMessage(set)}); err != nil || res.Verified {
			t.Fatalf("tampered signature: %+v, %v", res, err)
		}
	})
}
