package ecp

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

const spEnvelope = `<?xml version="1.0" encoding="UTF-8"?>
<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Header><paos:Request xmlns:paos="urn:liberty:paos:2003-08" S:actor="http://schemas.xmlsoap.org/soap/actor/next" S:mustUnderstand="1" responseConsumerURL="https://sp.example/ECP" service="urn:oasis:names:tc:SAML:2.0:profiles:SSO:ecp"/><ecp:Request xmlns:ecp="urn:oasis:names:tc:SAML:2.0:profiles:SSO:ecp" IsPassive="0"><saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">https://sp.example/</saml:Issuer></ecp:Request><ecp:RelayState xmlns:ecp="urn:oasis:names:tc:SAML:2.0:profiles:SSO:ecp" S:actor="http://schemas.xmlsoap.org/soap/actor/next" S:mustUnderstand="1">ss:mem:abc&amp;def</ecp:RelayState></S:Header><S:Body><samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_req1" AssertionConsumerServiceURL="https://sp.example/ECP"/></S:Body></S:Envelope>`

// idpEnvelope uses other prefixes and declares the ECP namespace on the root,
// as real IdPs may: matching must be by namespace, not prefix.
const idpEnvelope = `<soap11:Envelope xmlns:soap11="http://schemas.xmlsoap.org/soap/envelope/" xmlns:e="urn:oasis:names:tc:SAML:2.0:profiles:SSO:ecp"><soap11:Header><e:Response AssertionConsumerServiceURL="https://sp.example/ECP" soap11:mustUnderstand="1"/></soap11:Header><soap11:Body><saml2p:Response xmlns:saml2p="urn:oasis:names:tc:SAML:2.0:protocol" InResponseTo="_req1"><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">  sig  </ds:Signature></saml2p:Response></soap11:Body></soap11:Envelope>`

func TestParseSPRequest(t *testing.T) {
	r, err := ParseSPRequest([]byte(spEnvelope))
	if err != nil {
		t.Fatal(err)
	}
	if r.RelayState != "ss:mem:abc&def" || r.ResponseConsumerURL != "https://sp.example/ECP" {
		t.Errorf("got %+v", r)
	}
	s := string(r.IdPRequest)
	if strings.Contains(s, "Header") || strings.Contains(s, "RelayState") || !strings.Contains(s, `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_req1"`) {
		t.Errorf("header not stripped cleanly: %s", s)
	}
	if _, err := ParseSPRequest(r.IdPRequest); err == nil {
		t.Error("an envelope without header was accepted as an SP request")
	}
}

