// Package samlidp is a SAML 2.0 ECP identity provider for tests. It checks
// HTTP Basic credentials, parses the AuthnRequest the ECP client forwards,
// and answers with an ECP envelope whose SAML Response answers that request
// (InResponseTo, Destination, Recipient, Audience). It can be switched to
// name a different AssertionConsumerServiceURL, as a hostile or misconfigured
// IdP would, and offers a Recorder to prove nothing was sent there.
package samlidp

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"text/template"
	"time"
)

const (
	nsSOAP  = "http://schemas.xmlsoap.org/soap/envelope/"
	nsSAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsSAML  = "urn:oasis:names:tc:SAML:2.0:assertion"
)

// IdP is an ECP identity provider. It is an http.Handler; serve it at the
// URL profiles name as idp_url.
type IdP struct {
	EntityID string           // the Issuer of every response
	Now      func() time.Time // nil means time.Now

	mu       sync.Mutex
	users    map[string]string // name -> password
	override string            // AssertionConsumerServiceURL override
	calls    int
	failures int
}

// New returns an IdP that issues assertions as entityID.
func New(entityID string) *IdP {
	return &IdP{EntityID: entityID, users: map[string]string{}}
}

// AddUser lets user log in with pass.
func (p *IdP) AddUser(user, pass string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users[user] = pass
}

// SetACSOverride makes the IdP name url as the AssertionConsumerServiceURL
// instead of the one in the AuthnRequest. "" restores normal behaviour.
func (p *IdP) SetACSOverride(url string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.override = url
}

// Calls counts requests received; AuthFailures those refused for bad credentials.
func (p *IdP) Calls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

// AuthFailures counts requests refused with 401.
func (p *IdP) AuthFailures() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failures
}

// authnRequest is the part of a samlp:AuthnRequest the IdP reads.
type authnRequest struct {
	XMLName xml.Name `xml:"urn:oasis:names:tc:SAML:2.0:protocol AuthnRequest"`
	ID      string   `xml:"ID,attr"`
	ACS     string   `xml:"AssertionConsumerServiceURL,attr"`
	Issuer  string   `xml:"urn:oasis:names:tc:SAML:2.0:assertion Issuer"`
}

type envelope struct {
	XMLName xml.Name `xml:"http://schemas.xmlsoap.org/soap/envelope/ Envelope"`
	Header  *struct {
		Inner []byte `xml:",innerxml"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Header"`
	Body struct {
		AuthnRequest *authnRequest `xml:"urn:oasis:names:tc:SAML:2.0:protocol AuthnRequest"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
}

func (p *IdP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.calls++
	p.mu.Unlock()
	if r.Method != http.MethodPost {
		http.Error(w, "ECP requests are POSTed", http.StatusMethodNotAllowed)
		return
	}
	user, pass, ok := r.BasicAuth()
	p.mu.Lock()
	want, known := p.users[user]
	if !ok || !known || want != pass {
		p.failures++
		p.mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Basic realm="ECP"`)
		http.Error(w, "authentication failed", http.StatusUnauthorized)
		return
	}
	override := p.override
	p.mu.Unlock()

	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read request", http.StatusBadRequest)
		return
	}
	if bytes.Contains(body, []byte("<!")) {
		soapFault(w, "DTDs are not accepted")
		return
	}
	var env envelope
	if err := xml.Unmarshal(body, &env); err != nil {
		soapFault(w, "malformed envelope: "+err.Error())
		return
	}
	// The ECP client must strip the SP's header before forwarding.
	if env.Header != nil {
		soapFault(w, "the ECP client forwarded the SP's SOAP header")
		return
	}
	ar := env.Body.AuthnRequest
	if ar == nil || ar.ID == "" || ar.ACS == "" {
		soapFault(w, "no AuthnRequest with ID and AssertionConsumerServiceURL")
		return
	}
	acs := ar.ACS
	if override != "" {
		acs = override
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	t := now().UTC()
	var out bytes.Buffer
	err = responseTmpl.Execute(&out, map[string]string{
		"ACS":          acs,
		"Destination":  ar.ACS,
		"ID":           "_" + randHex(),
		"AssertionID":  "_" + randHex(),
		"InResponseTo": ar.ID,
		"Issuer":       p.EntityID,
		"Audience":     ar.Issuer,
		"User":         user,
		"Now":          t.Format(time.RFC3339),
		"NotOnOrAfter": t.Add(5 * time.Minute).Format(time.RFC3339),
	})
	if err != nil {
		http.Error(w, "render response", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.paos+xml")
	_, _ = w.Write(out.Bytes())
}

func soapFault(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusInternalServerError)
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(msg))
	fmt.Fprintf(w, `<S:Envelope xmlns:S="%s"><S:Body><S:Fault><faultcode>S:Client</faultcode><faultstring>%s</faultstring></S:Fault></S:Body></S:Envelope>`, nsSOAP, b.String())
}

