package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/credd-dev/credd/config"
	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/keystore"
	"github.com/credd-dev/credd/keystore/keystoretest"
	"github.com/credd-dev/credd/providers"
	"github.com/credd-dev/credd/refresh"
	"github.com/credd-dev/credd/safesocket"
	"github.com/credd-dev/credd/secret"
	"github.com/credd-dev/credd/tests/tencentemu"
)

// Canary secrets: the long-lived key stored in every keystore and the
// temporary secrets the fake source issues. None may reach a log.
const (
	canarySecretID  = "AKIDbenchCanary000000000000000000"
	canarySecretKey = "CANARY-BENCH-SECRET-KEY-4d3c2b1a"
	canaryTmpSecret = "CANARY-BENCH-TMP-SECRET-77e1"
	canaryToken     = "CANARY-BENCH-TOKEN-0a9b"
)

const policy = `{"version":"2.0","statement":[{"effect":"allow","action":["cos:GetObject"],"resource":["*"]}]}`

// tencentProfile is a GetFederationToken profile reading key "tc-main";
// endpoint may be empty for profiles whose source is a fake.
func tencentProfile(name, endpoint string) string {
	s := fmt.Sprintf("[profiles.%s]\nprovider = \"tencent\"\nkey = \"tc-main\"\nname = \"bench\"\npolicy = '%s'\n", name, policy)
	if endpoint != "" {
		s += fmt.Sprintf("endpoint = %q\n", endpoint)
	}
	return s + "\n"
}

// binaries are credd, credctl and a trivial static program, built once per
// benchmark binary the way packaging/build.sh builds releases (static,
// stripped), so exec costs are those users see.
var binaries struct {
	once                    sync.Once
	dir                     string
	credd, credctl, trivial string
	err                     error
}

const trivialMain = "package main\n\nfunc main() {}\n"

func buildBinaries(b *testing.B) (credd, credctl, trivial string) {
	b.Helper()
	binaries.once.Do(func() {
		dir, err := os.MkdirTemp("", "credd-bench-bin-")
		if err != nil {
			binaries.err = err
			return
		}
		binaries.dir = dir
		goTool, err := exec.LookPath("go")
		if err != nil {
			binaries.err = fmt.Errorf("find the go tool: %w", err)
			return
		}
		build := func(workdir, out string, pkgs ...string) error {
			args := append([]string{"build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out}, pkgs...)
			cmd := exec.Command(goTool, args...)
			cmd.Dir = workdir
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if msg, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("go build %s: %v\n%s", strings.Join(pkgs, " "), err, msg)
			}
			return nil
		}
		binaries.credd = filepath.Join(dir, "credd")
		binaries.credctl = filepath.Join(dir, "credctl")
		if binaries.err = build("", dir+"/", "github.com/credd-dev/credd/cmd/credd", "github.com/credd-dev/credd/cmd/credctl"); binaries.err != nil {
			return
		}
		src := filepath.Join(dir, "trivial")
		if err := os.MkdirAll(src, 0o700); err != nil {
			binaries.err = err
			return
		}
		for name, body := range map[string]string{
			"go.mod":  "module trivial\n\ngo 1.26\n",
			"main.go": trivialMain,
		} {
			if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o600); err != nil {
				binaries.err = err
				return
			}
		}
		binaries.trivial = filepath.Join(dir, "trivial-static")
		binaries.err = build(src, binaries.trivial, ".")
	})
	if binaries.err != nil {
		b.Fatal(binaries.err)
	}
	return binaries.credd, binaries.credctl, binaries.trivial
}

// TestMain removes the binaries the benchmarks built.
func TestMain(m *testing.M) {
	code := m.Run()
	if binaries.dir != "" {
		os.RemoveAll(binaries.dir)
	}
	os.Exit(code)
}

