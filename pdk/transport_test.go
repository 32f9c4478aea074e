package pdk

import (
	"errors"
	"testing"
)

func TestCookieTransport(t *testing.T) {
	t.Parallel()
	if got := CookieTransport(func() (string, error) { return "sid", nil })(); got == nil || len(got.Cookies) != 1 || got.Cookies[0] != "sid" {
		t.Errorf("named cookie: %+v", got)
	}
	for name, f := range map[string]func() (string, error){
		"config error": func() (string, error) { return "sid", errors.New("bad config") },
		"no name":      func() (string, error) { return "", nil },
	} {
		if got := CookieTransport(f)(); got != nil {
			t.Errorf("%s: declared %+v, want none (the host asks the plugin)", name, got)
		}
	}
}
