// Package signer implements Huawei Cloud's SDK-HMAC-SHA256 request signing
// (the AK/SK scheme of the API gateway), without Huawei's SDK.
//
// The scheme differs from AWS SigV4 in ways that matter: the canonical URI
// always ends in '/', the string to sign carries the X-Sdk-Date value instead
// of a credential scope, and the secret key signs directly with no key
// derivation.
package signer

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/credd-dev/credd/secret"
)

const (
	// Algorithm names the scheme in the Authorization header and the string to sign.
	Algorithm = "SDK-HMAC-SHA256"
	// DateHeader carries the signing time.
	DateHeader = "X-Sdk-Date"
	// DateFormat is the layout of DateHeader (basic ISO 8601, UTC).
	DateFormat = "20060102T150405Z"
	// SecurityTokenHeader carries the session token of a temporary AK/SK.
	SecurityTokenHeader = "X-Security-Token"
)

// signed lists the headers Sign covers when the request carries them. Host
// and X-Sdk-Date are always signed; the others only when present.
var signed = []string{"content-type", "host", "x-sdk-date", "x-security-token", "x-project-id", "x-domain-id"}

// Signer signs requests with one AK/SK pair.
type Signer struct {
	AccessKey string       // the AK, an identifier
	SecretKey secret.Value // the SK
	// SecurityToken, when set, is sent as X-Security-Token (temporary AK/SK).
	SecurityToken secret.Value
	Now           func() time.Time // nil means time.Now
}

// Sign sets X-Sdk-Date (and X-Security-Token when the signer has one) and the
// Authorization header on r. body must be the exact bytes r will send.
func (s Signer) Sign(r *http.Request, body []byte) error {
	if s.AccessKey == "" || s.SecretKey.IsEmpty() {
		return errors.New("sign request: empty access key or secret key")
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	r.Header.Set(DateHeader, now().UTC().Format(DateFormat))
	if !s.SecurityToken.IsEmpty() {
		r.Header.Set(SecurityTokenHeader, s.SecurityToken.Reveal())
	}
	var names []string
	for _, h := range signed {
		if h == "host" || r.Header.Get(h) != "" {
			names = append(names, h)
		}
	}
	canonical := CanonicalRequest(r, body, names)
	sig := Signature(s.SecretKey.Bytes(), StringToSign(r.Header.Get(DateHeader), canonical))
	r.Header.Set("Authorization", FormatAuthorization(s.AccessKey, names, sig))
	return nil
}

// CanonicalRequest builds the canonical form of r over the given header
// names (lower case, any order).
func CanonicalRequest(r *http.Request, body []byte, signedHeaders []string) string {
	names := make([]string, len(signedHeaders))
	for i, h := range signedHeaders {
		names[i] = strings.ToLower(strings.TrimSpace(h))
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(CanonicalURI(r.URL))
	b.WriteByte('\n')
	b.WriteString(CanonicalQuery(r.URL))
	b.WriteByte('\n')
	for _, h := range names {
		b.WriteString(h)
		b.WriteByte(':')
		b.WriteString(headerValue(r, h))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(names, ";"))
	b.WriteByte('\n')
	sum := sha256.Sum256(body)
	b.WriteString(hex.EncodeToString(sum[:]))
	return b.String()
}

func headerValue(r *http.Request, name string) string {
	if name == "host" {
		// Client requests keep the host in URL.Host; server requests in r.Host.
		if r.Host != "" {
			return r.Host
		}
		return r.URL.Host
	}
	return strings.TrimSpace(strings.Join(r.Header.Values(name), ","))
}

// CanonicalURI escapes each path segment and ends the result in '/', as the
// gateway does whether or not the request path has a trailing slash.
func CanonicalURI(u *url.URL) string {
	segs := strings.Split(u.Path, "/")
	for i, s := range segs {
		segs[i] = escape(s)
	}
	p := strings.Join(segs, "/")
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// CanonicalQuery sorts parameters by name, then by value, escaping both.
func CanonicalQuery(u *url.URL) string {
	q := u.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vals := append([]string(nil), q[k]...)
		sort.Strings(vals)
		for _, v := range vals {
			parts = append(parts, escape(k)+"="+escape(v))
		}
	}
	return strings.Join(parts, "&")
}

// escape percent-encodes everything but RFC 3986 unreserved characters.
func escape(s string) string {
	const hexdig = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdig[c>>4])
		b.WriteByte(hexdig[c&15])
	}
	return b.String()
}

// StringToSign joins the algorithm, the X-Sdk-Date value and the hash of the
// canonical request.
func StringToSign(date, canonicalRequest string) string {
	sum := sha256.Sum256([]byte(canonicalRequest))
	return Algorithm + "\n" + date + "\n" + hex.EncodeToString(sum[:])
}

// Signature is hex(HMAC-SHA256(sk, stringToSign)).
func Signature(sk []byte, stringToSign string) string {
	m := hmac.New(sha256.New, sk)
	m.Write([]byte(stringToSign))
	return hex.EncodeToString(m.Sum(nil))
}

// FormatAuthorization renders the Authorization header value.
func FormatAuthorization(ak string, signedHeaders []string, signature string) string {
	names := make([]string, len(signedHeaders))
	for i, h := range signedHeaders {
		names[i] = strings.ToLower(h)
	}
	sort.Strings(names)
	return fmt.Sprintf("%s Access=%s, SignedHeaders=%s, Signature=%s", Algorithm, ak, strings.Join(names, ";"), signature)
}

// Authorization is a parsed SDK-HMAC-SHA256 Authorization header.
type Authorization struct {
	Access        string
	SignedHeaders []string
	Signature     string
}

// ParseAuthorization parses an Authorization header value.
func ParseAuthorization(v string) (Authorization, error) {
	var a Authorization
	rest, ok := strings.CutPrefix(v, Algorithm+" ")
	if !ok {
		return a, errors.New("parse authorization: not " + Algorithm)
	}
	for part := range strings.SplitSeq(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, fmt.Errorf("parse authorization: malformed field %q", part)
		}
		switch k {
		case "Access":
			a.Access = val
		case "SignedHeaders":
			a.SignedHeaders = strings.Split(val, ";")
		case "Signature":
			a.Signature = val
		default:
			return a, fmt.Errorf("parse authorization: unknown field %q", k)
		}
	}
	if a.Access == "" || len(a.SignedHeaders) == 0 || a.Signature == "" {
		return a, errors.New("parse authorization: missing Access, SignedHeaders or Signature")
	}
	return a, nil
}

// Verify checks r's signature against sk and returns the signing time. It
// requires Host and X-Sdk-Date to be signed. It does not judge the time: the
// caller decides how much skew it accepts.
func Verify(r *http.Request, body []byte, sk []byte) (Authorization, time.Time, error) {
	a, err := ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return a, time.Time{}, err
	}
	var host, date bool
	for _, h := range a.SignedHeaders {
		host = host || h == "host"
		date = date || h == "x-sdk-date"
	}
	if !host || !date {
		return a, time.Time{}, errors.New("verify signature: host and x-sdk-date must be signed")
	}
	t, err := time.Parse(DateFormat, r.Header.Get(DateHeader))
	if err != nil {
		return a, time.Time{}, fmt.Errorf("verify signature: bad %s: %w", DateHeader, err)
	}
	want := Signature(sk, StringToSign(r.Header.Get(DateHeader), CanonicalRequest(r, body, a.SignedHeaders)))
	if !hmac.Equal([]byte(want), []byte(a.Signature)) {
		return a, t, errors.New("verify signature: signature mismatch")
	}
	return a, t, nil
}
