package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/apitype"
	"github.com/credd-dev/credd/client/clienttest"
)

const canary = "CANARY-s3cr3t-4b7a"

var (
	testNow = time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)
	testExp = testNow.Add(24*time.Minute + 30*time.Second)
)

// fakeDaemon serves tc-dev (tencent), hw-sso (huawei), broken (503) and
// secret (403).
func fakeDaemon(t *testing.T) *clienttest.Server {
	s := clienttest.Start(t)
	s.AddProfile(apitype.Profile{Method: "GetFederationToken", NextRefreshAt: testNow.Add(15 * time.Minute)}, apitype.Credentials{
		Profile: "tc-dev", Provider: "tencent", Region: "ap-guangzhou",
		AccessKeyID: "AKIDtc", SecretAccessKey: canary + "-key", SessionToken: canary + "-tok", Expiration: testExp,
	})
	s.AddProfile(apitype.Profile{Method: "federation"}, apitype.Credentials{
		Profile: "hw-sso", Provider: "huawei",
		AccessKeyID: "HWAK", SecretAccessKey: canary + "-sk", SessionToken: canary + "-st", Expiration: testExp,
	})
	s.AddProfile(apitype.Profile{Provider: "tencent", State: apitype.StateError}, apitype.Credentials{Profile: "broken"})
	s.FailProfile("broken", http.StatusServiceUnavailable, apitype.ErrorDetail{
		Code:     apitype.CodeUnavailable,
		Message:  `fetch profile "broken": tencent GetFederationToken: AuthFailure.SecretIdNotFound: The SecretId is not found`,
		Hint:     "run `credctl key set tc-main --kind tencent`",
		Upstream: "AuthFailure.SecretIdNotFound",
	})
	s.AddProfile(apitype.Profile{}, apitype.Credentials{Profile: "secret", Provider: "tencent", SecretAccessKey: canary})
	s.Deny("credentials:secret")
	return s
}

type result struct {
	code           int
	stdout, stderr string
	execd          []string // path, argv... when exec ran
	execEnv        []string
}

func runCLI(t *testing.T, sock, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	e := newEnv(strings.NewReader(stdin), &out, &errb)
	var r result
	e.exec = func(path string, argv, envv []string) error {
		r.execd = append([]string{path}, argv...)
		r.execEnv = envv
		return nil
	}
	e.environ = func() []string { return []string{"PATH=/usr/bin:/bin", "TENCENTCLOUD_SECRET_ID=old", "KEEP=1"} }
	e.getenv = func(k string) string {
		if k == "SHELL" {
			return "/usr/bin/fish"
		}
		return ""
	}
	e.now = func() time.Time { return testNow }
	r.code = run(context.Background(), append([]string{"--socket", sock}, args...), e)
	r.stdout, r.stderr = out.String(), errb.String()
	return r
}

func TestGetJSON(t *testing.T) {
	s := fakeDaemon(t)
	r := runCLI(t, s.Socket, "", "get", "tc-dev")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("code %d, stderr %q", r.code, r.stderr)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"profile": "tc-dev", "provider": "tencent", "region": "ap-guangzhou", "access_key_id": "AKIDtc",
		"secret_access_key": canary + "-key", "session_token": canary + "-tok", "expiration": "2030-01-02T03:24:30Z",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestProcess(t *testing.T) {
	s := fakeDaemon(t)
	for _, args := range [][]string{{"process", "tc-dev"}, {"get", "-o", "process", "tc-dev"}} {
		r := runCLI(t, s.Socket, "", args...)
		want := `{"Version":1,"AccessKeyId":"AKIDtc","SecretAccessKey":"` + canary + `-key","SessionToken":"` +
			canary + `-tok","Expiration":"2030-01-02T03:24:30Z"}` + "\n"
		if r.code != 0 || r.stdout != want {
			t.Errorf("%v: code %d\n got %s\nwant %s", args, r.code, r.stdout, want)
		}
	}
}

func TestGetEnv(t *testing.T) {
	s := fakeDaemon(t)
	r := runCLI(t, s.Socket, "", "get", "hw-sso", "-o", "env")
	want := "HUAWEICLOUD_SDK_AK=HWAK\nHUAWEICLOUD_SDK_SK=" + canary + "-sk\nHUAWEICLOUD_SDK_SECURITY_TOKEN=" + canary + "-st\n" +
		"HW_ACCESS_KEY=HWAK\nHW_SECRET_KEY=" + canary + "-sk\nHW_SECURITY_TOKEN=" + canary + "-st\n" +
		"CREDD_PROFILE=hw-sso\nCREDD_EXPIRATION=2030-01-02T03:24:30Z\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("code %d\n got %s\nwant %s", r.code, r.stdout, want)
	}
	if r := runCLI(t, s.Socket, "", "get", "hw-sso", "-o", "yaml"); r.code != exitUsage || !strings.Contains(r.stderr, "unknown output format") {
		t.Errorf("-o yaml: %+v", r)
	}
}

