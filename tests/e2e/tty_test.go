package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY returns a pseudo-terminal's controller and the path of its
// terminal end.
func openPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no pseudo-terminals: %v", err)
		}
		t.Skipf("no pseudo-terminals: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, fmt.Sprintf("/dev/pts/%d", n)
}

// TestKeySetPromptsWithoutEcho types a key into `credctl key set` on a real
// terminal: the prompts appear, the typed secret is never echoed back, and
// the daemon stores what was typed.
func TestKeySetPromptsWithoutEcho(t *testing.T) {
	emu := startTencent(t)
	e := newEnv(t, tencentProfile("demo", emu.URL, ""))
	e.start()
	m, ttyPath := openPTY(t)
	tty, err := os.OpenFile(ttyPath, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()

	cmd := exec.Command(bins.credctl, "key", "set", "tc-main", "--kind", "tencent")
	cmd.Env = e.environ()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var screen bytes.Buffer
	readUntil := func(want string) {
		t.Helper()
		buf := make([]byte, 1024)
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(screen.String(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("terminal never showed %q; it shows %q", want, screen.String())
			}
			m.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			n, _ := m.Read(buf)
			screen.Write(buf[:n])
		}
	}
	// Type only once credctl has turned echo off, as a person at the prompt
	// would: typeahead before that is echoed by the terminal itself.
	typeSecret := func(s string) {
		t.Helper()
		waitFor(t, "echo off", func() bool {
			tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
			return err == nil && tio.Lflag&unix.ECHO == 0
		})
		m.Write([]byte(s + "\r"))
	}
	readUntil("secret_id: ")
	typeSecret(canarySecretID)
	readUntil("secret_key: ")
	typeSecret(canarySecretKey)
	readUntil("stored key tc-main")
	if err := <-done; err != nil {
		t.Fatalf("credctl key set: %v\n%s", err, screen.String())
	}
	for _, s := range []string{canarySecretID, canarySecretKey} {
		if strings.Contains(screen.String(), s) {
			t.Fatalf("the terminal echoed what was typed: %q", screen.String())
		}
	}
	// What was typed is what the daemon stored: it signs upstream with it.
	e.must(e.credctl("", "get", "demo"))
}
