package pdk_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/authhost/authhost/abi"
	"github.com/authhost/authhost/pdk"
	"github.com/authhost/authhost/pdk/pdktest"
)

type sampleConfig struct {
	URL   string `json:"url"`
	Limit int    `json:"limit"`
}

func (c *sampleConfig) validate() error {
	if c.URL == "" {
		return errors.New("url: required")
	}
	if c.Limit == 0 {
		c.Limit = 10
	}
	return nil
}

func TestConfigCache(t *testing.T) {
	env := pdktest.New(t, pdktest.WithProvider(testProvider()))
	parses := 0
	cache := pdk.NewConfigCache("sample", func(c *sampleConfig) error { parses++; return c.validate() })

	env.SetConfig(`{"url":"https://idp.example"}`)
	for i := 0; i < 3; i++ {
		c, err := cache.Load()
		if err != nil || c.URL != "https://idp.example" || c.Limit != 10 {
			t.Fatalf("load = %+v, %v", c, err)
		}
	}
	if parses != 1 {
		t.Fatalf("parsed %d times for one document, want 1", parses)
	}
	env.SetConfig(`{"url":"https://other.example","limit":3}`)
	if c, _ := cache.Load(); c.Limit != 3 || parses != 2 {
		t.Fatalf("a changed document must be re-parsed: %+v after %d parses", c, parses)
	}

	cases := []struct{ doc, want string }{
		{`{"url":"x","limt":3}`, `unknown field "limt"`},
		{`{"limit":3}`, "url: required"},
		{`{"url":"x"} {}`, "trailing data"},
		{`{"url":`, "unexpected EOF"},
		{`{"url":5}`, "cannot unmarshal number"},
	}
	for _, c := range cases {
		env.SetConfig(c.doc)
		_, err := cache.Load()
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "sample config") || !abi.IsCode(err, abi.CodeInternal) {
			t.Errorf("%s: err = %v, want internal naming the provider and %q", c.doc, err, c.want)
		}
	}
}

func TestConfigCacheConfigure(t *testing.T) {
	t.Parallel()
	cache := pdk.NewConfigCache("sample", func(c *sampleConfig) error {
		if c.Limit < 0 {
			return pdk.ConfigError("limit", "must not be negative")
		}
		return c.validate()
	})
	cases := []struct {
		doc, field, msg string
	}{
		{`{"url":"x"}`, "", ""},
		{``, "", "url: required"}, // empty means {}
		{`{"url":"x","limt":3}`, "limt", "unknown field"},
		{`{"url":"x","limit":"3"}`, "limit", "want a JSON int"},
		{`{"url":"x","limit":-1}`, "limit", "must not be negative"},
		{`{"url":"x","limit":null}`, "", ""},
		{`null`, "", "url: required"},
		{`{"url":"x"} {}`, "", "trailing data"},
		{`{"url":"x","\u006cimit":"a"}`, "limit", "want a JSON int"},
	}
	for _, c := range cases {
		err := cache.Configure(context.Background(), []byte(c.doc))
		if c.msg == "" {
			if err != nil {
				t.Errorf("%s: %v", c.doc, err)
			}
			continue
		}
		var ae *abi.Error
		if !errors.As(err, &ae) || ae.Code != abi.CodeInvalidRequest || ae.Field != c.field || !strings.Contains(ae.Message, c.msg) {
			t.Errorf("%s: err = %#v, want field %q and %q", c.doc, err, c.field, c.msg)
		}
	}
}
