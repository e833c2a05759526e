package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/credd-dev/credd/tests/tencentemu"
)

// notifySocket collects sd_notify datagrams the way systemd would.
type notifySocket struct {
	path string
	mu   sync.Mutex
	msgs []string
}

func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	n := &notifySocket{path: filepath.Join(t.TempDir(), "notify.sock")}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: n.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := c.Read(buf)
			if err != nil {
				return
			}
			n.mu.Lock()
			n.msgs = append(n.msgs, string(buf[:k]))
			n.mu.Unlock()
		}
	}()
	return n
}

func (n *notifySocket) all() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.msgs, "\n--\n")
}

func (n *notifySocket) has(s string) bool { return strings.Contains(n.all(), s) }

func TestSdNotify(t *testing.T) {
	emu := startTencent(t)
	e := newEnv(t, tencentProfile("demo", emu.URL, ""))
	ns := listenNotify(t)
	e.extra = []string{"NOTIFY_SOCKET=" + ns.path, "WATCHDOG_USEC=300000"}
	e.start()
	waitFor(t, "READY=1", func() bool { return ns.has("READY=1") })
	if !ns.has("STATUS=serving 1 profiles") {
		t.Errorf("no STATUS= with READY=1: %q", ns.all())
	}
	waitFor(t, "WATCHDOG=1", func() bool { return ns.has("WATCHDOG=1") })

	body, _ := os.ReadFile(e.cfg)
	e.writeConfig(string(body) + tencentProfile("two", emu.URL, ""))
	syscall.Kill(e.daemon.Process.Pid, syscall.SIGHUP)
	waitFor(t, "RELOADING=1", func() bool { return ns.has("RELOADING=1\nMONOTONIC_USEC=") })
	waitFor(t, "READY=1 after reload", func() bool { return ns.has("STATUS=serving 2 profiles") })

	e.writeConfig(string(body) + "[profiles.bad]\nprovider = 7\n")
	e.credctl("", "reload")
	waitFor(t, "STATUS with the reload error", func() bool { return ns.has("last reload failed") })

	e.stop()
	if !ns.has("STOPPING=1") {
		t.Fatalf("no STOPPING=1: %q", ns.all())
	}
}

func TestSocketActivation(t *testing.T) {
	ssa := need(t, "systemd-socket-activate")
	emu := startTencent(t)
	e := newEnv(t, tencentProfile("demo", emu.URL, ""))
	args := []string{"-l", e.sock}
	for _, kv := range e.environ() {
		args = append(args, "-E", kv)
	}
	os.MkdirAll(filepath.Dir(e.sock), 0o700)
	args = append(args, bins.credd, "--log-format", "text")
	cmd := exec.Command(ssa, args...)
	e.startCmd(cmd)
	e.storeKey("tc-main")
	st := e.status()
	if !st.SocketActivated {
		t.Fatalf("status does not report socket activation: %+v", st)
	}
	e.must(e.credctl("", "get", "demo"))
}

func TestStaleSocketAfterCrash(t *testing.T) {
	emu := startTencent(t)
	e := newEnv(t, tencentProfile("demo", emu.URL, ""))
	e.start()
	e.storeKey("tc-main")
	// A second daemon refuses to steal the live one's socket.
	second := exec.Command(bins.credd)
	second.Env = e.environ()
	out, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "already") {
		t.Fatalf("second credd: %v\n%s", err, out)
	}
	// SIGKILL leaves the socket file behind; a new daemon replaces it.
	syscall.Kill(-e.daemon.Process.Pid, syscall.SIGKILL)
	<-e.exited
	e.daemon = nil
	if _, err := os.Stat(e.sock); err != nil {
		t.Fatalf("socket file gone after SIGKILL: %v", err)
	}
	e.start()
	e.must(e.credctl("", "get", "demo"))
}

