// Package logging builds credd's slog handler: colour (tint) on a terminal,
// priority-prefixed lines without timestamps under journald, plain text
// otherwise, and JSON on request.
package logging

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lmittmann/tint"
	"golang.org/x/term"
)

// Formats.
const (
	FormatAuto = "auto"
	FormatText = "text"
	FormatJSON = "json"
)

// ParseLevel parses "debug", "info", "warn" or "error".
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log level %q is not one of debug, info, warn, error", s)
	}
	return l, nil
}

// New returns a logger writing to w in the given format ("auto", "text" or
// "json") at the level held by lv, so a reload can change it.
func New(w *os.File, format string, lv *slog.LevelVar) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case FormatJSON:
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case FormatText:
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case FormatAuto, "":
	default:
		return nil, fmt.Errorf("log format %q is not one of auto, text, json", format)
	}
	switch {
	case underJournal(w):
		return slog.New(NewJournalHandler(w, lv)), nil
	case term.IsTerminal(int(w.Fd())):
		return slog.New(tint.NewTextHandler(w, &tint.Options{Level: lv, TimeFormat: time.Kitchen})), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

// underJournal reports whether w is the stream systemd named in
// $JOURNAL_STREAM ("DEV:INODE"), i.e. whether journald reads our output.
func underJournal(w *os.File) bool {
	js := os.Getenv("JOURNAL_STREAM")
	if js == "" {
		return false
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(w.Fd()), &st); err != nil {
		return false
	}
	return js == fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

// JournalHandler writes one line per record prefixed with its syslog
// priority ("<3>" for errors ... "<7>" for debug) so `journalctl -p warning`
// filters work, and without a timestamp, which journald adds itself.
type JournalHandler struct {
	mu    *sync.Mutex
	out   io.Writer
	buf   *bytes.Buffer
	inner slog.Handler // writes into buf
}

// NewJournalHandler returns a JournalHandler writing to w.
func NewJournalHandler(w io.Writer, lv slog.Leveler) *JournalHandler {
	buf := new(bytes.Buffer)
	inner := slog.NewTextHandler(buf, &slog.HandlerOptions{
		Level: lv,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
				return slog.Attr{}
			}
			return a
		},
	})
	return &JournalHandler{mu: new(sync.Mutex), out: w, buf: buf, inner: inner}
}

// Enabled implements slog.Handler.
func (h *JournalHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

// Handle implements slog.Handler.
func (h *JournalHandler) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.buf.Reset()
	fmt.Fprintf(h.buf, "<%d>", priority(r.Level))
	if err := h.inner.Handle(ctx, r); err != nil {
		return err
	}
	// Multi-line values would become several journal entries; keep one.
	line := strings.TrimSuffix(h.buf.String(), "\n")
	line = strings.ReplaceAll(line, "\n", `\n`) + "\n"
	_, err := io.WriteString(h.out, line)
	return err
}

// WithAttrs implements slog.Handler.
func (h *JournalHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &JournalHandler{mu: h.mu, out: h.out, buf: h.buf, inner: h.inner.WithAttrs(as)}
}

// WithGroup implements slog.Handler.
func (h *JournalHandler) WithGroup(name string) slog.Handler {
	return &JournalHandler{mu: h.mu, out: h.out, buf: h.buf, inner: h.inner.WithGroup(name)}
}

// priority maps slog levels to syslog priorities.
func priority(l slog.Level) int {
	switch {
	case l >= slog.LevelError:
		return 3
	case l >= slog.LevelWarn:
		return 4
	case l >= slog.LevelInfo:
		return 6
	}
	return 7
}
