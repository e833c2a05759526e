package keystore

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/credd-dev/credd/secret"
)

// canary is a secret value that must never show up in an error, a log line
// or a formatted entry.
const canary = "CANARY-keystore-9d2b71"

func tencentEntry(name, secretKey string) Entry {
	return Entry{Name: name, Kind: "tencent", Fields: map[string]secret.Value{
		"secret_id":  secret.New("AKIDexample"),
		"secret_key": secret.New(secretKey),
	}}
}

// assertNoCanary fails when any of the texts holds the canary.
func assertNoCanary(t *testing.T, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(s, canary) {
			t.Errorf("secret leaked into %q", s)
		}
	}
}

// errText is err's text, or "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// formatted renders e every way a careless log line or error could.
func formatted(e Entry) []string {
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("entry", "e", e)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("entry", "e", e)
	return []string{fmt.Sprintf("%v %+v %#v %s", e, e, e, e), buf.String()}
}

func assertEntry(t *testing.T, got, want Entry) {
	t.Helper()
	if got.Name != want.Name || got.Kind != want.Kind || len(got.Fields) != len(want.Fields) {
		t.Fatalf("entry = %s/%s with %d fields, want %s/%s with %d", got.Name, got.Kind, len(got.Fields), want.Name, want.Kind, len(want.Fields))
	}
	for k, v := range want.Fields {
		if !got.Fields[k].Equal(v) {
			t.Errorf("field %q differs (len %d, want %d)", k, got.Fields[k].Len(), v.Len())
		}
	}
}