func TestParseSPRequestRejects(t *testing.T) {
	relay := `<ecp:RelayState xmlns:ecp="urn:oasis:names:tc:SAML:2.0:profiles:SSO:ecp">x</ecp:RelayState>`
	for name, doc := range map[string]string{
		"doctype":     `<!DOCTYPE x [<!ENTITY a "b">]>` + spEnvelope[strings.Index(spEnvelope, "<S:"):],
		"two relays":  strings.Replace(spEnvelope, "</S:Header>", relay+"</S:Header>", 1),
		"no relay":    strings.Replace(spEnvelope, "ecp:RelayState", "ecp:Other", 2),
		"wrong ns":    strings.Replace(spEnvelope, `xmlns:paos="urn:liberty:paos:2003-08"`, `xmlns:paos="urn:other"`, 1),
		"no consumer": strings.Replace(spEnvelope, "responseConsumerURL=", "x=", 1),
		"not soap":    `<Envelope><Header/></Envelope>`,
		"truncated":   spEnvelope[:len(spEnvelope)-20],
		"empty body":  strings.Replace(spEnvelope, spEnvelope[strings.Index(spEnvelope, "<samlp:"):strings.Index(spEnvelope, "</S:Body>")], "", 1),
		"huge":        spEnvelope + strings.Repeat(" ", MaxBody),
		"soap12":      strings.ReplaceAll(spEnvelope, "http://schemas.xmlsoap.org/soap/envelope/", "http://www.w3.org/2003/05/soap-envelope"),
	} {
		if _, err := ParseSPRequest([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	_, err := ParseSPRequest([]byte(`<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"/>`))
	if !errors.Is(err, ErrDTD) {
		t.Errorf("DTD: %v", err)
	}
}

func TestIdPResponseForSP(t *testing.T) {
	r, err := ParseIdPResponse([]byte(idpEnvelope))
	if err != nil {
		t.Fatal(err)
	}
	if r.AssertionConsumerServiceURL != "https://sp.example/ECP" {
		t.Errorf("ACS = %q", r.AssertionConsumerServiceURL)
	}
	out := r.ForSP("ss:mem:<&>")
	// The body, signature whitespace included, passes byte for byte.
	body := idpEnvelope[strings.Index(idpEnvelope, "<soap11:Body>"):]
	if !bytes.HasSuffix(out, []byte(body)) {
		t.Errorf("body altered:\n%s", out)
	}
	sp, err := scan(out)
	if err != nil {
		t.Fatalf("rewritten envelope does not parse: %v\n%s", err, out)
	}
	if len(sp.headerKids) != 1 || !is(sp.headerKids[0].name, NSECP, "RelayState") || sp.headerKids[0].text != "ss:mem:<&>" {
		t.Errorf("header = %+v", sp.headerKids)
	}
}

func TestParseIdPResponseRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"fault":       string(Fault("nope")),
		"no response": strings.Replace(idpEnvelope, "e:Response", "e:Other", 1),
		"no acs":      strings.Replace(idpEnvelope, "AssertionConsumerServiceURL=", "X=", 1),
		"two":         strings.Replace(idpEnvelope, "</soap11:Header>", `<e:Response AssertionConsumerServiceURL="https://evil/"/></soap11:Header>`, 1),
		"entity":      `<!ENTITY x "y">` + idpEnvelope,
	} {
		if _, err := ParseIdPResponse([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestFault(t *testing.T) {
	ok, text := IsFault(Fault("a < b"))
	if !ok || !strings.Contains(text, "a < b") {
		t.Errorf("IsFault = %v %q", ok, text)
	}
	if ok, _ := IsFault([]byte(idpEnvelope)); ok {
		t.Error("a response is not a fault")
	}
}

func FuzzParseSPRequest(f *testing.F) {
	f.Add([]byte(spEnvelope))
	f.Add([]byte(idpEnvelope))
	f.Add(Fault("x"))
	f.Add([]byte(`<!DOCTYPE a><a/>`))
	f.Add([]byte(`<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Header/><S:Body/></S:Envelope>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseSPRequest(b)
		if err != nil {
			return
		}
		if r.ResponseConsumerURL == "" || len(r.IdPRequest) >= len(b) {
			t.Fatalf("accepted without consumer or without stripping: %q", b)
		}
		// What goes to the IdP must still be a SOAP envelope, minus header.
		d, err := scan(r.IdPRequest)
		if err != nil || d.header != nil {
			t.Fatalf("stripped envelope broken (%v): %q", err, r.IdPRequest)
		}
	})
}

func FuzzParseIdPResponse(f *testing.F) {
	f.Add([]byte(idpEnvelope), "relay")
	f.Add([]byte(spEnvelope), "x")
	f.Add(Fault("x"), "")
	f.Add([]byte(`<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Header/><S:Body/></S:Envelope>`), "r")
	f.Fuzz(func(t *testing.T, b []byte, relay string) {
		r, err := ParseIdPResponse(b)
		if err != nil {
			return
		}
		if r.AssertionConsumerServiceURL == "" {
			t.Fatal("accepted without ACS")
		}
		out := r.ForSP(relay)
		d, err := scan(out)
		if err != nil {
			t.Fatalf("rewritten envelope broken: %v: %q", err, out)
		}
		if len(d.headerKids) != 1 || !is(d.headerKids[0].name, NSECP, "RelayState") {
			t.Fatalf("rewritten header wrong: %q", out)
		}
	})
}
