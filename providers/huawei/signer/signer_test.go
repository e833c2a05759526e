package signer

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/secret"
)

type vector struct {
	Method                 string            `json:"method"`
	URL                    string            `json:"url"`
	Headers                map[string]string `json:"headers"`
	Body                   string            `json:"body"`
	AccessKey              string            `json:"access_key"`
	SecretKey              string            `json:"secret_key"`
	CanonicalRequest       string            `json:"canonical_request"`
	CanonicalRequestSHA256 string            `json:"canonical_request_sha256"`
	Signature              string            `json:"signature"`
	Authorization          string            `json:"authorization"`
}

func loadVector(t *testing.T) vector {
	t.Helper()
	b, err := os.ReadFile("../../../tests/vectors/signing.json")
	if err != nil {
		t.Fatalf("read vectors: %v", err)
	}
	var all struct {
		Huawei vector `json:"huawei_sdk_hmac_sha256"`
	}
	if err := json.Unmarshal(b, &all); err != nil {
		t.Fatal(err)
	}
	return all.Huawei
}

func TestOfficialVector(t *testing.T) {
	v := loadVector(t)
	r, err := http.NewRequest(v.Method, v.URL, strings.NewReader(v.Body))
	if err != nil {
		t.Fatal(err)
	}
	for k, val := range v.Headers {
		if k != "Host" {
			r.Header.Set(k, val)
		}
	}
	date, err := time.Parse(DateFormat, v.Headers["X-Sdk-Date"])
	if err != nil {
		t.Fatal(err)
	}
	cr := CanonicalRequest(r, []byte(v.Body), []string{"content-type", "host", "x-sdk-date"})
	if cr != v.CanonicalRequest {
		t.Fatalf("canonical request:\n%q\nwant\n%q", cr, v.CanonicalRequest)
	}
	s := Signer{AccessKey: v.AccessKey, SecretKey: secret.New(v.SecretKey), Now: func() time.Time { return date }}
	if err := s.Sign(r, []byte(v.Body)); err != nil {
		t.Fatal(err)
	}
	if got := r.Header.Get("Authorization"); got != v.Authorization {
		t.Fatalf("authorization:\n%s\nwant\n%s", got, v.Authorization)
	}
}

// TestVerifyRoundTrip signs a client request and verifies it as a server
// sees it, then shows that tampering with any signed part is caught.
func TestVerifyRoundTrip(t *testing.T) {
	body := []byte(`{"auth":{"identity":{"methods":["assume_role"]}}}`)
	sk := "sk-canary-0123456789"
	var got []error
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := new(bytes.Buffer)
		_, _ = b.ReadFrom(r.Body)
		_, _, err := Verify(r, b.Bytes(), []byte(sk))
		got = append(got, err)
	}))
	defer srv.Close()
	send := func(mutate func(*http.Request) []byte) {
		r, _ := http.NewRequest("POST", srv.URL+"/v3.0/OS-CREDENTIAL/securitytokens?b=2&a=1&a=0", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json;charset=utf8")
		s := Signer{AccessKey: "AK1", SecretKey: secret.New(sk), SecurityToken: secret.New("tok")}
		if err := s.Sign(r, body); err != nil {
			t.Fatal(err)
		}
		b := body
		if mutate != nil {
			b = mutate(r)
		}
		r.Body = http.NoBody
		if b != nil {
			r.Body = httpBody(b)
			r.ContentLength = int64(len(b))
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	send(nil)
	send(func(r *http.Request) []byte { return []byte(`{"auth":{}}`) })
	send(func(r *http.Request) []byte { r.Header.Set(SecurityTokenHeader, "other"); return body })
	send(func(r *http.Request) []byte { r.URL.RawQuery = "a=1"; return body })
	send(func(r *http.Request) []byte { r.Header.Set(DateHeader, "20200101T000000Z"); return body })
	if len(got) != 5 {
		t.Fatalf("server saw %d requests", len(got))
	}
	if got[0] != nil {
		t.Fatalf("untampered request rejected: %v", got[0])
	}
	for i, err := range got[1:] {
		if err == nil {
			t.Errorf("tampered request %d accepted", i+1)
		}
	}
}

func TestEscapeAndCanonicalURI(t *testing.T) {
	r, _ := http.NewRequest("GET", "http://h/a%20b/c~d?x=%2F&x=a b&y", nil)
	if got := CanonicalURI(r.URL); got != "/a%20b/c~d/" {
		t.Errorf("CanonicalURI = %q", got)
	}
	if got := CanonicalQuery(r.URL); got != "x=%2F&x=a%20b&y=" {
		t.Errorf("CanonicalQuery = %q", got)
	}
}

func TestParseAuthorization(t *testing.T) {
	for _, bad := range []string{"", "AWS4 x", Algorithm + " Access=a", Algorithm + " Access=a, SignedHeaders=host, Signature=", Algorithm + " Foo=1, Access=a, SignedHeaders=h, Signature=s"} {
		if _, err := ParseAuthorization(bad); err == nil {
			t.Errorf("ParseAuthorization(%q) accepted", bad)
		}
	}
}

func TestSignRefusesEmptyKey(t *testing.T) {
	r, _ := http.NewRequest("GET", "http://h/", nil)
	if err := (Signer{AccessKey: "a"}).Sign(r, nil); err == nil {
		t.Fatal("signed with an empty secret key")
	}
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

func httpBody(b []byte) readCloser { return readCloser{bytes.NewReader(b)} }
