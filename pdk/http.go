package pdk

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/authhost/authhost/abi"
)

// Transport is an http.RoundTripper over the host's http_do function, the
// only way out of the sandbox. The host checks the destination (and every
// redirect it follows) against the plugin's allowed_hosts, applies its
// timeout and body-size cap, and returns transport failures as values: a
// RoundTrip error wraps *abi.Error with code unavailable (network, timeout,
// body too large) or forbidden (host not allowed), so a handler that
// returns it answers that code. Request and response bodies are buffered in
// full. Transport never panics.
type Transport struct{}

var _ http.RoundTripper = Transport{}

// HTTPClient returns an *http.Client that uses Transport; hand it to SDKs
// (e.g. workos-go's HTTPClient field).
func HTTPClient() *http.Client { return &http.Client{Transport: Transport{}} }

// RoundTrip implements http.RoundTripper.
func (Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("http_do: read request body: %w", err)
		}
		body = b
	}
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	if req.URL == nil {
		return nil, fmt.Errorf("http_do: nil request URL")
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	hreq := abi.HTTPRequest{Method: method, URL: req.URL.String(), Body: body}
	if len(req.Header) > 0 {
		hreq.Headers = make(map[string][]string, len(req.Header))
		for k, vs := range req.Header {
			hreq.Headers[k] = append([]string(nil), vs...)
		}
	}
	var res abi.HTTPResponse
	if err := callHost(abi.HostHTTPDo, hreq, &res); err != nil {
		return nil, err
	}
	if res.Status < 100 || res.Status > 999 {
		return nil, fmt.Errorf("http_do: host returned invalid status %d", res.Status)
	}
	h := make(http.Header, len(res.Headers))
	for k, vs := range res.Headers {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	text := http.StatusText(res.Status)
	if text == "" {
		text = "status code " + strconv.Itoa(res.Status)
	}
	return &http.Response{
		Status:        strconv.Itoa(res.Status) + " " + text,
		StatusCode:    res.Status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(res.Body)),
		ContentLength: int64(len(res.Body)),
		Request:       req,
	}, nil
}