func randHex() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// responseTmpl uses the prefixes Shibboleth uses (soap11, ecp, saml2p, saml2)
// so that clients are exercised with prefixes other than their own.
var responseTmpl = template.Must(template.New("r").Funcs(template.FuncMap{"x": xmlEscape}).Parse(
	`<?xml version="1.0" encoding="UTF-8"?>
<soap11:Envelope xmlns:soap11="` + nsSOAP + `"><soap11:Header><ecp:Response xmlns:ecp="urn:oasis:names:tc:SAML:2.0:profiles:SSO:ecp" AssertionConsumerServiceURL="{{x .ACS}}" soap11:actor="http://schemas.xmlsoap.org/soap/actor/next" soap11:mustUnderstand="1"/></soap11:Header><soap11:Body><saml2p:Response xmlns:saml2p="` + nsSAMLP + `" Destination="{{x .Destination}}" ID="{{.ID}}" InResponseTo="{{x .InResponseTo}}" IssueInstant="{{.Now}}" Version="2.0"><saml2:Issuer xmlns:saml2="` + nsSAML + `">{{x .Issuer}}</saml2:Issuer><saml2p:Status><saml2p:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></saml2p:Status><saml2:Assertion xmlns:saml2="` + nsSAML + `" ID="{{.AssertionID}}" IssueInstant="{{.Now}}" Version="2.0"><saml2:Issuer>{{x .Issuer}}</saml2:Issuer><saml2:Subject><saml2:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">{{x .User}}</saml2:NameID><saml2:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml2:SubjectConfirmationData InResponseTo="{{x .InResponseTo}}" NotOnOrAfter="{{.NotOnOrAfter}}" Recipient="{{x .Destination}}"/></saml2:SubjectConfirmation></saml2:Subject><saml2:Conditions NotBefore="{{.Now}}" NotOnOrAfter="{{.NotOnOrAfter}}"><saml2:AudienceRestriction><saml2:Audience>{{x .Audience}}</saml2:Audience></saml2:AudienceRestriction></saml2:Conditions><saml2:AuthnStatement AuthnInstant="{{.Now}}"><saml2:AuthnContext><saml2:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml2:AuthnContextClassRef></saml2:AuthnContext></saml2:AuthnStatement></saml2:Assertion></saml2p:Response></soap11:Body></soap11:Envelope>`))

func xmlEscape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// Recorder is an http.Handler that only counts the requests it receives.
// Point an IdP's ACS override at it and assert it saw nothing.
type Recorder struct{ n atomic.Int64 }

// NewRecorder returns a Recorder.
func NewRecorder() *Recorder { return &Recorder{} }

func (rc *Recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.n.Add(1)
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	w.WriteHeader(http.StatusOK)
}

// Count is the number of requests received.
func (rc *Recorder) Count() int { return int(rc.n.Load()) }
