package secret

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const canary = "CANARY-s3cr3t-7f1e"

func TestNeverPrinted(t *testing.T) {
	v := New(canary)
	type holder struct {
		Name string
		Key  Value
		Ptr  *Value
	}
	h := holder{Name: "x", Key: v, Ptr: &v}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		outs = append(outs, fmt.Sprintf(verb, v), fmt.Sprintf(verb, h))
	}
	outs = append(outs, fmt.Sprint(v), fmt.Sprintln(h), fmt.Errorf("wrap: %v", v).Error(),
		errors.New(fmt.Sprint(h)).Error())
	j, _ := json.Marshal(h)
	outs = append(outs, string(j))
	var buf bytes.Buffer
	for _, hd := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
		l := slog.New(hd)
		l.Info("msg", "key", v, "holder", h, "ptr", &v)
	}
	outs = append(outs, buf.String())
	for _, o := range outs {
		if strings.Contains(o, canary) || strings.Contains(o, fmt.Sprintf("%x", canary)) {
			t.Errorf("secret leaked: %s", o)
		}
	}
	if v.Reveal() != canary {
		t.Fatalf("Reveal = %q", v.Reveal())
	}
}

func TestZeroWipesCopies(t *testing.T) {
	v := New(canary)
	c := v
	v.Zero()
	if strings.Contains(string(c.Bytes()), "CANARY") {
		t.Fatalf("copy not wiped: %q", c.Bytes())
	}
	if c.Len() != len(canary) {
		t.Fatalf("length changed")
	}
}
