package samlidp

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const authn = `<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_abc" AssertionConsumerServiceURL="https://sp/ECP"><saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">https://sp/</saml:Issuer></samlp:AuthnRequest></S:Body></S:Envelope>`

func post(t *testing.T, url, user, pass, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.SetBasicAuth(user, pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestIdP(t *testing.T) {
	p := New("https://idp/")
	p.AddUser("bob", "pw")
	srv := httptest.NewServer(p)
	defer srv.Close()

	if code, _ := post(t, srv.URL, "bob", "wrong", authn); code != 401 || p.AuthFailures() != 1 {
		t.Errorf("bad password: %d", code)
	}
	code, body := post(t, srv.URL, "bob", "pw", authn)
	if code != 200 || !strings.Contains(body, `InResponseTo="_abc"`) || !strings.Contains(body, `AssertionConsumerServiceURL="https://sp/ECP"`) ||
		!strings.Contains(body, "<saml2:Audience>https://sp/</saml2:Audience>") {
		t.Errorf("good request: %d %s", code, body)
	}
	p.SetACSOverride("https://evil/")
	_, body = post(t, srv.URL, "bob", "pw", authn)
	if !strings.Contains(body, `AssertionConsumerServiceURL="https://evil/"`) {
		t.Errorf("override ignored: %s", body)
	}
	withHeader := strings.Replace(authn, "<S:Body>", "<S:Header/><S:Body>", 1)
	if code, _ := post(t, srv.URL, "bob", "pw", withHeader); code != 500 {
		t.Errorf("forwarded SP header accepted: %d", code)
	}
	if code, _ := post(t, srv.URL, "bob", "pw", `<!DOCTYPE x>`+authn); code != 500 {
		t.Errorf("DTD accepted: %d", code)
	}
	if p.Calls() != 5 {
		t.Errorf("calls = %d", p.Calls())
	}
}

func TestRecorder(t *testing.T) {
	r := NewRecorder()
	srv := httptest.NewServer(r)
	defer srv.Close()
	if r.Count() != 0 {
		t.Fatal("fresh recorder counted")
	}
	post(t, srv.URL, "", "", "x")
	if r.Count() != 1 {
		t.Errorf("count = %d", r.Count())
	}
}
