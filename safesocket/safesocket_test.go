package safesocket

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestListenPermissionsAndPeer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "credd.sock")
	l, err := Listen(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v", fi.Mode().Perm())
	}
	di, _ := os.Stat(filepath.Dir(path))
	if di.Mode().Perm() != 0o700 {
		t.Errorf("created directory mode %v", di.Mode().Perm())
	}
	go func() {
		c, err := net.Dial("unix", path)
		if err == nil {
			defer c.Close()
			c.Read(make([]byte, 1))
		}
	}()
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, err := PeerOf(c)
	if err != nil {
		t.Fatal(err)
	}
	if p.UID != uint32(os.Getuid()) || p.PID != int32(os.Getpid()) || !p.InGroup(uint32(os.Getgid())) {
		t.Fatalf("peer = %v, want our own uid/pid", p)
	}
	// Supplementary groups come from the kernel (SO_PEERGROUPS).
	gs, _ := os.Getgroups()
	for _, g := range gs {
		if !p.InGroup(uint32(g)) {
			t.Errorf("peer groups %v lack our group %d", p.Groups, g)
		}
	}
	p.LoadUnit() // our own pid, our own uid: believed
	if b, err := os.ReadFile("/proc/self/cgroup"); err == nil && p.Unit != UnitFromCgroup(string(b)) {
		t.Errorf("unit %q, want %q", p.Unit, UnitFromCgroup(string(b)))
	}
}

func TestLiveDaemonIsNotReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credd.sock")
	l, err := Listen(path, 0o660)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := Listen(path, 0); !errors.Is(err, ErrInUse) {
		t.Fatalf("second listen: %v, want ErrInUse", err)
	}
}

func TestStaleSocketIsReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credd.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close() // leaves the file behind, like a crashed daemon
	if _, err := os.Stat(path); err != nil {
		t.Fatal("stale socket file missing:", err)
	}
	l2, err := Listen(path, 0)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	l2.Close()
}

func TestRegularFileInTheWay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credd.sock")
	os.WriteFile(path, []byte("x"), 0o600)
	if _, err := Listen(path, 0); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("err = %v", err)
	}
}

func TestUnitFromCgroup(t *testing.T) {
	for in, want := range map[string]string{
		"0::/system.slice/backup.service\n":                                          "backup.service",
		"0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-foo.scope\n": "app-foo.scope",
		"0::/user.slice/user-1000.slice/session-3.scope\n":                           "session-3.scope",
		"12:pids:/\n1:name=systemd:/system.slice/nginx.service\n0::/\n":              "nginx.service",
		"0::/\n":                      "",
		"0::/system.slice\n":          "",
		"0::/init.scope\n":            "init.scope",
		"garbage":                     "",
		"0::/system.slice/.service\n": "",
	} {
		if got := UnitFromCgroup(in); got != want {
			t.Errorf("UnitFromCgroup(%q) = %q, want %q", in, got, want)
		}
	}
}
