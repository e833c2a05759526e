package keystore

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/credd-dev/credd/secret"
)

// The stored form of an entry, in every backend, is the JSON object
// {"kind":"tencent","fields":{"secret_id":"...","secret_key":"..."}}
// (SPEC §3). The name is not stored: it is the keyring account, the file
// name or the systemd credential name.
//
// encoding/json would decode the fields into Go strings, which cannot be
// wiped, so the field values are decoded by hand into byte slices that become
// secret.Values, and encoding writes into a buffer the caller zeroes.

// secretField receives one field value without passing through a string.
type secretField struct{ b []byte }

// UnmarshalJSON decodes a JSON string into fresh bytes.
func (f *secretField) UnmarshalJSON(data []byte) error {
	b, err := unquoteJSON(data)
	if err != nil {
		return err
	}
	f.b = b
	return nil
}

// jsonSpan remembers where a value sits in the input without copying it.
type jsonSpan []byte

func (s *jsonSpan) UnmarshalJSON(data []byte) error {
	*s = data
	return nil
}

// DecodeEntry parses the stored form of the entry called name, which is also
// the body of the daemon's PUT /v1/keys/{name}. It does not
// keep references to data, so the caller may zero data afterwards. Errors
// never quote data: it holds secrets.
//
// json.Unmarshal works on data in place (a json.Decoder would copy it into
// a buffer nobody can wipe), and hands Unmarshalers sub-slices of it.
func DecodeEntry(name string, data []byte) (Entry, error) {
	var top map[string]jsonSpan
	if err := json.Unmarshal(data, &top); err != nil {
		return Entry{}, fmt.Errorf("decode key %q: malformed entry: %s", name, jsonErrorWithoutData(err))
	}
	for k := range top {
		if k != "kind" && k != "fields" {
			return Entry{}, fmt.Errorf("decode key %q: malformed entry: unknown member %q (want only \"kind\" and \"fields\")", name, k)
		}
	}
	var kind string
	if err := json.Unmarshal(top["kind"], &kind); top["kind"] == nil || err != nil {
		return Entry{}, fmt.Errorf("decode key %q: malformed entry: \"kind\" must be a string", name)
	}
	var fields map[string]*secretField
	if top["fields"] == nil {
		return Entry{}, fmt.Errorf("decode key %q: malformed entry: no \"fields\" object", name)
	}
	if err := json.Unmarshal(top["fields"], &fields); err != nil {
		wipeFields(fields)
		return Entry{}, fmt.Errorf("decode key %q: malformed entry: \"fields\": %s", name, jsonErrorWithoutData(err))
	}
	e := Entry{Name: name, Kind: kind, Fields: make(map[string]secret.Value, len(fields))}
	for k, f := range fields {
		if f == nil {
			e.Zero()
			wipeFields(fields)
			return Entry{}, fmt.Errorf("decode key %q: field %q is null", name, k)
		}
		e.Fields[k] = secret.FromBytes(f.b)
	}
	return e, nil
}

func wipeFields(m map[string]*secretField) {
	for _, f := range m {
		if f != nil {
			clear(f.b)
		}
	}
}

// jsonErrorWithoutData describes a decoding error by kind and offset only:
// encoding/json's messages can quote parts of the input.
func jsonErrorWithoutData(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("wrong JSON type for %q (want %s)", typ.Field, typ.Type)
		}
		return fmt.Sprintf("wrong JSON type (want %s)", typ.Type)
	case errors.Is(err, errBadString):
		return err.Error()
	default:
		return "invalid JSON"
	}
}

// encodeEntry returns the stored form of e. The caller zeroes the result
// once it is written.
func encodeEntry(e Entry) []byte {
	n := 32 + len(e.Kind)
	keys := make([]string, 0, len(e.Fields))
	for k, v := range e.Fields {
		keys = append(keys, k)
		n += 8 + len(k) + 2*v.Len()
	}
	slices.Sort(keys)
	buf := make([]byte, 0, n)
	buf = append(buf, `{"kind":`...)
	buf = secret.AppendJSONString(buf, []byte(e.Kind))
	buf = append(buf, `,"fields":{`...)
	for i, k := range keys {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = secret.AppendJSONString(buf, []byte(k))
		buf = append(buf, ':')
		buf = e.Fields[k].AppendJSON(buf)
	}
	buf = append(buf, "}}"...)
	return buf
}

var errBadString = errors.New("invalid JSON string")

// unquoteJSON decodes the JSON string literal data (quotes included) into a
// new byte slice.
func unquoteJSON(data []byte) ([]byte, error) {
	if len(data) < 2 || data[0] != '"' || data[len(data)-1] != '"' {
		return nil, fmt.Errorf("%w: field values must be strings", errBadString)
	}
	in := data[1 : len(data)-1]
	out := make([]byte, 0, len(in))
	for i := 0; i < len(in); {
		c := in[i]
		if c != '\\' {
			if c < 0x20 {
				clear(out)
				return nil, fmt.Errorf("%w: control character", errBadString)
			}
			if c >= utf8.RuneSelf {
				r, size := utf8.DecodeRune(in[i:])
				if r == utf8.RuneError && size == 1 {
					clear(out)
					return nil, fmt.Errorf("%w: invalid UTF-8", errBadString)
				}
				out = append(out, in[i:i+size]...)
				i += size
				continue
			}
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(in) {
			clear(out)
			return nil, fmt.Errorf("%w: truncated escape", errBadString)
		}
		switch e := in[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(in[i+2:])
			if !ok {
				clear(out)
				return nil, fmt.Errorf("%w: bad \\u escape", errBadString)
			}
			i += 6
			if utf16.IsSurrogate(r) {
				r2, ok := rune(0), false
				if i+1 < len(in) && in[i] == '\\' && in[i+1] == 'u' {
					r2, ok = hex4(in[i+2:])
				}
				if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
			continue
		default:
			clear(out)
			return nil, fmt.Errorf("%w: bad escape", errBadString)
		}
		i += 2
	}
	return out, nil
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