func TestExport(t *testing.T) {
	s := fakeDaemon(t)
	r := runCLI(t, s.Socket, "", "export", "tc-dev", "--shell", "bash")
	want := "export TENCENTCLOUD_SECRET_ID='AKIDtc'\n" +
		"export TENCENTCLOUD_SECRET_KEY='" + canary + "-key'\n" +
		"export TENCENTCLOUD_SESSION_TOKEN='" + canary + "-tok'\n" +
		"export TENCENTCLOUD_SECURITY_TOKEN='" + canary + "-tok'\n" +
		"export TENCENTCLOUD_REGION='ap-guangzhou'\n" +
		"export CREDD_PROFILE='tc-dev'\n" +
		"export CREDD_EXPIRATION='2030-01-02T03:24:30Z'\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("code %d\n got %s\nwant %s", r.code, r.stdout, want)
	}
	// The default comes from $SHELL (fish in runCLI).
	r = runCLI(t, s.Socket, "", "export", "hw-sso")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "set -gx HUAWEICLOUD_SDK_AK 'HWAK'\n") || strings.Contains(r.stdout, "HW_REGION_NAME") {
		t.Errorf("fish export: %+v", r)
	}
	r = runCLI(t, s.Socket, "", "export", "tc-dev", "--shell", "csh")
	if r.code != exitUsage || !strings.Contains(r.stderr, `unknown shell "csh"`) || slices.Contains(s.Requests(), "GET /v1/profiles/tc-dev/credentials") && r.stdout != "" {
		t.Errorf("--shell csh: %+v", r)
	}
}

func TestExec(t *testing.T) {
	s := fakeDaemon(t)
	r := runCLI(t, s.Socket, "", "exec", "tc-dev", "--", "sh", "-c", "echo hi", "--socket")
	if r.code != 0 || len(r.execd) == 0 {
		t.Fatalf("exec did not run: %+v", r)
	}
	if filepath.Base(r.execd[0]) != "sh" || !slices.Equal(r.execd[1:], []string{"sh", "-c", "echo hi", "--socket"}) {
		t.Errorf("exec argv = %q", r.execd)
	}
	env := strings.Join(r.execEnv, "\n")
	for _, want := range []string{"PATH=/usr/bin:/bin", "KEEP=1", "TENCENTCLOUD_SECRET_ID=AKIDtc",
		"TENCENTCLOUD_SECRET_KEY=" + canary + "-key", "CREDD_PROFILE=tc-dev", "CREDD_EXPIRATION=2030-01-02T03:24:30Z"} {
		if !slices.Contains(r.execEnv, want) {
			t.Errorf("env lacks %q:\n%s", want, env)
		}
	}
	if strings.Contains(env, "TENCENTCLOUD_SECRET_ID=old") {
		t.Errorf("old value survived:\n%s", env)
	}

	if r := runCLI(t, s.Socket, "", "exec", "tc-dev", "--", "no-such-command-xyz"); r.code != exitNoCommand || r.execd != nil {
		t.Errorf("missing command: %+v", r)
	}
	if r := runCLI(t, s.Socket, "", "exec", "tc-dev"); r.code != exitUsage || !strings.Contains(r.stderr, "missing COMMAND") {
		t.Errorf("no command: %+v", r)
	}
	if r := runCLI(t, s.Socket, "", "exec", "nope", "--", "true"); r.code != exitUnknown || r.execd != nil {
		t.Errorf("unknown profile: %+v", r)
	}
}

func TestExitCodes(t *testing.T) {
	s := fakeDaemon(t)
	tests := []struct {
		name   string
		sock   string
		args   []string
		code   int
		stderr []string
	}{
		{"unknown profile", s.Socket, []string{"get", "nope"}, exitUnknown,
			[]string{`credctl: unknown profile "nope"`, "credctl: hint: known profiles: broken, hw-sso, secret, tc-dev"}},
		{"denied", s.Socket, []string{"export", "secret"}, exitDenied, []string{"credctl: credentials access denied", "credctl: hint: add your uid"}},
		{"unavailable", s.Socket, []string{"get", "broken"}, exitUnavailable,
			[]string{"AuthFailure.SecretIdNotFound: The SecretId is not found", "credctl: hint: run `credctl key set tc-main --kind tencent`"}},
		{"refresh unavailable", s.Socket, []string{"refresh", "broken"}, exitUnavailable, []string{"SecretIdNotFound"}},
		{"not running", filepath.Join(t.TempDir(), "none.sock"), []string{"get", "tc-dev"}, exitNotRunning,
			[]string{"credctl: credd is not running", "credctl: hint: start the daemon with `credd`, or `systemctl"}},
		{"usage", s.Socket, []string{"get"}, exitUsage, []string{"credctl: missing PROFILE"}},
		{"unknown flag", s.Socket, []string{"get", "--bogus", "x"}, exitUsage, []string{"unknown flag: --bogus"}},
		{"unknown command", s.Socket, []string{"fetch"}, exitUsage, []string{`unknown command "fetch"`}},
		{"unknown key", s.Socket, []string{"key", "rm", "nokey"}, exitUnknown, []string{`key "nokey"`, "credctl key list"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.sock, "", tt.args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", r.code, tt.code, r.stderr)
			}
			for _, w := range tt.stderr {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if r.stdout != "" {
				t.Errorf("stdout on failure: %q", r.stdout)
			}
			if strings.Contains(r.stderr, canary) {
				t.Errorf("stderr leaks a secret:\n%s", r.stderr)
			}
		})
	}
}