func TestRealKeyring(t *testing.T) {
	need(t, "dbus-run-session")
	need(t, "gnome-keyring-daemon")
	script, _ := filepath.Abs("../keyring-session.sh")
	emu := startTencent(t)
	e := newEnv(t, tencentProfile("demo", emu.URL, ""))
	body, _ := os.ReadFile(e.cfg)
	e.writeConfig(strings.Replace(string(body), `keystore = "file"`, `keystore = "keyring"`, 1))
	e.startCmd(exec.Command(script, bins.credd, "--log-format", "text"))
	e.storeKey("tc-main")
	r := e.must(e.credctl("", "key", "list"))
	if !strings.Contains(r.stdout, "tc-main") {
		t.Fatalf("key list: %q", r.stdout)
	}
	if st := e.status(); st.Keystore != "keyring" {
		t.Fatalf("keystore backend %q", st.Keystore)
	}
	e.must(e.credctl("", "get", "demo"))
	e.must(e.credctl("", "key", "rm", "tc-main"))
	if r := e.credctl("", "refresh", "demo"); r.code != 5 {
		t.Fatalf("refresh after key rm: exit %d %q", r.code, r.stderr)
	}
	// The keyring's files never hold the secret in clear.
	filepath.Walk(e.dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && fi.Size() < 1<<20 {
			if b, _ := os.ReadFile(p); strings.Contains(string(b), canarySecretKey) {
				t.Errorf("%s holds the secret key in clear", p)
			}
		}
		return nil
	})
}

// TestNoCoreDumps: credd holds secrets in memory, so it turns core dumps off.
func TestNoCoreDumps(t *testing.T) {
	emu := startTencent(t)
	e := newEnv(t, tencentProfile("demo", emu.URL, ""))
	e.start()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", e.daemon.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "Max core file size") {
			if f := strings.Fields(line); len(f) < 6 || f[4] != "0" || f[5] != "0" {
				t.Fatalf("core dumps still allowed: %q", line)
			}
			return
		}
	}
	t.Fatalf("no core limit in /proc/PID/limits:\n%s", b)
}

// TestJournalLogFormat: under journald (JOURNAL_STREAM names credd's
// stderr) every line carries a <N> priority prefix and no timestamp, so
// `journalctl -p warning` filters work and times are not doubled.
func TestJournalLogFormat(t *testing.T) {
	emu := startTencent(t)
	e := newEnv(t, tencentProfile("demo", emu.URL, ""))
	logPath := filepath.Join(e.dir, "journal.log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	e.extra = []string{fmt.Sprintf("JOURNAL_STREAM=%d:%d", st.Dev, st.Ino)}
	cmd := exec.Command(bins.credd) // --log-format auto (the default)
	cmd.Env = e.environ()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	e.exited = make(chan error, 1)
	go func() { e.exited <- cmd.Wait() }()
	e.logs = &lockedBuffer{}
	e.waitReady()
	e.storeKey("tc-main")
	e.must(e.credctl("", "get", "demo"))
	e.credctl("", "get", "nope")
	emu.SetFault(tencentemu.Fault{Kind: tencentemu.ServerError})
	e.credctl("", "refresh", "demo") // a failed fetch logs a warning
	syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
	<-e.exited

	b, _ := os.ReadFile(logPath)
	e.assertNoSecrets("journal output", string(b))
	var warn, info int
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if len(line) < 3 || line[0] != '<' || line[2] != '>' || line[1] < '0' || line[1] > '7' {
			t.Errorf("line without a priority prefix: %q", line)
		}
		if strings.Contains(line, ">time=") || strings.Contains(line, " time=") {
			t.Errorf("timestamp under journald: %q", line)
		}
		switch {
		case strings.HasPrefix(line, "<4>"):
			warn++
		case strings.HasPrefix(line, "<6>"):
			info++
		}
	}
	if warn == 0 || info == 0 {
		t.Fatalf("want info and warning lines, got:\n%s", b)
	}
}
