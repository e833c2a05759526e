package huaweiemu

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
	"text/template"
	"time"
)

type authnKind int

const (
	kindCredential authnKind = iota // /credential: answers a temporary AK/SK
	kindToken                       // /auth: answers an IAM token
)

// pendingAuthn is an AuthnRequest the SP issued and awaits a response to.
type pendingAuthn struct {
	idp        string
	relayState string
	resource   string // the protected URL to send the client back to
	kind       authnKind
	duration   time.Duration
	issued     time.Time
}

// session is what a consumed assertion establishes, behind a cookie.
type session struct {
	pending *pendingAuthn
	domain  string
	user    string
}

const sessionCookie = "_shibsession_iam"

func (s *Server) handleECPStart(kind authnKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		idpID, proto := r.PathValue("idp"), r.PathValue("proto")
		s.mu.Lock()
		idp, known := s.saml[idpID]
		s.mu.Unlock()
		if !known {
			iamError(w, http.StatusNotFound, "IAM.0004", "Could not find identity provider: "+idpID+".")
			return
		}
		if idp.protocol != proto {
			iamError(w, http.StatusNotFound, "IAM.0004", "Could not find protocol: "+proto+".")
			return
		}
		d := 900 * time.Second
		if kind == kindCredential {
			if v := r.URL.Query().Get("duration_seconds"); v != "" {
				var ok bool
				d, ok = checkDuration(w, []byte(`"`+v+`"`))
				if !ok {
					return
				}
			}
		}
		// A live session (set by the consumer) gets the resource.
		if c, err := r.Cookie(sessionCookie); err == nil {
			s.mu.Lock()
			sess := s.sessions[c.Value]
			delete(s.sessions, c.Value)
			s.mu.Unlock()
			if sess != nil && sess.pending.kind == kind && sess.pending.idp == idpID {
				if kind == kindCredential {
					writeJSON(w, http.StatusCreated, s.issueTemp(sess.domain, sess.user, sess.pending.duration))
				} else {
					s.writeToken(w, sess.domain, sess.user, "mapped")
				}
				return
			}
		}
		if !strings.Contains(r.Header.Get("Accept"), "application/vnd.paos+xml") ||
			!strings.Contains(r.Header.Get("PAOS"), "urn:oasis:names:tc:SAML:2.0:profiles:SSO:ecp") {
			// A browser: send it to the IdP's WebSSO login page.
			http.Redirect(w, r, "/v3-ext/auth/OS-FEDERATION/SSO/websso?idp="+url.QueryEscape(idpID), http.StatusFound)
			return
		}
		p := &pendingAuthn{
			idp:        idpID,
			relayState: "ss:mem:" + randHex(16),
			resource:   r.URL.RequestURI(),
			kind:       kind,
			duration:   d,
			issued:     s.now(),
		}
		id := "_" + randHex(16)
		s.mu.Lock()
		s.pending[id] = p
		s.mu.Unlock()
		var out bytes.Buffer
		_ = authnTmpl.Execute(&out, map[string]string{
			"ACS":        consumerURL(r),
			"ID":         id,
			"RelayState": p.relayState,
			"SP":         SPEntityID,
			"Now":        p.issued.Format(time.RFC3339),
		})
		w.Header().Set("Content-Type", "application/vnd.paos+xml")
		_, _ = w.Write(out.Bytes())
	}
}

func consumerURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + ConsumerPath
}

type samlResponse struct {
	InResponseTo string `xml:"InResponseTo,attr"`
	Destination  string `xml:"Destination,attr"`
	Issuer       string `xml:"urn:oasis:names:tc:SAML:2.0:assertion Issuer"`
	Status       struct {
		Code struct {
			Value string `xml:"Value,attr"`
		} `xml:"urn:oasis:names:tc:SAML:2.0:protocol StatusCode"`
	} `xml:"urn:oasis:names:tc:SAML:2.0:protocol Status"`
	Assertion *struct {
		Issuer  string `xml:"urn:oasis:names:tc:SAML:2.0:assertion Issuer"`
		Subject struct {
			NameID string `xml:"urn:oasis:names:tc:SAML:2.0:assertion NameID"`
			Conf   struct {
				Data struct {
					InResponseTo string `xml:"InResponseTo,attr"`
					Recipient    string `xml:"Recipient,attr"`
					NotOnOrAfter string `xml:"NotOnOrAfter,attr"`
				} `xml:"urn:oasis:names:tc:SAML:2.0:assertion SubjectConfirmationData"`
			} `xml:"urn:oasis:names:tc:SAML:2.0:assertion SubjectConfirmation"`
		} `xml:"urn:oasis:names:tc:SAML:2.0:assertion Subject"`
		Audience string `xml:"urn:oasis:names:tc:SAML:2.0:assertion Conditions>AudienceRestriction>Audience"`
	} `xml:"urn:oasis:names:tc:SAML:2.0:assertion Assertion"`
}