// syncBuffer collects a daemon's log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// assertNoSecrets fails when a canary secret appears in s.
func assertNoSecrets(tb testing.TB, what, s string) {
	tb.Helper()
	for _, c := range []string{canarySecretKey, canaryTmpSecret, canaryToken, "CANARY-"} {
		if strings.Contains(s, c) {
			tb.Errorf("%s carries a secret (%.12q...)", what, c)
		}
	}
}

// newMemStore returns an in-memory keystore holding the canary Tencent key.
func newMemStore() *keystoretest.MemStore {
	return keystoretest.New(keystore.Entry{
		Name: "tc-main", Kind: "tencent",
		Fields: map[string]secret.Value{"secret_id": secret.New(canarySecretID), "secret_key": secret.New(canarySecretKey)},
	})
}

// fakeSource issues one-hour credentials after an optional delay, counting
// its calls.
type fakeSource struct {
	delay time.Duration
	calls *counter
}

type counter struct {
	mu sync.Mutex
	n  int64
}

func (c *counter) add() int64 { c.mu.Lock(); defer c.mu.Unlock(); c.n++; return c.n }
func (c *counter) get() int64 { c.mu.Lock(); defer c.mu.Unlock(); return c.n }

func (s *fakeSource) Fetch(ctx context.Context) (providers.Credential, error) {
	n := s.calls.add()
	if s.delay > 0 {
		select {
		case <-time.After(s.delay):
		case <-ctx.Done():
			return providers.Credential{}, ctx.Err()
		}
	}
	return providers.Credential{
		AccessKeyID:  fmt.Sprintf("AKIDbenchTmp%08d", n),
		Secret:       secret.New(canaryTmpSecret),
		SessionToken: secret.New(canaryToken + strings.Repeat("t", 400)), // tokens are long
		Expiration:   time.Now().Add(time.Hour),
	}, nil
}

// inProc is a daemon.Daemon served on a real Unix socket in this process.
type inProc struct {
	d    *daemon.Daemon
	cfg  string
	sock string
	logs *syncBuffer
}

// startInProc writes profiles into a config and serves a daemon on it.
// newSource builds each profile's source.
func startInProc(b testing.TB, profiles string, newSource func(*config.Profile, providers.Deps) (refresh.Source, error)) *inProc {
	b.Helper()
	dir := b.TempDir()
	p := &inProc{cfg: filepath.Join(dir, "config", "credd.toml"), sock: filepath.Join(dir, "run", "credd.sock"), logs: &syncBuffer{}}
	if err := os.MkdirAll(filepath.Dir(p.cfg), 0o700); err != nil {
		b.Fatal(err)
	}
	p.writeConfig(b, profiles)
	store := newMemStore()
	d, err := daemon.New(daemon.Options{
		ConfigPath:   p.cfg,
		SocketPath:   p.sock,
		Version:      "bench",
		Logger:       slog.New(slog.NewTextHandler(p.logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		NewSource:    newSource,
		OpenKeystore: func(config.Daemon) (keystore.Store, error) { return store, nil },
		Notify:       func(string) {},
	})
	if err != nil {
		b.Fatal(err)
	}
	p.d = d
	ln, err := safesocket.Listen(p.sock, 0)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, ln) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("daemon Run: %v", err)
		}
		assertNoSecrets(b, "daemon log", p.logs.String())
	})
	return p
}

func (p *inProc) writeConfig(b testing.TB, profiles string) {
	b.Helper()
	tmp := p.cfg + ".tmp"
	if err := os.WriteFile(tmp, []byte("[daemon]\nlog_level = \"info\"\n\n"+profiles), 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, p.cfg); err != nil {
		b.Fatal(err)
	}
}

// startTencent serves the Tencent STS emulator on loopback with the canary
// key registered as a root key.
func startTencent(b testing.TB) (*tencentemu.Server, string) {
	b.Helper()
	emu := tencentemu.New(tencentemu.Options{})
	emu.AddKey(canarySecretID, canarySecretKey, true)
	srv := httptest.NewServer(emu)
	b.Cleanup(srv.Close)
	return emu, srv.URL
}

