package betterauth

import (
	"net/http"
	"testing"
)

func TestStartStopRestart(t *testing.T) {
	srv := Start(t)
	if again := Start(t); again != srv {
		t.Fatal("Start did not share the server")
	}
	get := func() error {
		resp, err := http.Get(srv.AuthURL() + "/ok")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(); err != nil {
		t.Fatalf("running server: %v", err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := get(); err == nil {
		t.Fatal("stopped server still answers")
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := get(); err != nil {
		t.Fatalf("restarted server: %v", err)
	}
	if _, err := srv.SignJWT(t.Context(), map[string]any{"sub": "u1"}); err != nil {
		t.Fatalf("SignJWT: %v", err)
	}
}