type consumerEnvelope struct {
	XMLName xml.Name `xml:"http://schemas.xmlsoap.org/soap/envelope/ Envelope"`
	Header  struct {
		RelayState []string   `xml:"urn:oasis:names:tc:SAML:2.0:profiles:SSO:ecp RelayState"`
		Response   []xml.Name `xml:"urn:oasis:names:tc:SAML:2.0:profiles:SSO:ecp Response"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Header"`
	Body struct {
		Response *samlResponse `xml:"urn:oasis:names:tc:SAML:2.0:protocol Response"`
		Fault    *struct {
			String string `xml:"faultstring"`
		} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Fault"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
}

// handleConsume is the SP's assertion consumer: it accepts a response only
// for an outstanding AuthnRequest, with its RelayState, from the IdP the
// request went to, addressed to this consumer, and only once.
func (s *Server) handleConsume(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	if bytes.Contains(body, []byte("<!DOCTYPE")) || bytes.Contains(body, []byte("<!ENTITY")) {
		iamError(w, http.StatusBadRequest, "IAM.0007", "DTDs are not accepted.")
		return
	}
	var env consumerEnvelope
	if err := xml.Unmarshal(body, &env); err != nil {
		iamError(w, http.StatusBadRequest, "IAM.0007", "The SAML response is not a SOAP envelope.")
		return
	}
	if f := env.Body.Fault; f != nil {
		s.mu.Lock()
		s.faults = append(s.faults, f.String)
		s.mu.Unlock()
		w.WriteHeader(http.StatusOK)
		return
	}
	reject := func(msg string) { iamError(w, http.StatusUnauthorized, "IAM.0001", "SAML authentication failed: "+msg) }
	resp := env.Body.Response
	if resp == nil || resp.Assertion == nil {
		reject("no SAML Response with an assertion")
		return
	}
	if len(env.Header.Response) != 0 {
		reject("the IdP's ecp:Response header was relayed to the SP")
		return
	}
	if len(env.Header.RelayState) != 1 {
		reject("want exactly one ecp:RelayState")
		return
	}
	s.mu.Lock()
	p := s.pending[resp.InResponseTo]
	delete(s.pending, resp.InResponseTo) // consumed, whatever the outcome
	idp := s.saml[p.idpOrEmpty()]
	s.mu.Unlock()
	now := s.now()
	switch {
	case p == nil:
		reject("InResponseTo matches no outstanding request")
	case now.Sub(p.issued) > 5*time.Minute:
		reject("the AuthnRequest has expired")
	case strings.TrimSpace(env.Header.RelayState[0]) != p.relayState:
		reject("RelayState mismatch")
	case resp.Issuer != idp.entityID || resp.Assertion.Issuer != idp.entityID:
		reject("unknown issuer")
	case resp.Status.Code.Value != "urn:oasis:names:tc:SAML:2.0:status:Success":
		reject("status " + resp.Status.Code.Value)
	case resp.Destination != consumerURL(r) || resp.Assertion.Subject.Conf.Data.Recipient != consumerURL(r):
		reject("destination mismatch")
	case resp.Assertion.Subject.Conf.Data.InResponseTo != resp.InResponseTo:
		reject("subject confirmation answers another request")
	case resp.Assertion.Audience != SPEntityID:
		reject("audience mismatch")
	case resp.Assertion.Subject.NameID == "":
		reject("no NameID")
	default:
		exp, err := time.Parse(time.RFC3339, resp.Assertion.Subject.Conf.Data.NotOnOrAfter)
		if err != nil || !now.Before(exp) {
			reject("the assertion has expired")
			return
		}
		sid := randHex(24)
		s.mu.Lock()
		s.sessions[sid] = &session{pending: p, domain: idp.domain, user: resp.Assertion.Subject.NameID}
		s.mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sid, Path: "/", HttpOnly: true})
		http.Redirect(w, r, p.resource, http.StatusFound)
	}
}

func (p *pendingAuthn) idpOrEmpty() string {
	if p == nil {
		return ""
	}
	return p.idp
}

var authnTmpl = template.Must(template.New("a").Parse(
	`<?xml version="1.0" encoding="UTF-8"?>
<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Header><paos:Request xmlns:paos="urn:liberty:paos:2003-08" S:actor="http://schemas.xmlsoap.org/soap/actor/next" S:mustUnderstand="1" responseConsumerURL="{{.ACS}}" service="urn:oasis:names:tc:SAML:2.0:profiles:SSO:ecp"/><ecp:Request xmlns:ecp="urn:oasis:names:tc:SAML:2.0:profiles:SSO:ecp" IsPassive="0" S:actor="http://schemas.xmlsoap.org/soap/actor/next" S:mustUnderstand="1"><saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">{{.SP}}</saml:Issuer></ecp:Request><ecp:RelayState xmlns:ecp="urn:oasis:names:tc:SAML:2.0:profiles:SSO:ecp" S:actor="http://schemas.xmlsoap.org/soap/actor/next" S:mustUnderstand="1">{{.RelayState}}</ecp:RelayState></S:Header><S:Body><samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" AssertionConsumerServiceURL="{{.ACS}}" ID="{{.ID}}" IssueInstant="{{.Now}}" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:PAOS" Version="2.0"><saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">{{.SP}}</saml:Issuer><samlp:NameIDPolicy AllowCreate="1"/></samlp:AuthnRequest></S:Body></S:Envelope>`))
