package logging

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/credd-dev/credd/secret"
)

func TestJournalHandler(t *testing.T) {
	var out bytes.Buffer
	lv := new(slog.LevelVar)
	lv.Set(slog.LevelDebug)
	l := slog.New(NewJournalHandler(&out, lv)).With("profile", "p")
	l.Debug("d")
	l.Info("i", "k", 1)
	l.Warn("w\nsecond line")
	l.Error("e", "key", secret.New("CANARY-7731"))
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	want := []string{`<7>msg=d profile=p`, `<6>msg=i profile=p k=1`, `<4>msg="w\nsecond line" profile=p`, `<3>msg=e profile=p key=[redacted]`}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines: %q", len(lines), out.String())
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d = %q, want %q", i, lines[i], want[i])
		}
	}
	if strings.Contains(out.String(), "time=") || strings.Contains(out.String(), "CANARY") {
		t.Errorf("timestamp or secret in journal output: %q", out.String())
	}
}

func TestParseLevel(t *testing.T) {
	if l, err := ParseLevel("warn"); err != nil || l != slog.LevelWarn {
		t.Fatal(l, err)
	}
	if _, err := ParseLevel("loud"); err == nil {
		t.Fatal("accepted a bad level")
	}
}
