package tests

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// maxExposure is the highest `systemd-analyze security` score credd.service
// may have. The hardening comments in the unit explain what is left.
const maxExposure = 1.5

// requireTool returns the path of an external tool. Developers without it
// get a skip; under CI=true a missing tool fails the test.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI=true: %v", name, err)
		}
		t.Skipf("%s not installed: %v", name, err)
	}
	return p
}

// repoRoot is the module root; go test runs in the package directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found at %s: %v", root, err)
	}
	return root
}

// unitDirective returns every value of key in the unit file text, in order.
func unitDirective(text, key string) []string {
	var vals []string
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") && k == key {
			vals = append(vals, v)
		}
	}
	return vals
}

func readUnit(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// buildCredd compiles ./cmd/credd so the verified units point at the real
// binary, and the ExecStart= flags can be checked against it.
func buildCredd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "credd")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/credd")
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/credd: %v\n%s", err, out)
	}
	return bin
}

// stageUnits copies units into a fresh directory with /usr/bin/credd
// replaced by bin: systemd-analyze verify insists that ExecStart= exists,
// and the package is not installed here.
func stageUnits(t *testing.T, bin string, rels ...string) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for _, rel := range rels {
		text := strings.ReplaceAll(readUnit(t, rel), "/usr/bin/credd", bin)
		p := filepath.Join(dir, filepath.Base(rel))
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// verify runs systemd-analyze verify and fails on any output: it exits 0
// even for unknown keys, which it only warns about. --man=no because the
// man pages named in Documentation= exist only once the package is
// installed.
func verify(t *testing.T, args []string, env []string, units []string) {
	t.Helper()
	sa := requireTool(t, "systemd-analyze")
	cmd := exec.Command(sa, append(append(args, "verify", "--man=no"), units...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze %s verify: err %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestSystemUnitsVerify(t *testing.T) {
	requireTool(t, "systemd-analyze")
	bin := buildCredd(t)
	verify(t, nil, nil, stageUnits(t, bin, "systemd/credd.socket", "systemd/credd.service"))
}

func TestUserUnitsVerify(t *testing.T) {
	requireTool(t, "systemd-analyze")
	bin := buildCredd(t)
	// A user manager needs a runtime directory to resolve %t.
	rt := t.TempDir()
	verify(t, []string{"--user"}, []string{"XDG_RUNTIME_DIR=" + rt},
		stageUnits(t, bin, "systemd/user/credd.socket", "systemd/user/credd.service"))
}

// TestVerifyCatchesTypos proves verify() fails on a misspelt directive, so
// the clean runs above mean something.
func TestVerifyCatchesTypos(t *testing.T) {
	sa := requireTool(t, "systemd-analyze")
	p := filepath.Join(t.TempDir(), "typo.service")
	unit := "[Service]\nType=oneshot\nExecStart=/bin/true\nProtectSystm=strict\n"
	if err := os.WriteFile(p, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(sa, "verify", "--man=no", p).CombinedOutput()
	if !strings.Contains(string(out), "ProtectSystm") {
		t.Fatalf("systemd-analyze verify did not report the typo:\n%s", out)
	}
}

// TestExecStartFlags runs each unit's ExecStart= command line with --help
// appended against the real binary, so a renamed flag breaks this test
// rather than the service.
func TestExecStartFlags(t *testing.T) {
	bin := buildCredd(t)
	for _, rel := range []string{"systemd/credd.service", "systemd/user/credd.service"} {
		execs := unitDirective(readUnit(t, rel), "ExecStart")
		if len(execs) != 1 {
			t.Fatalf("%s: want one ExecStart=, got %q", rel, execs)
		}
		args := strings.Fields(strings.ReplaceAll(execs[0], "%t", t.TempDir()))
		if args[0] != "/usr/bin/credd" {
			t.Errorf("%s: ExecStart= runs %s, want /usr/bin/credd", rel, args[0])
		}
		out, err := exec.Command(bin, append(args[1:], "--help")...).CombinedOutput()
		if err != nil {
			t.Errorf("%s: credd %s --help: %v\n%s", rel, strings.Join(args[1:], " "), err, out)
		}
	}
}

var exposureRE = regexp.MustCompile(`Overall exposure level for \S+: ([0-9]+(?:\.[0-9]+)?)`)

func TestServiceSecurityScore(t *testing.T) {
	sa := requireTool(t, "systemd-analyze")
	unit := filepath.Join(repoRoot(t), "systemd", "credd.service")
	cmd := exec.Command(sa, "security", "--offline=true", unit)
	cmd.Env = append(os.Environ(), "SYSTEMD_COLORS=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := exposureRE.FindSubmatch(out)
	if m == nil {
		t.Fatalf("no \"Overall exposure level\" line in:\n%s", out)
	}
	score, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("credd.service exposure %.1f", score)
	if score > maxExposure {
		t.Errorf("credd.service exposure level %.1f > %.1f; failing checks:\n%s", score, maxExposure, failing(out))
	}
}

// failing keeps the ✗ lines of a security report.
func failing(report []byte) string {
	var b strings.Builder
	for line := range strings.SplitSeq(string(report), "\n") {
		if strings.HasPrefix(line, "✗") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// TestServiceStaysFunctional pins down the settings the hardening must not
// trade away to improve the score: network access, the socket families,
// caller identification, and the systemd protocol credd speaks.
func TestServiceStaysFunctional(t *testing.T) {
	svc := readUnit(t, "systemd/credd.service")
	want := map[string]string{
		"Type":                    "notify",
		"ExecReload":              "/bin/kill -HUP $MAINPID",
		"WatchdogSec":             "30s",
		"Restart":                 "on-failure",
		"User":                    "credd",
		"Group":                   "credd",
		"LimitCORE":               "0",
		"UMask":                   "0077",
		"RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
		"RuntimeDirectory":        "credd",
		// The socket lives in /run/credd while the service is stopped.
		"RuntimeDirectoryPreserve": "yes",
		"ConfigurationDirectory":   "credd",
		"StateDirectory":           "credd",
		"ProtectSystem":            "strict",
		"CapabilityBoundingSet":    "",
	}
	for k, v := range want {
		if got := unitDirective(svc, k); !slices.Contains(got, v) {
			t.Errorf("credd.service: %s=%q, want %q", k, got, v)
		}
	}
	forbidden := map[string]string{
		"PrivateNetwork":     "cloud APIs are on the network",
		"IPAddressDeny":      "cloud endpoints have no fixed addresses",
		"PrivateUsers":       "SO_PEERCRED would report other users as nobody, breaking allow_uids",
		"ProtectProc":        "hidepid hides callers' /proc/PID/cgroup, breaking allow_units",
		"Type=notify-reload": "Debian 12's systemd 252 lacks it",
	}
	for k, why := range forbidden {
		key, val, hasVal := strings.Cut(k, "=")
		for _, v := range unitDirective(svc, key) {
			if (!hasVal && v != "no" && v != "default") || (hasVal && v == val) {
				t.Errorf("credd.service sets %s=%s: %s", key, v, why)
			}
		}
	}
	if !strings.Contains(svc, "#LoadCredentialEncrypted=") {
		t.Error("credd.service lost its commented LoadCredentialEncrypted= example")
	}

	for rel, mode := range map[string]string{"systemd/credd.socket": "0660", "systemd/user/credd.socket": "0600"} {
		sock := readUnit(t, rel)
		if got := unitDirective(sock, "SocketMode"); !slices.Equal(got, []string{mode}) {
			t.Errorf("%s: SocketMode=%q, want %s", rel, got, mode)
		}
		if got := unitDirective(sock, "RemoveOnStop"); !slices.Equal(got, []string{"yes"}) {
			t.Errorf("%s: RemoveOnStop=%q, want yes", rel, got)
		}
	}
	if got := unitDirective(readUnit(t, "systemd/credd.socket"), "ListenStream"); !slices.Equal(got, []string{"/run/credd/credd.sock"}) {
		t.Errorf("credd.socket: ListenStream=%q", got)
	}
	if got := unitDirective(readUnit(t, "systemd/credd.socket"), "SocketGroup"); !slices.Equal(got, []string{"credd"}) {
		t.Errorf("credd.socket: SocketGroup=%q, want credd", got)
	}
	if got := unitDirective(readUnit(t, "systemd/user/credd.socket"), "ListenStream"); !slices.Equal(got, []string{"%t/credd/credd.sock"}) {
		t.Errorf("user credd.socket: ListenStream=%q", got)
	}
}

// TestSysusers creates the credd user in a scratch root with the real
// systemd-sysusers, as the package's postinstall does.
func TestSysusers(t *testing.T) {
	su := requireTool(t, "systemd-sysusers")
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(repoRoot(t), "packaging", "sysusers.d", "credd.conf")
	if out, err := exec.Command(su, "--root="+root, conf).CombinedOutput(); err != nil {
		t.Fatalf("systemd-sysusers: %v\n%s", err, out)
	}
	passwd, err := os.ReadFile(filepath.Join(root, "etc", "passwd"))
	if err != nil {
		t.Fatal(err)
	}
	group, err := os.ReadFile(filepath.Join(root, "etc", "group"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^credd:x:[0-9]+:[0-9]+:[^:]*:/var/lib/credd:[^:]*nologin$`).Match(passwd) {
		t.Errorf("no credd system user in passwd:\n%s", passwd)
	}
	if !regexp.MustCompile(`(?m)^credd:x:[0-9]+:`).Match(group) {
		t.Errorf("no credd group:\n%s", group)
	}
}
