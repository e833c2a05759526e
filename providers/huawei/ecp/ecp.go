// Package ecp parses and rewrites the SOAP envelopes of the SAML 2.0
// Enhanced Client or Proxy (ECP) profile, the way an ECP client must: it
// extracts the SP's RelayState and responseConsumerURL, strips the SOAP
// header before the AuthnRequest goes to the IdP, reads the IdP's
// AssertionConsumerServiceURL, and swaps the IdP's header for the SP's
// RelayState before the assertion goes back to the SP.
//
// Envelopes are rewritten by byte ranges rather than re-serialised, because
// encoding/xml does not round-trip namespace prefixes and a re-serialised
// assertion would break the IdP's XML signature. Parsing is namespace-aware,
// refuses DTDs (no DOCTYPE, no ENTITY) and is bounded by MaxBody.
package ecp

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Namespaces of the ECP profile.
const (
	NSSOAP  = "http://schemas.xmlsoap.org/soap/envelope/"
	NSECP   = "urn:oasis:names:tc:SAML:2.0:profiles:SSO:ecp"
	NSPAOS  = "urn:liberty:paos:2003-08"
	NSSAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
	NSSAML  = "urn:oasis:names:tc:SAML:2.0:assertion"

	// ContentType is the PAOS media type the SP speaks.
	ContentType = "application/vnd.paos+xml"
	// PAOSHeader is the PAOS header value that asks the SP for ECP.
	PAOSHeader = `ver="urn:liberty:paos:2003-08";"urn:oasis:names:tc:SAML:2.0:profiles:SSO:ecp"`

	// MaxBody caps every envelope this package accepts.
	MaxBody = 1 << 20
)

// ErrDTD rejects documents with a DOCTYPE or other directive: ECP never needs
// one, and a DTD is how entity-expansion attacks arrive.
var ErrDTD = errors.New("DOCTYPE or ENTITY declarations are not allowed")

// span is a byte range [start, end) in a document.
type span struct{ start, end int }

// element is one element of interest found while scanning.
type element struct {
	name  xml.Name
	attrs []xml.Attr
	text  string
	span  span
}

