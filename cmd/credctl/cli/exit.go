package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"

	"github.com/credd-dev/credd/client"
)

// Exit codes. Scripts depend on them; SPEC §7 fixes 0–5. exec uses the
// codes POSIX shells and env(1) use for a command that cannot be run.
const (
	exitOK          = 0
	exitUsage       = 1 // bad command line, and any failure not listed below
	exitNotRunning  = 2 // the daemon is not reachable
	exitUnknown     = 3 // unknown profile or key
	exitDenied      = 4 // the daemon refused the caller
	exitUnavailable = 5 // the daemon could not obtain credentials
	exitCantExec    = 126
	exitNoCommand   = 127
)

// usageError is a mistake on the command line.
type usageError struct{ err error }

func (u *usageError) Error() string { return u.err.Error() }
func (u *usageError) Unwrap() error { return u.err }

func usageErr(err error) error {
	var u *usageError
	if err == nil || errors.As(err, &u) {
		return err
	}
	return &usageError{err}
}

// hinted attaches a hint line to an error.
type hinted struct {
	err  error
	hint string
}

func (h *hinted) Error() string { return h.err.Error() }
func (h *hinted) Unwrap() error { return h.err }

func withHint(err error, hint string) error { return &hinted{err, hint} }

// naming says what kind of name a not-found error is about, so the hint can
// list the known ones by the right word.
type naming struct {
	err  error
	noun string // "profiles" or "keys"
}

func (n *naming) Error() string { return n.err.Error() }
func (n *naming) Unwrap() error { return n.err }

func aboutProfiles(err error) error {
	if err == nil {
		return nil
	}
	return &naming{err, "profiles"}
}

func aboutKeys(err error) error {
	if err == nil {
		return nil
	}
	return &naming{err, "keys"}
}

// cmdError is a failure to start the command given to exec.
type cmdError struct {
	name string
	err  error
}

func (c *cmdError) Error() string {
	err := c.err
	// exec.Error repeats the command's name; say it once.
	var ee *exec.Error
	if errors.As(err, &ee) {
		err = ee.Err
	}
	if errors.Is(err, exec.ErrNotFound) {
		return fmt.Sprintf("exec %s: command not found in $PATH", c.name)
	}
	return fmt.Sprintf("exec %s: %v", c.name, err)
}
func (c *cmdError) Unwrap() error { return c.err }

// report prints err as "credctl: ..." lines with hints and returns the exit
// code for it. It is the one place that maps errors to exit codes.
func report(w io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	code, hints := classify(err)
	fmt.Fprintf(w, "credctl: %s\n", oneLine(err.Error()))
	for _, h := range hints {
		if h != "" {
			fmt.Fprintf(w, "credctl: hint: %s\n", h)
		}
	}
	return code
}

func classify(err error) (int, []string) {
	var hints []string
	var h *hinted
	if errors.As(err, &h) {
		hints = append(hints, h.hint)
	}
	var u *usageError
	if errors.As(err, &u) {
		return exitUsage, append(hints, "run 'credctl --help' for usage")
	}
	var ce *cmdError
	if errors.As(err, &ce) {
		if errors.Is(ce.err, exec.ErrNotFound) || errors.Is(ce.err, os.ErrNotExist) {
			return exitNoCommand, hints
		}
		return exitCantExec, hints
	}
	if client.IsNotRunning(err) {
		start := "systemctl --user start credd.socket"
		switch {
		case runtime.GOOS == "darwin":
			start = "launchctl kickstart gui/$(id -u)/dev.credd.credd"
		case os.Getuid() == 0:
			start = "systemctl start credd.socket"
		}
		return exitNotRunning, append(hints,
			"start the daemon with `credd`, or `"+start+"`; use --socket or $CREDD_SOCKET if it listens elsewhere")
	}
	ae, ok := client.AsAPIError(err)
	if !ok {
		if errors.Is(err, syscall.EACCES) {
			return exitDenied, append(hints, "the socket belongs to another user; ask for a socket_group in credd's config")
		}
		return exitUsage, hints
	}
	hints = append(hints, ae.Hint)
	switch {
	case client.IsNotFound(err):
		return exitUnknown, append(hints, knownHint(err, ae.Known))
	case client.IsAccessDenied(err):
		return exitDenied, hints
	case client.IsUnavailable(err):
		return exitUnavailable, hints
	}
	// A read-only keystore and a rejected config are neither "denied" nor
	// "unknown": the hint says what to do.
	return exitUsage, hints
}

func knownHint(err error, known []string) string {
	noun := "names"
	var n *naming
	if errors.As(err, &n) {
		noun = n.noun
	}
	if len(known) == 0 {
		if noun == "profiles" {
			return "no profiles are visible to you; see `credctl profiles` and credd's config"
		}
		if noun == "keys" {
			return "see `credctl key list`"
		}
		return ""
	}
	return "known " + noun + ": " + strings.Join(known, ", ")
}

// oneLine keeps a multi-line message readable after the "credctl: "
// prefix by indenting its continuation lines.
func oneLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return strings.ReplaceAll(s, "\n", "\n  ")
}
