package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// openSocket lets every local user reach the socket, so that the daemon's
// per-profile rules, not file permissions, decide.
func (e *env) openSocket() {
	e.t.Helper()
	body, err := os.ReadFile(e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.writeConfig(strings.Replace(string(body), "[daemon]\n", "[daemon]\nsocket_mode = \"0666\"\n", 1))
	// t.TempDir's parent is private too.
	for d := e.dir; d != filepath.Dir(d) && strings.HasPrefix(d, os.TempDir()+"/"); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	os.MkdirAll(filepath.Dir(e.sock), 0o755)
	os.Chmod(filepath.Dir(e.sock), 0o755)
}

// needRoot fails under CI (which runs as root) and skips elsewhere when the
// test cannot switch to other uids.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Getuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root; this test needs it to switch uid")
		}
		t.Skip("needs root to run credctl as other users")
	}
}

// asUser runs credctl under setpriv with the given identity options.
func (e *env) asUser(ids []string, args ...string) result {
	e.t.Helper()
	cmd := exec.Command(need(e.t, "setpriv"), append(ids, append([]string{bins.credctl}, args...)...)...)
	cmd.Env = e.environ()
	return e.run(cmd, "")
}

// TestACLMatrix runs credctl as other users (setpriv) against profiles
// opened by uid, by gid (primary and supplementary) and by systemd unit.
func TestACLMatrix(t *testing.T) {
	needRoot(t)
	emu := startTencent(t)
	e := newEnv(t, tencentProfile("by-uid", emu.URL, "allow_uids = [65534]")+
		tencentProfile("by-gid", emu.URL, "allow_gids = [4242]")+
		tencentProfile("by-unit", emu.URL, `allow_units = ["backup.service"]`)+
		tencentProfile("closed", emu.URL, ""))
	e.openSocket()
	e.start()
	e.storeKey("tc-main")

	// A cgroup whose path names a unit, as systemd would make for backup.service.
	cg := ""
	for _, root := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		dir := filepath.Join(root, fmt.Sprintf("credd-e2e-%d.slice", os.Getpid()), "backup.service")
		if err := os.MkdirAll(dir, 0o755); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "cgroup.procs")); err == nil {
				cg = dir
				t.Cleanup(func() { os.Remove(dir); os.Remove(filepath.Dir(dir)) })
				break
			}
			os.Remove(dir)
			os.Remove(filepath.Dir(dir))
		}
	}
	if cg == "" && os.Getenv("CI") == "true" {
		t.Fatal("cannot create a cgroup for the allow_units case")
	}

	type peer struct {
		name  string
		ids   []string // setpriv options
		inCg  bool
		reads []string // profiles it may read; the others are denied
	}
	peers := []peer{
		{"uid 65534", []string{"--reuid=65534", "--regid=65534", "--clear-groups"}, false, []string{"by-uid"}},
		{"primary gid 4242", []string{"--reuid=65533", "--regid=4242", "--clear-groups"}, false, []string{"by-gid"}},
		{"supplementary gid 4242", []string{"--reuid=65533", "--regid=65533", "--groups=4242"}, false, []string{"by-gid"}},
		{"stranger", []string{"--reuid=65533", "--regid=65533", "--clear-groups"}, false, nil},
		{"stranger in backup.service", []string{"--reuid=65533", "--regid=65533", "--clear-groups"}, true, []string{"by-unit"}},
	}
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			if p.inCg && cg == "" {
				t.Skip("cgroups cannot be written on this machine (documented: allow_units is then untestable here)")
			}
			run := func(args ...string) result {
				if !p.inCg {
					return e.asUser(p.ids, args...)
				}
				cmdline := append(append([]string{need(t, "setpriv")}, p.ids...), append([]string{bins.credctl}, args...)...)
				cmd := exec.Command("sh", append([]string{"-c", `echo $$ > "$CG/cgroup.procs" && exec "$@"`, "sh"}, cmdline...)...)
				cmd.Env = append(e.environ(), "CG="+cg)
				return e.run(cmd, "")
			}
			for _, prof := range []string{"by-uid", "by-gid", "by-unit", "closed"} {
				r := run("get", prof)
				allowed := false
				for _, a := range p.reads {
					allowed = allowed || a == prof
				}
				switch {
				case allowed && r.code != 0:
					t.Errorf("%s: get %s: exit %d, want 0\n%s", p.name, prof, r.code, r.stderr)
				case !allowed && r.code != 4:
					t.Errorf("%s: get %s: exit %d, want 4 (denied)\n%s", p.name, prof, r.code, r.stderr)
				}
			}
			// The profile list shows only what the peer may read.
			r := run("profiles", "--json")
			for _, prof := range []string{"by-uid", "by-gid", "by-unit", "closed"} {
				want := false
				for _, a := range p.reads {
					want = want || a == prof
				}
				if got := strings.Contains(r.stdout, `"`+prof+`"`); got != want {
					t.Errorf("%s: profiles lists %s = %v, want %v", p.name, prof, got, want)
				}
			}
			// Keys and reload are the daemon's own uid's (or root's) alone.
			for _, args := range [][]string{{"reload"}, {"key", "list"}} {
				if r := run(args...); r.code != 4 {
					t.Errorf("%s: %v: exit %d, want 4", p.name, args, r.code)
				}
			}
		})
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "access denied") || !strings.Contains(logs, "rule=") || !strings.Contains(logs, "uid=65534") {
		t.Errorf("denials are not logged with the peer's uid and the rule:\n%s", logs)
	}

	// A reload that adds allow_uids opens the profile to that uid at once.
	stranger := peers[3].ids
	body, _ := os.ReadFile(e.cfg)
	e.writeConfig(string(body) + "allow_uids = [65533]\n") // the last table: "closed"
	e.must(e.credctl("", "reload"))
	if r := e.asUser(stranger, "get", "closed"); r.code != 0 {
		t.Fatalf("after allow_uids was added: exit %d\n%s", r.code, r.stderr)
	}
}

// TestSocketGroup: with socket_mode 0660 and socket_group, members of the
// group reach the socket (and the profile rules decide), others do not.
func TestSocketGroup(t *testing.T) {
	needRoot(t)
	emu := startTencent(t)
	e := newEnv(t, tencentProfile("shared", emu.URL, "allow_gids = [4243]"))
	e.openSocket()
	body, _ := os.ReadFile(e.cfg)
	e.writeConfig(strings.Replace(string(body), `socket_mode = "0666"`, "socket_mode = \"0660\"\nsocket_group = \"4243\"", 1))
	e.start()
	e.storeKey("tc-main")

	fi, err := os.Stat(e.sock)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != 0o660 || st.Gid != 4243 {
		t.Fatalf("socket mode %v gid %d, want 0660 gid 4243", fi.Mode().Perm(), st.Gid)
	}
	if r := e.asUser([]string{"--reuid=65533", "--regid=65533", "--groups=4243"}, "get", "shared"); r.code != 0 {
		t.Fatalf("group member: exit %d\n%s", r.code, r.stderr)
	}
	r := e.asUser([]string{"--reuid=65533", "--regid=65533", "--clear-groups"}, "get", "shared")
	if r.code != 4 || !strings.Contains(r.stderr, "socket_group") {
		t.Fatalf("outsider: exit %d, want 4 with a socket_group hint\n%s", r.code, r.stderr)
	}
}
