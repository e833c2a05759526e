package huaweiemu

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/providers/huawei/ecp"
	"github.com/credd-dev/credd/providers/huawei/signer"
	"github.com/credd-dev/credd/secret"
	"github.com/credd-dev/credd/tests/samlidp"
)

const entity = "https://idp.example/idp"

type fixture struct {
	emu *Server
	srv *httptest.Server
	idp *samlidp.IdP
	ids *httptest.Server
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{emu: New(Options{})}
	f.emu.AddSAMLIdP("corp", "saml", entity, "acme")
	f.emu.AddUser("acme", "alice", "pw")
	f.emu.AddAKSK("AK", "SK", "acme")
	f.emu.AddAgency("acme", "ops")
	f.srv = httptest.NewServer(f.emu)
	t.Cleanup(f.srv.Close)
	f.idp = samlidp.New(entity)
	f.idp.AddUser("bob", "pw")
	f.ids = httptest.NewServer(f.idp)
	t.Cleanup(f.ids.Close)
	return f
}

func noRedirect() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func send(t *testing.T, c *http.Client, method, url string, body []byte, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

var paos = map[string]string{"Accept": ecp.ContentType, "PAOS": ecp.PAOSHeader}

func TestWebSSORedirectWithoutPAOS(t *testing.T) {
	f := newFixture(t)
	resp, _ := send(t, noRedirect(), "GET", f.srv.URL+"/v3-ext/OS-FEDERATION/identity_providers/corp/protocols/saml/credential", nil, map[string]string{"Accept": "text/html"})
	if resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), "websso") {
		t.Fatalf("got %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestDurationRange(t *testing.T) {
	f := newFixture(t)
	for _, d := range []string{"899", "86401", "abc"} {
		resp, body := send(t, noRedirect(), "GET", f.srv.URL+"/v3-ext/OS-FEDERATION/identity_providers/corp/protocols/saml/credential?duration_seconds="+d, nil, paos)
		if resp.StatusCode != 400 || !strings.Contains(string(body), "duration_seconds") {
			t.Errorf("duration %s: %d %s", d, resp.StatusCode, body)
		}
	}
}

// startECP gets an AuthnRequest and the IdP's answer to it.
func startECP(t *testing.T, f *fixture) (*ecp.AuthnRequest, *ecp.IdPResponse) {
	t.Helper()
	resp, body := send(t, noRedirect(), "GET", f.srv.URL+"/v3-ext/OS-FEDERATION/identity_providers/corp/protocols/saml/credential?duration_seconds=900", nil, paos)
	if resp.StatusCode != 200 {
		t.Fatalf("SP: %d %s", resp.StatusCode, body)
	}
	ar, err := ecp.ParseSPRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", f.ids.URL, bytes.NewReader(ar.IdPRequest))
	req.SetBasicAuth("bob", "pw")
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	ir, err := ecp.ParseIdPResponse(b2)
	if err != nil {
		t.Fatalf("IdP: %v\n%s", err, b2)
	}
	return ar, ir
}

func TestConsumerChecks(t *testing.T) {
	f := newFixture(t)
	ar, ir := startECP(t, f)
	// Wrong RelayState: rejected, and the request is consumed.
	resp, _ := send(t, noRedirect(), "POST", ar.ResponseConsumerURL, ir.ForSP("ss:mem:forged"), map[string]string{"Content-Type": ecp.ContentType})
	if resp.StatusCode != 401 {
		t.Errorf("forged RelayState: %d", resp.StatusCode)
	}
	resp, _ = send(t, noRedirect(), "POST", ar.ResponseConsumerURL, ir.ForSP(ar.RelayState), map[string]string{"Content-Type": ecp.ContentType})
	if resp.StatusCode != 401 {
		t.Errorf("replay after a failed attempt: %d", resp.StatusCode)
	}

	ar, ir = startECP(t, f)
	resp, _ = send(t, noRedirect(), "POST", ar.ResponseConsumerURL, ir.ForSP(ar.RelayState), map[string]string{"Content-Type": ecp.ContentType})
	if resp.StatusCode != http.StatusFound || len(resp.Cookies()) != 1 {
		t.Fatalf("valid assertion: %d", resp.StatusCode)
	}
	cookie := resp.Cookies()[0]
	resp, _ = send(t, noRedirect(), "POST", ar.ResponseConsumerURL, ir.ForSP(ar.RelayState), map[string]string{"Content-Type": ecp.ContentType})
	if resp.StatusCode != 401 {
		t.Errorf("replayed assertion: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", f.srv.URL+"/v3-ext/OS-FEDERATION/identity_providers/corp/protocols/saml/credential?duration_seconds=900", nil)
	req.AddCookie(cookie)
	r, err := noRedirect().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusCreated {
		t.Errorf("session GET: %d", r.StatusCode)
	}

	// A response without an assertion is rejected; a SOAP fault is recorded.
	ar, _ = startECP(t, f)
	resp, _ = send(t, noRedirect(), "POST", ar.ResponseConsumerURL, []byte(`<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body/></S:Envelope>`), nil)
	if resp.StatusCode != 401 {
		t.Errorf("empty body: %d", resp.StatusCode)
	}
	resp, _ = send(t, noRedirect(), "POST", ar.ResponseConsumerURL, ecp.Fault("giving up"), nil)
	if resp.StatusCode != 200 || len(f.emu.Faults()) != 1 || f.emu.Faults()[0] != "giving up" {
		t.Errorf("fault: %d %q", resp.StatusCode, f.emu.Faults())
	}
}

func issue(t *testing.T, f *fixture) (ak, sk, tok string) {
	t.Helper()
	resp, _ := send(t, http.DefaultClient, "POST", f.srv.URL+"/v3/auth/tokens",
		[]byte(`{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"alice","password":"pw","domain":{"name":"acme"}}}}}}`), nil)
	if resp.StatusCode != 201 {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	token := resp.Header.Get("X-Subject-Token")
	resp, body := send(t, http.DefaultClient, "POST", f.srv.URL+"/v3.0/OS-CREDENTIAL/securitytokens",
		[]byte(`{"auth":{"identity":{"methods":["token"],"token":{"duration_seconds":"900"}}}}`), map[string]string{"X-Auth-Token": token})
	if resp.StatusCode != 201 {
		t.Fatalf("securitytokens: %d %s", resp.StatusCode, body)
	}
	var v struct {
		Credential struct{ Access, Secret, Securitytoken string }
	}
	_ = json.Unmarshal(body, &v)
	return v.Credential.Access, v.Credential.Secret, v.Credential.Securitytoken
}

func TestCheckEndpoint(t *testing.T) {
	f := newFixture(t)
	ak, sk, tok := issue(t, f)
	check := func(s signer.Signer, mutate func(*http.Request)) int {
		req, _ := http.NewRequest("GET", f.srv.URL+CheckPath, nil)
		if err := s.Sign(req, nil); err != nil {
			t.Fatal(err)
		}
		if mutate != nil {
			mutate(req)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	good := signer.Signer{AccessKey: ak, SecretKey: secret.New(sk), SecurityToken: secret.New(tok)}
	if c := check(good, nil); c != 200 {
		t.Fatalf("valid temporary credential: %d", c)
	}
	if c := check(signer.Signer{AccessKey: ak, SecretKey: secret.New(sk)}, nil); c != 401 {
		t.Errorf("without security token: %d", c)
	}
	if c := check(good, func(r *http.Request) { r.Header.Set(signer.SecurityTokenHeader, tok+"x") }); c != 401 {
		t.Errorf("tampered token: %d", c)
	}
	if c := check(signer.Signer{AccessKey: "AK", SecretKey: secret.New("SK"), SecurityToken: secret.New(tok)}, nil); c != 401 {
		t.Errorf("permanent key: %d", c)
	}
	old := good
	old.Now = func() time.Time { return time.Now().Add(-20 * time.Minute) }
	if c := check(old, nil); c != 401 {
		t.Errorf("stale X-Sdk-Date: %d", c)
	}
	if got := f.emu.Calls()[EPCheck]; got != 5 {
		t.Errorf("check calls = %d", got)
	}
}

func TestFaultCount(t *testing.T) {
	f := newFixture(t)
	f.emu.SetFault(Fault{Kind: FaultThrottle, Count: 2})
	body := []byte(`{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"alice","password":"pw","domain":{"name":"acme"}}}}}}`)
	var codes []int
	for range 3 {
		resp, b := send(t, http.DefaultClient, "POST", f.srv.URL+"/v3/auth/tokens", body, nil)
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == 429 && !strings.Contains(string(b), "APIGW.0308") {
			t.Errorf("throttle body %s", b)
		}
	}
	if codes[0] != 429 || codes[1] != 429 || codes[2] != 201 {
		t.Errorf("codes = %v", codes)
	}
	if f.emu.Calls()[EPTokens] != 3 {
		t.Errorf("calls = %v", f.emu.Calls())
	}
}

func TestWrongPasswordKeystoneShape(t *testing.T) {
	f := newFixture(t)
	resp, body := send(t, http.DefaultClient, "POST", f.srv.URL+"/v3/auth/tokens",
		[]byte(`{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"alice","password":"no","domain":{"name":"acme"}}}}}}`), nil)
	if resp.StatusCode != 401 || !strings.Contains(string(body), `"title":"Unauthorized"`) {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
}
