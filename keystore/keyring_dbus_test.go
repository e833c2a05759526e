//go:build unix && !darwin

package keystore

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// innerEnv tells a re-executed test binary that it runs inside the private
// D-Bus session its parent test set up, and which test it is.
const innerEnv = "CREDD_KEYSTORE_TEST_INNER"

// shortTempDir is a temporary directory with a path short enough for a
// Unix socket (t.TempDir can exceed the 108-byte limit).
func shortTempDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "ks")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// requireTools skips when a tool is missing, except under CI=true where the
// test must run.
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is required under CI=true: %v", tool, err)
			}
			t.Skipf("%s not installed", tool)
		}
	}
}

func TestCheckSessionBus(t *testing.T) {
	if err := checkSessionBusIn("unix:path=/x"); err != nil {
		t.Errorf("with an address: %v", err)
	}
	empty := t.TempDir()
	if err := checkSessionBusIn("", "", empty); !errors.Is(err, errNoSessionBus) {
		t.Errorf("without a bus: %v", err)
	}
	dir := shortTempDir(t)
	l, err := net.Listen("unix", filepath.Join(dir, "bus"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := checkSessionBusIn("", empty, dir); err != nil {
		t.Errorf("with $XDG_RUNTIME_DIR/bus: %v", err)
	}
}

// TestKeyringRealDBusHang points the real go-keyring at a bus that accepts
// connections and never answers: the call must give up at the timeout.
func TestKeyringRealDBusHang(t *testing.T) {
	sock := filepath.Join(shortTempDir(t), "bus")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	// Closing the connections ends the handshake the abandoned goroutine
	// is stuck in, so it does not outlive the test.
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+sock)

	s, err := Open(Options{Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = s.Get(context.Background(), "tc-main")
	took := time.Since(start)
	if !errors.Is(err, ErrKeyringTimeout) {
		t.Fatalf("Get on a silent bus = %v", err)
	}
	if took > 2*time.Second {
		t.Fatalf("Get took %v with a 300ms timeout", took)
	}
	mu.Lock()
	n := len(conns)
	mu.Unlock()
	if n == 0 {
		t.Fatal("go-keyring never connected to the silent bus: the test proves nothing")
	}
	t.Logf("timed out after %v: %v", took, err)
}

func TestKeyringRealDBusAbsent(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+filepath.Join(shortTempDir(t), "no-bus"))
	s, err := Open(Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Get(context.Background(), "tc-main")
	if !errors.Is(err, ErrKeyringUnavailable) || !strings.Contains(err.Error(), "no Secret Service") {
		t.Fatalf("Get without a bus = %v", err)
	}
}

// runInner re-executes this test binary for test name under cmd (a wrapper
// that sets up a D-Bus session), and fails with the inner output when the
// inner test fails.
func runInner(t *testing.T, name string, wrapper ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args := append(wrapper[1:], os.Args[0], "-test.run=^"+name+"$", "-test.v", "-test.count=1")
	cmd := exec.CommandContext(ctx, wrapper[0], args...)
	cmd.Env = append(os.Environ(), innerEnv+"="+name)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("inner %s: %v\n%s", name, err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+name) {
		t.Fatalf("inner %s did not run:\n%s", name, out)
	}
	t.Logf("inner %s:\n%s", name, out)
}

// TestKeyringGnomeKeyring runs the keyring backend against a real
// gnome-keyring-daemon in a private D-Bus session (tests/keyring-session.sh).
func TestKeyringGnomeKeyring(t *testing.T) {
	if os.Getenv(innerEnv) == t.Name() {
		gnomeKeyringInner(t)
		return
	}
	requireTools(t, "dbus-run-session", "dbus-send", "gnome-keyring-daemon")
	script, err := filepath.Abs(filepath.Join("..", "tests", "keyring-session.sh"))
	if err != nil {
		t.Fatal(err)
	}
	runInner(t, t.Name(), "sh", script)
}

func gnomeKeyringInner(t *testing.T) {
	if os.Getenv("CREDD_KEYRING_SESSION") != "1" {
		t.Fatal("not inside tests/keyring-session.sh")
	}
	ctx := context.Background()
	s, err := Open(Options{Backend: BackendKeyring, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	exerciseStore(t, s)

	// The stored item follows SPEC §3, as another Secret Service client sees it.
	if err := s.Set(ctx, tencentEntry("tc-main", canary)); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("secret-tool"); err != nil && os.Getenv("CI") == "true" {
		t.Fatalf("secret-tool (libsecret-tools) is required under CI=true: %v", err)
	} else if err == nil {
		out, err := exec.Command("secret-tool", "lookup", "service", "credd", "username", "tc-main").Output()
		if err != nil {
			t.Fatalf("secret-tool lookup: %v", err)
		}
		want := `{"kind":"tencent","fields":{"secret_id":"AKIDexample","secret_key":"` + canary + `"}}`
		if string(out) != want {
			t.Fatalf("secret-tool sees %d bytes, not the SPEC layout", len(out))
		}
	}

	// A locked collection: the call must end (an error naming the fix or a
	// timeout), never hang, and never show the secret.
	lock := exec.Command("dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.secrets",
		"/org/freedesktop/secrets", "org.freedesktop.Secret.Service.Lock",
		"array:objpath:/org/freedesktop/secrets/collection/login")
	if out, err := lock.CombinedOutput(); err != nil {
		t.Fatalf("lock the login collection: %v\n%s", err, out)
	}
	locked := NewKeyring(osKeyring{}, time.Second)
	start := time.Now()
	_, err = locked.Get(ctx, "tc-main")
	t.Logf("Get on a locked keyring after %v: %v", time.Since(start), err)
	if !errors.Is(err, ErrKeyringLocked) && !errors.Is(err, ErrKeyringTimeout) {
		t.Fatalf("Get on a locked keyring = %v", err)
	}
	if !strings.Contains(errText(err), "gnome-keyring-daemon --unlock") {
		t.Errorf("error does not say how to unlock: %v", err)
	}
	err = locked.Set(ctx, tencentEntry("tc-main", canary))
	if err == nil {
		t.Fatal("Set on a locked keyring succeeded")
	}
	assertNoCanary(t, err.Error())
}

// TestKeyringNoSecretService runs the real go-keyring on a private bus
// where nothing provides org.freedesktop.secrets.
func TestKeyringNoSecretService(t *testing.T) {
	if os.Getenv(innerEnv) == t.Name() {
		s, err := Open(Options{Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Get(context.Background(), "tc-main")
		if !errors.Is(err, ErrKeyringUnavailable) || !strings.Contains(err.Error(), "start gnome-keyring-daemon") {
			t.Fatalf("Get without a Secret Service = %v", err)
		}
		t.Logf("Get: %v", err)
		return
	}
	requireTools(t, "dbus-run-session")
	dir := t.TempDir()
	services := filepath.Join(dir, "services")
	if err := os.Mkdir(services, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "bus.conf")
	// No service files: nothing can be activated as org.freedesktop.secrets.
	if err := os.WriteFile(conf, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <auth>EXTERNAL</auth>
  <servicedir>`+services+`</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`), 0o600); err != nil {
		t.Fatal(err)
	}
	runInner(t, t.Name(), "dbus-run-session", "--config-file="+conf, "--")
}