func TestProfilesTable(t *testing.T) {
	s := clienttest.Start(t)
	s.AddProfile(apitype.Profile{
		Name: "tc-dev", Provider: "tencent", Method: "GetFederationToken", State: apitype.StateFresh,
		ExpiresAt: testNow.Add(24 * time.Minute), NextRefreshAt: testNow.Add(15*time.Minute + 10*time.Second),
	}, apitype.Credentials{})
	s.AddProfile(apitype.Profile{
		Name: "hw", Provider: "huawei", Method: "token", State: apitype.StateError,
		LastError: "fetch: boom", ErrorClass: "bad_credentials", ErrorCode: "IAM.0011",
		NextRefreshAt: testNow.Add(-3 * time.Hour),
	}, apitype.Credentials{})
	r := runCLI(t, s.Socket, "", "profiles")
	want := "" +
		"NAME    PROVIDER                    STATE  EXPIRES  NEXT    ERROR\n" +
		"hw      huawei/token                error  -        3h ago  bad_credentials IAM.0011\n" +
		"tc-dev  tencent/GetFederationToken  fresh  in 24m   in 15m  -\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("code %d\n got:\n%s\nwant:\n%s", r.code, r.stdout, want)
	}
	r = runCLI(t, s.Socket, "", "profiles", "--json")
	var ps apitype.Profiles
	if err := json.Unmarshal([]byte(r.stdout), &ps); err != nil || len(ps.Profiles) != 2 || ps.Profiles[0].ErrorCode != "IAM.0011" {
		t.Errorf("--json: %v %+v", err, ps)
	}
}

func TestRelTime(t *testing.T) {
	for d, want := range map[time.Duration]string{
		24*time.Minute + 59*time.Second: "in 24m",
		-90 * time.Second:               "1m ago",
		30 * time.Second:                "in 30s",
		2*time.Hour + 5*time.Minute:     "in 2h5m",
		72 * time.Hour:                  "in 3d",
	} {
		if got := relTime(testNow, testNow.Add(d)); got != want {
			t.Errorf("relTime(%v) = %q, want %q", d, got, want)
		}
	}
	if got := relTime(testNow, time.Time{}); got != "-" {
		t.Errorf("zero time = %q", got)
	}
}

func TestStatusRefreshReload(t *testing.T) {
	s := fakeDaemon(t)
	r := runCLI(t, s.Socket, "", "status")
	for _, w := range []string{"daemon:", "credd test", "config:   /etc/credd/credd.toml (generation 1", "keystore: keyring", "profiles: 4"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("status lacks %q:\n%s", w, r.stdout)
		}
	}
	if r := runCLI(t, s.Socket, "", "status", "--json"); r.code != 0 || !json.Valid([]byte(r.stdout)) {
		t.Errorf("status --json: %+v", r)
	}
	if r := runCLI(t, s.Socket, "", "refresh", "tc-dev"); r.code != 0 || r.stdout != "refreshed tc-dev: expires in 24m, next refresh in 15m\n" {
		t.Errorf("refresh: %+v", r)
	}
	if r := runCLI(t, s.Socket, "", "reload"); r.code != 0 || r.stdout != "reloaded config: generation 2\n" || s.Reloads() != 1 {
		t.Errorf("reload: %+v", r)
	}
	s.FailReload()
	if r := runCLI(t, s.Socket, "", "reload"); r.code != exitUsage || !strings.Contains(r.stderr, "\n  credd.toml:3:1: unknown key") {
		t.Errorf("failed reload: %+v", r)
	}
	s.Deny("reload")
	if r := runCLI(t, s.Socket, "", "reload"); r.code != exitDenied {
		t.Errorf("denied reload: %+v", r)
	}
}

