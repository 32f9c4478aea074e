package jose

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/abi/jws/jwstest"
	"github.com/authhost/authhost/pdk"
	"github.com/authhost/authhost/pdk/pdktest"
)

type nobody struct{}

func (nobody) CurrentUser(context.Context, abi.Request) (*abi.User, error) { return nil, nil }
func (nobody) GetUser(context.Context, string) (*abi.User, error)          { return nil, nil }

// signaturePaths are the two ways checkSignature checks a token: the
// host's jws_verify, and the guest's own code when the host answers
// not_supported.
var signaturePaths = map[string]*abi.Error{
	"host":  nil,
	"guest": {Code: abi.CodeNotSupported, Message: "unknown host function"},
}

// TestSignatureConformance runs the jws_verify conformance table
// (abi/jws/jwstest) through checkSignature on both paths: the answers are
// the same.
func TestSignatureConformance(t *testing.T) {
	vectors := jwstest.Vectors(t)
	for path, hostErr := range signaturePaths {
		t.Run(path, func(t *testing.T) {
			env := pdktest.New(t, pdktest.WithProvider(&pdk.Provider{Name: "jose-test", Version: "0.0.1", User: nobody{}}))
			env.FailHost(abi.HostJWSVerify, hostErr)
			for _, v := range vectors {
				var set JWKS
				if err := json.Unmarshal(v.JWKS, &set); err != nil {
					t.Fatal(err)
				}
				allowed := v.Algorithms
				if len(allowed) == 0 {
					allowed = DefaultAlgorithms
				}
				res, err := checkSignature(v.JWS, &cachedSet{Keys: set.Keys, raw: v.JWKS}, allowed)
				if err != nil {
					t.Fatalf("%s: %v", v.Name, err)
				}
				jwstest.Check(t, v, res)
			}
		})
	}
}

// TestSignatureHostFailure: with the host function present, its failure
// (other than not_supported) is an error, not a verdict on the token:
// proof that the host path is the one taken.
func TestSignatureHostFailure(t *testing.T) {
	env := pdktest.New(t, pdktest.WithProvider(&pdk.Provider{Name: "jose-test", Version: "0.0.1", User: nobody{}}))
	env.FailHost(abi.HostJWSVerify, &abi.Error{Code: abi.CodeUnavailable, Message: "down"})
	v := jwstest.Vectors(t)[0]
	var set JWKS
	if err := json.Unmarshal(v.JWKS, &set); err != nil {
		t.Fatal(err)
	}
	if _, err := checkSignature(v.JWS, &cachedSet{Keys: set.Keys, raw: v.JWKS}, DefaultAlgorithms); !abi.IsCode(err, abi.CodeUnavailable) {
		t.Fatalf("err = %v, want unavailable", err)
	}
}
