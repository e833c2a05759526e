package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDebPackage builds the .deb with packaging/build.sh (Go builds plus
// nfpm), installs it with dpkg, checks what it put on the system, upgrades
// it over itself and purges it. It compiles and changes the machine, so it
// runs only with CREDD_PACKAGE_TEST=1 or under CI=true (a throwaway machine
// running as root).
func TestDebPackage(t *testing.T) {
	ci := os.Getenv("CI") == "true"
	if !ci && os.Getenv("CREDD_PACKAGE_TEST") != "1" {
		t.Skip("builds and installs the .deb: set CREDD_PACKAGE_TEST=1 (as root) to run")
	}
	if os.Geteuid() != 0 {
		if ci {
			t.Fatal("the package test installs with dpkg and needs root under CI=true")
		}
		t.Skip("dpkg -i needs root")
	}
	dpkg := requireTool(t, "dpkg")
	requireTool(t, "go")
	requireTool(t, "gzip")
	if out, err := exec.Command("dpkg-query", "-W", "-f=${db:Status-Status}", "credd").Output(); err == nil && string(out) != "not-installed" {
		t.Fatalf("a credd package is already on this machine (%s); this test would purge it", out)
	}

	root := repoRoot(t)
	dist := t.TempDir()
	build := exec.Command("sh", filepath.Join(root, "packaging", "build.sh"))
	build.Dir = root
	build.Env = append(os.Environ(), "DIST="+dist, "PACKAGERS=deb", "VERSION=v0.0.1-test")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("packaging/build.sh: %v\n%s", err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(dist, "*.deb"))
	if len(debs) != 1 {
		t.Fatalf("want one .deb in %s, got %q", dist, debs)
	}
	deb := debs[0]

	run := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(dpkg, "--purge", "credd").CombinedOutput(); err != nil {
			t.Errorf("dpkg --purge credd: %v\n%s", err, out)
		}
		if _, err := os.Stat("/usr/bin/credd"); err == nil {
			t.Error("/usr/bin/credd is still there after purge")
		}
	})
	run(dpkg, "-i", deb)

	for _, f := range []string{
		"/usr/bin/credd",
		"/usr/bin/credctl",
		"/usr/lib/systemd/system/credd.service",
		"/usr/lib/systemd/system/credd.socket",
		"/usr/lib/systemd/user/credd.service",
		"/usr/lib/systemd/user/credd.socket",
		"/usr/lib/sysusers.d/credd.conf",
		"/etc/credd/credd.toml",
		"/etc/credd/creds",
		"/usr/share/bash-completion/completions/credctl",
		"/usr/share/zsh/vendor-completions/_credctl",
		"/usr/share/fish/vendor_completions.d/credctl.fish",
		"/usr/share/man/man1/credctl.1.gz",
		"/usr/share/man/man8/credd.8.gz",
		"/usr/share/doc/credd/server.md",
	} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("not installed: %v", err)
		}
	}
	if fi, err := os.Stat("/etc/credd/creds"); err == nil && fi.Mode().Perm() != 0o700 {
		t.Errorf("/etc/credd/creds has mode %v, want 0700", fi.Mode().Perm())
	}
	if out := run("getent", "passwd", "credd"); !strings.Contains(out, "/var/lib/credd") {
		t.Errorf("credd user: %s", out)
	}
	run("getent", "group", "credd")

	if out := run("/usr/bin/credd", "check-config", "/etc/credd/credd.toml"); !strings.Contains(out, "ok") {
		t.Errorf("credd check-config: %s", out)
	}
	if out := run("/usr/bin/credctl", "version"); !strings.Contains(out, "credctl") || !strings.Contains(out, "v0.0.1-test") {
		t.Errorf("credctl version: %s", out)
	}
	if out := run("/usr/bin/credd", "version"); !strings.Contains(out, "v0.0.1-test") {
		t.Errorf("credd version: %s", out)
	}

	// An upgrade keeps an edited config (conffile, noreplace) and runs the
	// maintainer scripts' upgrade paths.
	edited := "# edited by the admin\n[daemon]\nkeystore = \"systemd\"\n"
	if err := os.WriteFile("/etc/credd/credd.toml", []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	run(dpkg, "--force-confold", "-i", deb)
	if b, err := os.ReadFile("/etc/credd/credd.toml"); err != nil || string(b) != edited {
		t.Errorf("upgrade replaced the edited config: %q, %v", b, err)
	}
}
