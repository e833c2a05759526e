package tencent

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/credd-dev/credd/config"
	"github.com/credd-dev/credd/providers"
)

// bodyTransport answers every request with one body, without a network.
type bodyTransport string

func (b bodyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(string(b))), Request: r}, nil
}

// FuzzResponses feeds arbitrary bodies to both API versions' parsers: no
// panic, a credential only with every part present, and never an error
// quoting a body it could not parse.
func FuzzResponses(f *testing.F) {
	f.Add(`{"Response":{"Credentials":{"Token":"t","TmpSecretId":"i","TmpSecretKey":"k"},"ExpiredTime":1900000000,"RequestId":"r"}}`)
	f.Add(`{"Response":{"Error":{"Code":"InvalidParameter.OverTimeError","Message":"m"},"RequestId":"r"}}`)
	f.Add(`{"code":0,"data":{"credentials":{"token":"t","tmpSecretId":"i","tmpSecretKey":"k"},"expiration":"2030-01-01T00:00:00Z"}}`)
	f.Add(`{"code":4100,"message":"m","codeDesc":"AuthFailure"}`)
	f.Add(`{"Response":{"Credentials":{"Token":"SECRETBODY`)
	f.Fuzz(func(t *testing.T, body string) {
		for _, v := range []int{2, 3} {
			p, err := New(&config.Profile{Name: "f", Provider: "tencent", Key: "main", Region: "ap-guangzhou",
				API: config.APIFederationToken, APIVersion: v, SignatureMethod: "HmacSHA256", Endpoint: "http://127.0.0.1:1",
				FederationName: "f", Policy: "{}", Duration: 1800e9},
				providers.Deps{Keys: memKeys{"main": tencentEntry("AKIDf", "k")}, HTTP: &http.Client{Transport: bodyTransport(body)}})
			if err != nil {
				t.Fatal(err)
			}
			c, err := p.Fetch(context.Background())
			if err == nil && (c.AccessKeyID == "" || c.Secret.IsEmpty() || c.SessionToken.IsEmpty() || c.Expiration.IsZero()) {
				t.Fatalf("v%d: incomplete credential accepted from %q", v, body)
			}
			// A service error's own message may say anything; a body the
			// client could not understand must never be quoted.
			if err != nil && providers.CodeOf(err) == "" && strings.Contains(err.Error(), "SECRETBODY") {
				t.Fatalf("v%d: error quotes the body: %v", v, err)
			}
		}
	})
}
