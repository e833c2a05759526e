// Package e2e drives the real credd and credctl binaries against the cloud
// emulators: real processes, real Unix sockets, real shells, the real
// keyring and real systemd tools.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/credd-dev/credd/apitype"
	"github.com/credd-dev/credd/tests/tencentemu"
)

// bins holds the binaries TestMain builds once.
var bins struct {
	dir, credd, credctl, tcsdkcheck, hwcheck string
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "credd-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Other users (setpriv tests) must be able to run credctl.
	os.Chmod(dir, 0o755)
	bins.dir = dir
	build := func(pkg, name string) string {
		out := filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n", pkg, err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
		return out
	}
	bins.credd = build("github.com/credd-dev/credd/cmd/credd", "credd")
	bins.credctl = build("github.com/credd-dev/credd/cmd/credctl", "credctl")
	bins.tcsdkcheck = build("github.com/credd-dev/credd/tests/cmd/tcsdkcheck", "tcsdkcheck")
	bins.hwcheck = build("github.com/credd-dev/credd/tests/cmd/hwcheck", "hwcheck")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// need returns the path of a tool, skipping the test when it is missing,
// except under CI where a missing tool is a failure.
func need(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI but not installed", tool)
		}
		t.Skipf("%s not installed", tool)
	}
	return p
}

const policy = `{"version":"2.0","statement":[{"effect":"allow","action":["cos:GetObject"],"resource":["*"]}]}`

// Canary long-lived secrets: they must never appear in logs or output.
const (
	canarySecretID  = "AKIDcanaryE2Eid0000000000000000"
	canarySecretKey = "CANARY-SECRET-KEY-9f8e7d6c5b4a"
)

// tencentEmu runs the Tencent STS emulator on loopback.
type tencentEmu struct {
	*tencentemu.Server
	URL string
}

func startTencent(t *testing.T) *tencentEmu {
	t.Helper()
	emu := tencentemu.New(tencentemu.Options{})
	emu.AddKey(canarySecretID, canarySecretKey, true)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return &tencentEmu{Server: emu, URL: srv.URL}
}

// env is one credd installation: a config dir, a file keystore, a socket.
type env struct {
	t      *testing.T
	dir    string
	cfg    string
	sock   string
	extra  []string // extra environment for every process
	daemon *exec.Cmd
	logs   *lockedBuffer
	exited chan error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newEnv writes a config with a file keystore and the given profiles.
func newEnv(t *testing.T, profiles string) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, dir: dir, cfg: filepath.Join(dir, "config", "credd.toml"), sock: filepath.Join(dir, "run", "credd.sock")}
	os.MkdirAll(filepath.Dir(e.cfg), 0o700)
	e.writeConfig("[daemon]\nkeystore = \"file\"\nkeystore_dir = \"" + filepath.Join(dir, "keys") + "\"\nlog_level = \"debug\"\n\n" + profiles)
	return e
}

func (e *env) writeConfig(body string) {
	e.t.Helper()
	tmp := e.cfg + ".tmp"
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Rename(tmp, e.cfg); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) environ() []string {
	base := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + e.dir,
		"XDG_RUNTIME_DIR=" + filepath.Join(e.dir, "xdg-run"),
		"XDG_CONFIG_HOME=" + filepath.Join(e.dir, "xdg-config"),
		"XDG_DATA_HOME=" + filepath.Join(e.dir, "xdg-data"),
		"CREDD_SOCKET=" + e.sock,
		"CREDD_CONFIG=" + e.cfg,
		"LANG=C.UTF-8",
	}
	return append(base, e.extra...)
}

// start runs credd and waits until its socket answers.
func (e *env) start(args ...string) {
	e.t.Helper()
	e.startCmd(exec.Command(bins.credd, append([]string{"--log-format", "text"}, args...)...))
}

func (e *env) startCmd(cmd *exec.Cmd) {
	e.t.Helper()
	e.logs = &lockedBuffer{}
	cmd.Env = e.environ()
	cmd.Stdout, cmd.Stderr = e.logs, e.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.daemon = cmd
	e.exited = make(chan error, 1)
	go func() { e.exited <- cmd.Wait() }()
	e.t.Cleanup(func() { e.stop() })
	e.waitReady()
}

func (e *env) waitReady() {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.Dial("unix", e.sock)
		if err == nil {
			c.Close()
			return
		}
		select {
		case err := <-e.exited:
			e.t.Fatalf("credd exited early: %v\n%s", err, e.logs)
		default:
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("credd did not listen on %s:\n%s", e.sock, e.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits; the logs are checked for canaries.
func (e *env) stop() {
	if e.daemon == nil {
		return
	}
	syscall.Kill(-e.daemon.Process.Pid, syscall.SIGTERM)
	select {
	case <-e.exited:
	case <-time.After(15 * time.Second):
		syscall.Kill(-e.daemon.Process.Pid, syscall.SIGKILL)
		<-e.exited
		e.t.Errorf("credd did not stop on SIGTERM:\n%s", e.logs)
	}
	e.daemon = nil
	e.assertNoSecrets("credd log", e.logs.String())
}

// secrets lists values that must never appear in logs or status output.
var secretsMu sync.Mutex
var extraSecrets []string

func (e *env) assertNoSecrets(what, s string) {
	e.t.Helper()
	secretsMu.Lock()
	defer secretsMu.Unlock()
	for _, c := range append([]string{canarySecretKey, "CANARY-"}, extraSecrets...) {
		if c != "" && strings.Contains(s, c) {
			e.t.Errorf("%s carries a secret (%.12q...):\n%s", what, c, s)
		}
	}
}

// result of one credctl run.
type result struct {
	stdout, stderr string
	code           int
}

func (e *env) credctl(stdin string, args ...string) result {
	e.t.Helper()
	return e.run(exec.Command(bins.credctl, args...), stdin)
}

func (e *env) run(cmd *exec.Cmd, stdin string) result {
	e.t.Helper()
	if cmd.Env == nil {
		cmd.Env = e.environ()
	}
	var out, errb bytes.Buffer
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &out, &errb
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		cmd.Process.Kill()
		e.t.Fatalf("%v hung", cmd.Args)
	}
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("%v: %v", cmd.Args, err)
	}
	return r
}

func (e *env) must(r result) result {
	e.t.Helper()
	if r.code != 0 {
		e.t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	return r
}

// storeKey stores the canary Tencent key through credctl's stdin form.
func (e *env) storeKey(name string) {
	e.t.Helper()
	e.must(e.credctl("secret_id="+canarySecretID+"\nsecret_key="+canarySecretKey+"\n", "key", "set", name, "--kind", "tencent"))
}

func (e *env) profiles() []apitype.Profile {
	e.t.Helper()
	r := e.must(e.credctl("", "profiles", "--json"))
	var ps apitype.Profiles
	if err := json.Unmarshal([]byte(r.stdout), &ps); err != nil {
		e.t.Fatalf("profiles --json: %v\n%s", err, r.stdout)
	}
	return ps.Profiles
}

func (e *env) status() apitype.Status {
	e.t.Helper()
	r := e.must(e.credctl("", "status", "--json"))
	var st apitype.Status
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		e.t.Fatalf("status --json: %v\n%s", err, r.stdout)
	}
	e.assertNoSecrets("status", r.stdout)
	return st
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func tencentProfile(name, endpoint, extra string) string {
	return fmt.Sprintf("[profiles.%s]\nprovider = \"tencent\"\nkey = \"tc-main\"\nendpoint = %q\nname = \"e2e\"\npolicy = '%s'\n%s\n", name, endpoint, policy, extra)
}

var _ = http.StatusOK
