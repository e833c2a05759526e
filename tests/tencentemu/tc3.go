package tencentemu

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// TC3Algorithm is the only API 3.0 signature algorithm.
const TC3Algorithm = "TC3-HMAC-SHA256"

// TC3Auth is a parsed TC3-HMAC-SHA256 Authorization header.
type TC3Auth struct {
	SecretID      string
	Date          string // credential scope date, 2006-01-02
	Service       string
	SignedHeaders []string // lowercase, as listed
	Signature     string   // lowercase hex
}

// ParseTC3Authorization parses
// "TC3-HMAC-SHA256 Credential=ID/DATE/SERVICE/tc3_request, SignedHeaders=a;b, Signature=HEX".
func ParseTC3Authorization(h string) (TC3Auth, error) {
	var a TC3Auth
	alg, rest, ok := strings.Cut(h, " ")
	if !ok || alg != TC3Algorithm {
		return a, errors.New("unsupported authorization algorithm")
	}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, errors.New("malformed authorization component")
		}
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 4 || f[3] != "tc3_request" || f[0] == "" {
				return a, errors.New("malformed credential scope")
			}
			a.SecretID, a.Date, a.Service = f[0], f[1], f[2]
		case "SignedHeaders":
			a.SignedHeaders = strings.Split(v, ";")
		case "Signature":
			a.Signature = v
		}
	}
	if a.SecretID == "" || len(a.SignedHeaders) == 0 || a.Signature == "" {
		return a, errors.New("incomplete authorization")
	}
	return a, nil
}

// TC3CanonicalRequest builds the canonical request from what was received:
// the method, path, raw query, the signed headers (lowercase name, trimmed
// lowercase value, in the order listed) and the payload's SHA-256 (or that
// of "UNSIGNED-PAYLOAD" when X-TC-Content-SHA256 says so).
func TC3CanonicalRequest(r *http.Request, body []byte, signed []string) string {
	path := r.URL.Path
	if path == "" {
		path = "/"
	}
	var hdrs strings.Builder
	for _, h := range signed {
		v := r.Header.Get(h)
		if h == "host" {
			v = r.Host
		}
		hdrs.WriteString(h + ":" + strings.ToLower(strings.TrimSpace(v)) + "\n")
	}
	payload := sha256Hex(body)
	if r.Header.Get("X-TC-Content-SHA256") == "UNSIGNED-PAYLOAD" {
		payload = sha256Hex([]byte("UNSIGNED-PAYLOAD"))
	}
	query := ""
	if r.Method == http.MethodGet {
		query = r.URL.RawQuery
	}
	return r.Method + "\n" + path + "\n" + query + "\n" + hdrs.String() + "\n" +
		strings.Join(signed, ";") + "\n" + payload
}

// TC3Signature returns the hex TC3-HMAC-SHA256 signature of a canonical
// request made at timestamp (Unix seconds) for service.
func TC3Signature(secretKey, service string, timestamp int64, canonicalRequest string) string {
	date := time.Unix(timestamp, 0).UTC().Format("2006-01-02")
	scope := date + "/" + service + "/tc3_request"
	sts := TC3Algorithm + "\n" + strconv.FormatInt(timestamp, 10) + "\n" + scope + "\n" + sha256Hex([]byte(canonicalRequest))
	k := hmacSHA256([]byte("TC3"+secretKey), date)
	k = hmacSHA256(k, service)
	k = hmacSHA256(k, "tc3_request")
	return hex.EncodeToString(hmacSHA256(k, sts))
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