func TestKeys(t *testing.T) {
	s := fakeDaemon(t)
	in := "# from the console\nsecret_id=AKIDmain\n\nsecret_key=" + canary + "=x y\r\n"
	r := runCLI(t, s.Socket, in, "key", "set", "tc-main", "--kind", "tencent")
	if r.code != 0 || r.stdout != "stored key tc-main (tencent)\n" {
		t.Fatalf("key set: %+v", r)
	}
	k, ok := s.Key("tc-main")
	if !ok || k.Kind != "tencent" || k.Fields["secret_id"] != "AKIDmain" || k.Fields["secret_key"] != canary+"=x y" {
		t.Errorf("stored %+v", k)
	}
	r = runCLI(t, s.Socket, "", "key", "list")
	if r.code != 0 || r.stdout != "NAME     KIND\ntc-main  tencent\n" {
		t.Errorf("key list: %+v", r)
	}
	if r := runCLI(t, s.Socket, "", "key", "rm", "tc-main"); r.code != 0 || r.stdout != "removed key tc-main\n" {
		t.Errorf("key rm: %+v", r)
	}
	if r := runCLI(t, s.Socket, "", "key", "list"); r.stdout != "no keys in keystore keyring\n" {
		t.Errorf("empty key list: %+v", r)
	}
	if r := runCLI(t, s.Socket, "", "key", "set", "x", "--kind", "aws"); r.code != exitUsage || !strings.Contains(r.stderr, "huawei-aksk, password, tencent") {
		t.Errorf("bad kind: %+v", r)
	}
	if r := runCLI(t, s.Socket, "", "key", "set", "x"); r.code != exitUsage || !strings.Contains(r.stderr, `"kind" not set`) {
		t.Errorf("no kind: %+v", r)
	}
	s.SetReadOnly(true)
	r = runCLI(t, s.Socket, "username=u\npassword=p\n", "key", "set", "idp", "--kind", "password")
	if r.code != exitUsage || !strings.Contains(r.stderr, "read-only") {
		t.Errorf("read-only: %+v", r)
	}
}

func TestReadFields(t *testing.T) {
	fields := []string{"secret_id", "secret_key"}
	bad := map[string]string{
		"no equals":     "secret_id=a\n" + canary + "\n",
		"unknown field": "secret_id=a\n" + canary + "=b\n",
		"twice":         "secret_id=a\nsecret_id=" + canary + "\n",
		"missing":       "secret_id=" + canary + "\n",
		"empty":         "secret_id=\nsecret_key=" + canary + "\n",
		"too long":      "secret_id=" + strings.Repeat(canary, 5000) + "\n",
	}
	for name, in := range bad {
		_, err := readFields(strings.NewReader(in), fields)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), canary[:8]) {
			t.Errorf("%s: error quotes the input: %v", name, err)
		}
		var buf bytes.Buffer
		report(&buf, err)
		if strings.Contains(buf.String(), canary[:8]) {
			t.Errorf("%s: report quotes the input: %s", name, buf.String())
		}
	}
	got, err := readFields(strings.NewReader(" secret_key = v=w \nsecret_id=i"), fields)
	if err != nil || got["secret_key"] != " v=w " || got["secret_id"] != "i" {
		t.Errorf("got %q, %v", got, err)
	}
}

func TestCompletionAndVersion(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		r := runCLI(t, "/nonexistent", "", "completion", sh)
		if r.code != 0 || !strings.Contains(r.stdout, "credctl") {
			t.Errorf("completion %s: code %d, %d bytes", sh, r.code, len(r.stdout))
		}
	}
	if r := runCLI(t, "/nonexistent", "", "completion", "tcsh"); r.code != exitUsage {
		t.Errorf("completion tcsh: %+v", r)
	}
	if r := runCLI(t, "/nonexistent", "", "version"); r.code != 0 || !strings.HasPrefix(r.stdout, "credctl ") {
		t.Errorf("version: %+v", r)
	}
	// Dynamic completion lists the daemon's profiles.
	s := fakeDaemon(t)
	r := runCLI(t, s.Socket, "", "__complete", "get", "")
	if !strings.Contains(r.stdout, "tc-dev\ttencent fresh") || !strings.Contains(r.stdout, "hw-sso") {
		t.Errorf("completion of profiles:\n%s", r.stdout)
	}
}

func TestNewCommand(t *testing.T) {
	cmd := NewCommand()
	var names []string
	for _, c := range cmd.Commands() {
		names = append(names, c.Name())
	}
	for _, want := range []string{"get", "export", "exec", "process", "profiles", "status", "refresh", "reload", "key", "completion", "version"} {
		if !slices.Contains(names, want) {
			t.Errorf("no %s command in %v", want, names)
		}
	}
}

func TestReportUnknownError(t *testing.T) {
	var buf bytes.Buffer
	if code := report(&buf, errors.New("first\nsecond")); code != exitUsage || buf.String() != "credctl: first\n  second\n" {
		t.Errorf("code %d, %q", code, buf.String())
	}
}