// realCredd is the credd binary running with a file keystore.
type realCredd struct {
	pid            int
	dir, cfg, sock string
	env            []string
	logs           *syncBuffer
}

// startCredd runs credd with the given profiles, waits for its socket and
// stores the canary key under "tc-main" with credctl.
func startCredd(b *testing.B, credd, credctl, profiles string) *realCredd {
	b.Helper()
	dir := b.TempDir()
	c := &realCredd{dir: dir, cfg: filepath.Join(dir, "config", "credd.toml"), sock: filepath.Join(dir, "run", "credd.sock"), logs: &syncBuffer{}}
	if err := os.MkdirAll(filepath.Dir(c.cfg), 0o700); err != nil {
		b.Fatal(err)
	}
	body := "[daemon]\nkeystore = \"file\"\nkeystore_dir = \"" + filepath.Join(dir, "keys") + "\"\nlog_level = \"info\"\n\n" + profiles
	if err := os.WriteFile(c.cfg, []byte(body), 0o600); err != nil {
		b.Fatal(err)
	}
	c.env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"XDG_RUNTIME_DIR=" + filepath.Join(dir, "xdg-run"),
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "xdg-config"),
		"XDG_DATA_HOME=" + filepath.Join(dir, "xdg-data"),
		"CREDD_SOCKET=" + c.sock,
		"CREDD_CONFIG=" + c.cfg,
		"LANG=C.UTF-8",
	}
	cmd := exec.Command(credd, "--log-format", "text")
	cmd.Env = c.env
	cmd.Stdout, cmd.Stderr = c.logs, c.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	c.pid = cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	b.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
			b.Errorf("credd did not stop on SIGTERM")
		}
		assertNoSecrets(b, "credd log", c.logs.String())
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		conn, err := net.Dial("unix", c.sock)
		if err == nil {
			conn.Close()
			break
		}
		select {
		case err := <-exited:
			b.Fatalf("credd exited early: %v\n%s", err, c.logs)
		default:
		}
		if time.Now().After(deadline) {
			b.Fatalf("credd did not listen on %s:\n%s", c.sock, c.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	set := exec.Command(credctl, "key", "set", "tc-main", "--kind", "tencent")
	set.Env = c.env
	set.Stdin = strings.NewReader("secret_id=" + canarySecretID + "\nsecret_key=" + canarySecretKey + "\n")
	if out, err := set.CombinedOutput(); err != nil {
		b.Fatalf("credctl key set: %v\n%s", err, out)
	}
	return c
}

// socketClient is one keep-alive HTTP client of a credd socket: one
// connection, reused for every request.
func socketClient(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return safesocket.Dial(ctx, sock)
		},
		DisableCompression:  true,
		MaxIdleConnsPerHost: 1,
	}}
}

// getCredentials does one GET /v1/profiles/NAME/credentials and discards
// the body.
func getCredentials(hc *http.Client, name string) error {
	resp, err := hc.Get("http://credd/v1/profiles/" + name + "/credentials")
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET credentials of %q: status %d", name, resp.StatusCode)
	}
	return err
}

// percentile returns the p-th percentile (0 < p ≤ 1) of samples by the
// nearest-rank method; it sorts samples in place.
func percentile(samples []time.Duration, p float64) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	slices.Sort(samples)
	rank := int(math.Ceil(float64(len(samples))*p)) - 1
	return samples[min(max(rank, 0), len(samples)-1)]
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// cpuTime returns the user plus system CPU time process pid has used, from
// /proc (Linux only), in clock ticks of 10 ms: USER_HZ is 100 on every
// Linux architecture Go supports.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, may hold spaces; fields resume after ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	var ticks int64
	for _, s := range f[11:13] { // utime, stime: fields 14 and 15
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}
