package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/credd-dev/credd/apitype"
	"github.com/credd-dev/credd/tests/tencentemu"
)

// TestExportInRealShells is the vertical slice: key set → get → export
// evaluated by bash, zsh and fish reproducing the token's exact bytes →
// the real tencentcloud-sdk-go accepts the exported credentials.
func TestExportInRealShells(t *testing.T) {
	emu := startTencent(t)
	emu.SetTokenFunc(tencentemu.HostileToken)
	e := newEnv(t, tencentProfile("demo", emu.URL, `region = "ap-shanghai"`))
	e.start()
	e.storeKey("tc-main")

	var c apitype.Credentials
	r := e.must(e.credctl("", "get", "demo"))
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil {
		t.Fatalf("get: %v\n%s", err, r.stdout)
	}
	for _, must := range []string{"'", `"`, "$(", "`", `\`, "!", "%", " ", "é"} {
		if !strings.Contains(c.SessionToken, must) {
			t.Fatalf("the emulator's token lacks %q: %q", must, c.SessionToken)
		}
	}
	secretsMu.Lock()
	extraSecrets = append(extraSecrets, c.SessionToken, c.SecretAccessKey)
	secretsMu.Unlock()

	shells := map[string][]string{
		"bash": {"-c", `eval "$(credctl export demo --shell bash)" && printf %s "$TENCENTCLOUD_SESSION_TOKEN"`},
		"zsh":  {"-c", `eval "$(credctl export demo --shell zsh)" && printf %s "$TENCENTCLOUD_SESSION_TOKEN"`},
		"fish": {"-c", `credctl export demo --shell fish | source; and printf %s "$TENCENTCLOUD_SESSION_TOKEN"`},
	}
	for name, args := range shells {
		t.Run(name, func(t *testing.T) {
			sh := need(t, name)
			cmd := exec.Command(sh, args...)
			cmd.Env = append(e.environ(), "PATH="+bins.dir+":"+os.Getenv("PATH"))
			r := e.must(e.run(cmd, ""))
			if r.stdout != c.SessionToken {
				t.Fatalf("%s reproduced the token wrongly:\n got %q\nwant %q", name, r.stdout, c.SessionToken)
			}
		})
	}

	// Every variable of SPEC §7, in bash.
	cmd := exec.Command(need(t, "bash"), "-c", `eval "$(credctl export demo --shell bash)" && env`)
	cmd.Env = append(e.environ(), "PATH="+bins.dir+":"+os.Getenv("PATH"))
	envOut := e.must(e.run(cmd, "")).stdout
	for _, v := range []string{"TENCENTCLOUD_SECRET_ID=" + c.AccessKeyID, "TENCENTCLOUD_SECRET_KEY=", "TENCENTCLOUD_SESSION_TOKEN=",
		"TENCENTCLOUD_SECURITY_TOKEN=", "TENCENTCLOUD_REGION=ap-shanghai", "CREDD_PROFILE=demo", "CREDD_EXPIRATION=20"} {
		if !strings.Contains(envOut, v) {
			t.Errorf("export lacks %s", v)
		}
	}

	// The real SDK, given the exported variables, is accepted by the emulator.
	cmd = exec.Command(need(t, "bash"), "-c", `eval "$(credctl export demo --shell bash)" && tcsdkcheck -endpoint "$EMU"`)
	cmd.Env = append(e.environ(), "PATH="+bins.dir+":"+os.Getenv("PATH"), "EMU="+emu.URL)
	if r := e.run(cmd, ""); r.code != 0 {
		t.Fatalf("tencentcloud-sdk-go with exported credentials: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// And through credctl exec, whose exit code passes through.
	r = e.credctl("", "exec", "demo", "--", bins.tcsdkcheck, "-endpoint", emu.URL)
	if r.code != 0 {
		t.Fatalf("credctl exec tcsdkcheck: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := e.credctl("", "exec", "demo", "--", "sh", "-c", "exit 7"); r.code != 7 {
		t.Fatalf("exec exit code = %d, want 7", r.code)
	}
	// A tampered token is refused by the emulator: the check above can fail.
	cmd = exec.Command(need(t, "bash"), "-c", `eval "$(credctl export demo --shell bash)" && TENCENTCLOUD_SESSION_TOKEN=x tcsdkcheck -endpoint "$EMU"`)
	cmd.Env = append(e.environ(), "PATH="+bins.dir+":"+os.Getenv("PATH"), "EMU="+emu.URL)
	if r := e.run(cmd, ""); r.code == 0 {
		t.Fatal("the emulator accepted a wrong session token")
	}
	if n := emu.CallsFor("GetFederationToken"); n != 1 {
		t.Errorf("GetFederationToken called %d times, want 1", n)
	}
	e.assertNoSecrets("profiles", e.must(e.credctl("", "profiles")).stdout)
}

func TestExitCodes(t *testing.T) {
	emu := startTencent(t)
	noKey := strings.Replace(tencentProfile("nokey", emu.URL, ""), `key = "tc-main"`, `key = "absent"`, 1)
	e := newEnv(t, tencentProfile("demo", emu.URL, "")+noKey)

	r := e.credctl("", "get", "demo")
	if r.code != 2 || !strings.Contains(r.stderr, "credd") {
		t.Fatalf("no daemon: exit %d, stderr %q", r.code, r.stderr)
	}
	e.start()
	e.storeKey("tc-main")
	r = e.credctl("", "get", "nope")
	if r.code != 3 || !strings.Contains(r.stderr, "demo") {
		t.Fatalf("unknown profile: exit %d, stderr %q", r.code, r.stderr)
	}
	r = e.credctl("", "get", "nokey")
	if r.code != 5 || !strings.Contains(r.stderr, "absent") {
		t.Fatalf("missing key: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := e.credctl("", "get"); r.code != 1 {
		t.Fatalf("usage error: exit %d", r.code)
	}
	r = e.credctl("", "key", "rm", "nope")
	if r.code != 3 {
		t.Fatalf("key rm unknown: exit %d %q", r.code, r.stderr)
	}
	r = e.must(e.credctl("", "key", "list"))
	if !strings.Contains(r.stdout, "tc-main") || !strings.Contains(r.stdout, "tencent") {
		t.Fatalf("key list: %q", r.stdout)
	}
	e.assertNoSecrets("key list", r.stdout)
	r = e.must(e.credctl("", "get", "demo", "-o", "process"))
	var proc map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &proc); err != nil || proc["Version"] != float64(1) {
		t.Fatalf("process output %q: %v", r.stdout, err)
	}
}

func TestHundredConcurrentColdRequests(t *testing.T) {
	emu := startTencent(t)
	e := newEnv(t, tencentProfile("demo", emu.URL, ""))
	e.start()
	e.storeKey("tc-main")
	before := emu.CallsFor("GetFederationToken")
	var wg sync.WaitGroup
	codes := make(chan int, 100)
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(bins.credctl, "get", "demo")
			cmd.Env = e.environ()
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			codes <- code
		}()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 0 {
			t.Fatalf("a credctl get failed with exit %d", c)
		}
	}
	if n := emu.CallsFor("GetFederationToken") - before; n != 1 {
		t.Fatalf("100 concurrent cold requests caused %d upstream calls, want 1", n)
	}
}

func TestReloadBySighupAndBadConfig(t *testing.T) {
	emu := startTencent(t)
	e := newEnv(t, tencentProfile("demo", emu.URL, ""))
	e.start()
	e.storeKey("tc-main")
	e.must(e.credctl("", "get", "demo"))
	calls := emu.CallsFor("GetFederationToken")

	body, _ := os.ReadFile(e.cfg)
	good := string(body)
	// Bad config: write, SIGHUP, the old config keeps serving and status says why.
	os.WriteFile(e.cfg, []byte(good+"\n[profiles.bad]\nprovider = \"tencent\"\nduration = \"40h\"\n"), 0o600)
	syscall.Kill(e.daemon.Process.Pid, syscall.SIGHUP)
	waitFor(t, "reload error in status", func() bool { return e.status().LastReloadError != "" })
	st := e.status()
	if !strings.Contains(st.LastReloadError, "credd.toml:") || !strings.Contains(st.LastReloadError, "duration") {
		t.Fatalf("reload error %q", st.LastReloadError)
	}
	r := e.credctl("", "status")
	if !strings.Contains(r.stdout+r.stderr, "duration") {
		t.Fatalf("credctl status does not show the reload error:\n%s%s", r.stdout, r.stderr)
	}
	e.must(e.credctl("", "get", "demo"))
	if r := e.credctl("", "reload"); r.code == 0 || !strings.Contains(r.stderr, "credd.toml:") {
		t.Fatalf("credctl reload of a bad config: exit %d %q", r.code, r.stderr)
	}
	// Fix it with an extra profile: the unchanged one is not refetched.
	e.writeConfig(good + tencentProfile("second", emu.URL, ""))
	waitFor(t, "reload", func() bool { return len(e.profiles()) == 2 })
	if e.status().LastReloadError != "" {
		t.Fatal("reload error not cleared")
	}
	e.must(e.credctl("", "get", "demo"))
	if n := emu.CallsFor("GetFederationToken"); n != calls {
		t.Fatalf("unchanged profile refetched after reload: %d calls, want %d", n, calls)
	}
	if err := checkNoCanary(e.logs.String()); err != nil {
		t.Fatal(err)
	}
}

func checkNoCanary(s string) error {
	if strings.Contains(s, canarySecretKey) {
		return fmt.Errorf("log carries the secret key")
	}
	return nil
}
