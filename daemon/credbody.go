package daemon

import (
	"time"
	"unicode/utf8"

	"github.com/credd-dev/credd/providers"
)

// credentialsBody renders the body of GET /v1/profiles/{name}/credentials
// (apitype.Credentials) straight from the secret bytes, so that the secrets
// never become Go strings, which cannot be wiped. The caller clears the
// returned buffer once it is written. Output is byte for byte what
// encoding/json produces for apitype.Credentials.
func credentialsBody(name, provider, region string, c providers.Credential) []byte {
	b := make([]byte, 0, 192+len(name)+len(region)+len(c.AccessKeyID)+2*(c.Secret.Len()+c.SessionToken.Len()))
	b = append(b, `{"profile":`...)
	b = appendJSONString(b, []byte(name))
	b = append(b, `,"provider":`...)
	b = appendJSONString(b, []byte(provider))
	if region != "" {
		b = append(b, `,"region":`...)
		b = appendJSONString(b, []byte(region))
	}
	b = append(b, `,"access_key_id":`...)
	b = appendJSONString(b, []byte(c.AccessKeyID))
	b = append(b, `,"secret_access_key":`...)
	b = appendJSONString(b, c.Secret.Bytes())
	b = append(b, `,"session_token":`...)
	b = appendJSONString(b, c.SessionToken.Bytes())
	b = append(b, `,"expiration":"`...)
	b = c.Expiration.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, "\"}\n"...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaped as encoding/json
// does: quotes, backslashes and control characters; <, > and & for HTML;
// U+2028 and U+2029; invalid UTF-8 as U+FFFD.
func appendJSONString(b, s []byte) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
