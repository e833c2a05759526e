package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/credd-dev/credd/apitype"
	"github.com/credd-dev/credd/client/clienttest"
	"github.com/credd-dev/credd/cmd/credctl/cli"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"credctl": func() { os.Exit(cli.Main()) },
	})
}

// TestScripts runs the real credctl binary against a fake daemon on
// $CREDD_SOCKET that serves tc-dev (tencent, hostile token), hw-sso
// (huawei) and broken (503).
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			sock := filepath.Join(env.WorkDir, "credd.sock")
			s, err := clienttest.New(sock)
			if err != nil {
				return err
			}
			env.Defer(s.Close)
			exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
			tc := apitype.Credentials{
				Profile: "tc-dev", Provider: "tencent", Region: "ap-guangzhou", AccessKeyID: "AKIDtc",
				SecretAccessKey: "sk'$(echo pwned)`id`\\\n!%\n", SessionToken: "tok \"'\n\t\u2019 end\\", Expiration: exp,
			}
			s.AddProfile(apitype.Profile{}, tc)
			// The bytes export must reproduce, for cmp in the scripts.
			for name, v := range map[string]string{"want.sk": tc.SecretAccessKey, "want.tok": tc.SessionToken, "want.region": tc.Region} {
				if err := os.WriteFile(filepath.Join(env.WorkDir, name), []byte(v), 0o600); err != nil {
					return err
				}
			}
			s.AddProfile(apitype.Profile{}, apitype.Credentials{
				Profile: "hw-sso", Provider: "huawei", AccessKeyID: "HWAK", SecretAccessKey: "hwsk", SessionToken: "hwst", Expiration: exp,
			})
			s.FailProfile("broken", http.StatusServiceUnavailable, apitype.ErrorDetail{
				Code: apitype.CodeUnavailable, Upstream: "RequestLimitExceeded",
				Message: `fetch profile "broken": tencent GetFederationToken: RequestLimitExceeded: too many requests`,
			})
			env.Setenv("CREDD_SOCKET", sock)
			env.Setenv("SHELL", "/bin/bash")
			return nil
		},
		Condition: func(cond string) (bool, error) {
			// [shell:NAME] is true when the shell exists; under CI a
			// missing shell fails instead of skipping.
			if name, ok := strings.CutPrefix(cond, "shell:"); ok {
				_, err := exec.LookPath(name)
				if err != nil && os.Getenv("CI") == "true" {
					t.Fatalf("%s is required under CI", name)
				}
				return err == nil, nil
			}
			return false, nil
		},
	})
}

// forbidden are packages credctl must never link: they carry long-lived
// secrets, the OS keyring or heavy provider SDKs, and they would slow every
// credctl start.
var forbidden = []string{
	"github.com/zalando/go-keyring",
	"github.com/godbus/",
	"github.com/danieljoos/wincred",
	"github.com/credd-dev/credd/keystore",
	"github.com/credd-dev/credd/providers",
	"github.com/tencentcloud/",
	"github.com/credd-dev/credd/daemon",
	"github.com/credd-dev/credd/refresh",
	"github.com/credd-dev/credd/config",
	"github.com/coreos/go-systemd",
	"github.com/fsnotify/",
	// Start-up time: credctl runs once per shell prompt or SDK call, and
	// the package inits of net/http and the TLS and X.509 code it pulls in
	// cost more than the rest of a run. Package client speaks HTTP/1.1
	// itself.
	"net/http",
	"crypto/tls",
	"crypto/x509",
}

func TestDeps(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go is not on PATH: %v", err)
	}
	out, err := exec.Command(gobin, "list", "-deps", "github.com/credd-dev/credd/cmd/credctl").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 20 || !strings.Contains(string(out), "github.com/credd-dev/credd/client\n") {
		t.Fatalf("go list gave an implausible dependency list:\n%s", out)
	}
	for _, d := range deps {
		if isForbidden(d) {
			t.Errorf("credctl depends on %s", d)
		}
	}
	// The matcher itself: subpackages count, look-alike prefixes do not.
	for d, want := range map[string]bool{
		"github.com/credd-dev/credd/providers/tencent": true,
		"github.com/godbus/dbus/v5":                    true,
		"github.com/credd-dev/credd/keystore":          true,
		"github.com/credd-dev/credd/keystoreish":       false,
		"github.com/credd-dev/credd/client":            false,
		"net/http/httptrace":                           true,
		"crypto/x509/pkix":                             true,
		"net/netip":                                    false,
	} {
		if isForbidden(d) != want {
			t.Errorf("isForbidden(%q) = %v", d, !want)
		}
	}
}

func isForbidden(pkg string) bool {
	for _, f := range forbidden {
		base := strings.TrimSuffix(f, "/")
		if pkg == base || strings.HasPrefix(pkg, base+"/") {
			return true
		}
	}
	return false
}