func (e element) attr(local string) (string, bool) {
	for _, a := range e.attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// doc is the shape of a scanned SOAP envelope.
type doc struct {
	header     *span     // the whole S:Header element
	headerKids []element // direct children of S:Header
	bodyKids   []element // direct children of S:Body
	fault      bool      // S:Body holds an S:Fault
	faultText  string
}

// scan walks a SOAP 1.1 envelope and records the spans and elements ECP needs.
func scan(b []byte) (*doc, error) {
	if len(b) > MaxBody {
		return nil, fmt.Errorf("envelope larger than %d bytes", MaxBody)
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	var (
		out   doc
		depth int
		// path holds the names of open elements.
		path []xml.Name
		// cur is the header or body child being read, with its start offset.
		cur      *element
		curStart int
		text     strings.Builder
		inFault  bool
	)
	for {
		off := int(d.InputOffset())
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("malformed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return nil, ErrDTD
		case xml.StartElement:
			depth++
			path = append(path, t.Name)
			switch {
			case depth == 1:
				if t.Name.Space != NSSOAP || t.Name.Local != "Envelope" {
					return nil, fmt.Errorf("root element is {%s}%s, not a SOAP envelope", t.Name.Space, t.Name.Local)
				}
			case depth == 2 && is(t.Name, NSSOAP, "Header"):
				if out.header != nil {
					return nil, errors.New("more than one SOAP header")
				}
				out.header = &span{start: off}
			case depth == 3 && (is(path[1], NSSOAP, "Header") || is(path[1], NSSOAP, "Body")):
				cur = &element{name: t.Name, attrs: t.Attr}
				curStart = off
				text.Reset()
				if is(path[1], NSSOAP, "Body") && is(t.Name, NSSOAP, "Fault") {
					out.fault, inFault = true, true
				}
			}
		case xml.CharData:
			if cur != nil && depth >= 3 {
				text.Write(t)
			}
		case xml.EndElement:
			end := int(d.InputOffset())
			switch {
			case depth == 3 && cur != nil:
				cur.text = strings.TrimSpace(text.String())
				cur.span = span{curStart, end}
				if is(path[1], NSSOAP, "Header") {
					out.headerKids = append(out.headerKids, *cur)
				} else if is(path[1], NSSOAP, "Body") {
					out.bodyKids = append(out.bodyKids, *cur)
					if inFault {
						out.faultText = cur.text
						inFault = false
					}
				}
				cur = nil
			case depth == 2 && out.header != nil && is(t.Name, NSSOAP, "Header") && out.header.end == 0:
				out.header.end = end
			}
			depth--
			path = path[:len(path)-1]
		}
	}
	if depth != 0 || len(path) != 0 {
		return nil, errors.New("malformed XML: unclosed elements")
	}
	return &out, nil
}

func is(n xml.Name, space, local string) bool { return n.Space == space && n.Local == local }

// AuthnRequest is what the SP's PAOS request carries.
type AuthnRequest struct {
	// RelayState is the text of the SP's ecp:RelayState header block; it
	// must be returned to the SP verbatim.
	RelayState string
	// ResponseConsumerURL is where the SP wants the IdP's response.
	ResponseConsumerURL string
	// IdPRequest is the envelope with its SOAP header removed, ready to send
	// to the IdP.
	IdPRequest []byte
}

// ParseSPRequest reads the SP's PAOS envelope. It requires exactly one
// ecp:RelayState and one paos:Request with a responseConsumerURL in the
// header, and a non-empty body.
func ParseSPRequest(b []byte) (*AuthnRequest, error) {
	d, err := scan(b)
	if err != nil {
		return nil, fmt.Errorf("parse SP envelope: %w", err)
	}
	if d.header == nil {
		return nil, errors.New("parse SP envelope: no SOAP header")
	}
	var relay, req []element
	for _, e := range d.headerKids {
		switch {
		case is(e.name, NSECP, "RelayState"):
			relay = append(relay, e)
		case is(e.name, NSPAOS, "Request"):
			req = append(req, e)
		}
	}
	if len(relay) != 1 {
		return nil, fmt.Errorf("parse SP envelope: want exactly one ecp:RelayState, found %d", len(relay))
	}
	if len(req) != 1 {
		return nil, fmt.Errorf("parse SP envelope: want exactly one paos:Request, found %d", len(req))
	}
	rcu, ok := req[0].attr("responseConsumerURL")
	if !ok || rcu == "" {
		return nil, errors.New("parse SP envelope: paos:Request has no responseConsumerURL")
	}
	if len(d.bodyKids) == 0 {
		return nil, errors.New("parse SP envelope: empty SOAP body")
	}
	out := make([]byte, 0, len(b))
	out = append(out, b[:d.header.start]...)
	out = append(out, b[d.header.end:]...)
	return &AuthnRequest{RelayState: relay[0].text, ResponseConsumerURL: rcu, IdPRequest: out}, nil
}

// IdPResponse is what the IdP's ECP response carries.
type IdPResponse struct {
	// AssertionConsumerServiceURL is where the IdP means the assertion to go.
	AssertionConsumerServiceURL string
	envelope                    []byte
	header                      span
}

// ParseIdPResponse reads the IdP's envelope: exactly one ecp:Response with an
// AssertionConsumerServiceURL in the header, and a body that is not a SOAP
// fault.
func ParseIdPResponse(b []byte) (*IdPResponse, error) {
	d, err := scan(b)
	if err != nil {
		return nil, fmt.Errorf("parse IdP envelope: %w", err)
	}
	if d.fault {
		return nil, fmt.Errorf("parse IdP envelope: the IdP answered with a SOAP fault: %q", truncate(d.faultText, 200))
	}
	if d.header == nil {
		return nil, errors.New("parse IdP envelope: no SOAP header")
	}
	var resp []element
	for _, e := range d.headerKids {
		if is(e.name, NSECP, "Response") {
			resp = append(resp, e)
		}
	}
	if len(resp) != 1 {
		return nil, fmt.Errorf("parse IdP envelope: want exactly one ecp:Response, found %d", len(resp))
	}
	acs, ok := resp[0].attr("AssertionConsumerServiceURL")
	if !ok || acs == "" {
		return nil, errors.New("parse IdP envelope: ecp:Response has no AssertionConsumerServiceURL")
	}
	if len(d.bodyKids) == 0 {
		return nil, errors.New("parse IdP envelope: empty SOAP body")
	}
	return &IdPResponse{AssertionConsumerServiceURL: acs, envelope: b, header: *d.header}, nil
}

// ForSP returns the IdP's envelope with its SOAP header replaced by one that
// carries only the SP's RelayState, as the ECP profile requires. The body
// (the signed assertion) is passed through byte for byte.
func (r *IdPResponse) ForSP(relayState string) []byte {
	var h bytes.Buffer
	h.WriteString(`<S:Header xmlns:S="` + NSSOAP + `"><ecp:RelayState xmlns:ecp="` + NSECP +
		`" S:actor="http://schemas.xmlsoap.org/soap/actor/next" S:mustUnderstand="1">`)
	_ = xml.EscapeText(&h, []byte(relayState))
	h.WriteString(`</ecp:RelayState></S:Header>`)
	out := make([]byte, 0, len(r.envelope)+h.Len())
	out = append(out, r.envelope[:r.header.start]...)
	out = append(out, h.Bytes()...)
	out = append(out, r.envelope[r.header.end:]...)
	return out
}

// Fault is the SOAP fault an ECP client sends the SP when it refuses to relay
// the IdP's response (the consumer URLs differ).
func Fault(reason string) []byte {
	var b bytes.Buffer
	b.WriteString(`<S:Envelope xmlns:S="` + NSSOAP + `"><S:Body><S:Fault><faultcode>S:Server</faultcode><faultstring>`)
	_ = xml.EscapeText(&b, []byte(reason))
	b.WriteString(`</faultstring></S:Fault></S:Body></S:Envelope>`)
	return b.Bytes()
}

// IsFault reports whether b is a SOAP envelope whose body is a fault, and
// returns the fault's text.
func IsFault(b []byte) (bool, string) {
	d, err := scan(b)
	if err != nil {
		return false, ""
	}
	return d.fault, d.faultText
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
