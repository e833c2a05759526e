package keystore

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/credd-dev/credd/secret"
)

func TestCodecRoundTrip(t *testing.T) {
	values := []string{
		"plain",
		`quote " backslash \ slash /`,
		"control \x00\x01\x1f\x7f\n\r\t end",
		"unicode é 中文 🔑 \u2028\u2029",
		strings.Repeat("x", 4096),
	}
	for _, v := range values {
		e := Entry{Name: "k", Kind: "password", Fields: map[string]secret.Value{
			"username": secret.New("user"), "password": secret.New(v),
		}}
		data := encodeEntry(e)
		if !json.Valid(data) {
			t.Fatalf("encodeEntry produced invalid JSON for %q", v)
		}
		// encoding/json must read our output the same way.
		var std struct {
			Kind   string            `json:"kind"`
			Fields map[string]string `json:"fields"`
		}
		if err := json.Unmarshal(data, &std); err != nil || std.Fields["password"] != v || std.Kind != "password" {
			t.Fatalf("encoding/json reads %q back as %q (err %v)", v, std.Fields["password"], err)
		}
		got, err := DecodeEntry("k", data)
		if err != nil {
			t.Fatalf("decode %q: %v", v, err)
		}
		assertEntry(t, got, e)
	}
}

func TestDecodeEntryErrorsHideData(t *testing.T) {
	bad := []string{
		`{"kind":"tencent","fields":{"secret_key":` + canary + `}}`,
		`{"kind":"tencent","fields":{"secret_key":"` + canary + `"},"extra":"` + canary + `"}`,
		`{"kind":"tencent","fields":{"secret_key":"` + canary + `\q"}}`,
		`{"kind":"tencent","fields":{"secret_key":["` + canary + `"]}}`,
		`{"kind":"tencent","fields":{"secret_key":"` + canary + `"}} {"x":1}`,
		`{"kind":"tencent","fields":{"secret_key":null}}`,
		`{"kind":"` + canary + "\xff" + `","fields":{}}`,
		`{"kind":"tencent","fields":{"secret_key":"` + canary + "\xff" + `"}}`,
		"{\"kind\":\"tencent\",\"fields\":{\"secret_key\":\"" + canary + "\x01\"}}",
		`["` + canary + `"]`,
	}
	for _, b := range bad {
		_, err := DecodeEntry("k", []byte(b))
		if err == nil {
			// Invalid UTF-8 in the kind is caught by Validate, not the decoder.
			if strings.Contains(b, `"kind":"`+canary) {
				continue
			}
			t.Errorf("decode %q: no error", b)
			continue
		}
		assertNoCanary(t, err.Error())
		if !strings.Contains(err.Error(), `key "k"`) {
			t.Errorf("error does not name the key: %v", err)
		}
	}
}

func TestUnquoteJSON(t *testing.T) {
	cases := map[string]string{
		`""`:                   "",
		`"a\"b"`:               `a"b`,
		`"\u00e9\u4e2d"`:       "é中",
		`"\ud83d\udd11"`:       "🔑",
		`"\ud83d"`:             "\ufffd",
		`"\ud83dx"`:            "\ufffdx",
		`"\/\b\f\n\r\t\\"`:     "/\b\f\n\r\t\\",
		`"\u0000"`:             "\x00",
		`"` + "é" + `"`:        "é",
		`"\uDC00\uD800\uDC00"`: "\ufffd𐀀",
	}
	for in, want := range cases {
		got, err := unquoteJSON([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("unquoteJSON(%s) = %q, %v; want %q", in, got, err, want)
		}
		var std string
		if err := json.Unmarshal([]byte(in), &std); err != nil || std != want {
			t.Errorf("encoding/json disagrees on %s: %q", in, std)
		}
	}
	for _, in := range []string{`"`, `"\"`, `"\u12"`, `"\x"`, "\"a\x01\"", "\"\xff\"", `abc`} {
		if _, err := unquoteJSON([]byte(in)); err == nil {
			t.Errorf("unquoteJSON(%q): no error", in)
		}
	}
}

// FuzzDecodeEntry checks that the hand-written string decoder agrees with
// encoding/json on every input it accepts, and that encode/decode round-trips.
func FuzzDecodeEntry(f *testing.F) {
	f.Add([]byte(`{"kind":"tencent","fields":{"secret_id":"a","secret_key":"b\u00e9\n"}}`))
	f.Add([]byte(`{"kind":"password","fields":{"username":"\ud83d\udd11","password":"\\\""}}`))
	f.Add([]byte(`{"fields":{"x":"\ud800"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := DecodeEntry("k", data)
		if err != nil {
			return
		}
		var std struct {
			Kind   string            `json:"kind"`
			Fields map[string]string `json:"fields"`
		}
		if err := json.Unmarshal(data, &std); err != nil {
			t.Fatalf("DecodeEntry accepted what encoding/json rejects: %v", err)
		}
		for k, v := range e.Fields {
			if v.Reveal() != std.Fields[k] {
				t.Fatalf("field %q: got %q, encoding/json %q", k, v.Reveal(), std.Fields[k])
			}
			if !utf8.Valid(v.Bytes()) {
				t.Fatalf("field %q decoded to invalid UTF-8", k)
			}
		}
		again, err := DecodeEntry("k", encodeEntry(e))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		assertEntry(t, again, e)
	})
}
