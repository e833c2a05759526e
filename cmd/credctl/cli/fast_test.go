package cli

import (
	"bytes"
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseFast(t *testing.T) {
	tests := []struct {
		args []string
		want *fastArgs // nil: left to cobra
	}{
		{[]string{"get", "p"}, &fastArgs{cmd: "get", pos: []string{"p"}}},
		{[]string{"get", "p", "-o", "env"}, &fastArgs{cmd: "get", output: "env", pos: []string{"p"}}},
		{[]string{"get", "-oenv", "p"}, &fastArgs{cmd: "get", output: "env", pos: []string{"p"}}},
		{[]string{"get", "-o=process", "p"}, &fastArgs{cmd: "get", output: "process", pos: []string{"p"}}},
		{[]string{"get", "--output=json", "p"}, &fastArgs{cmd: "get", output: "json", pos: []string{"p"}}},
		{[]string{"get", "--output", "yaml", "p"}, &fastArgs{cmd: "get", output: "yaml", pos: []string{"p"}}},
		{[]string{"--socket", "/s", "get", "p"}, &fastArgs{cmd: "get", socket: "/s", pos: []string{"p"}}},
		{[]string{"--socket=/s", "export", "p", "--shell", "fish"}, &fastArgs{cmd: "export", socket: "/s", shell: "fish", pos: []string{"p"}}},
		{[]string{"export", "p", "--socket", "/s"}, &fastArgs{cmd: "export", socket: "/s", pos: []string{"p"}}},
		{[]string{"process", "p"}, &fastArgs{cmd: "process", pos: []string{"p"}}},
		{[]string{"exec", "p", "--", "sh", "-c", "x", "--socket"}, &fastArgs{cmd: "exec", pos: []string{"p", "--", "sh", "-c", "x", "--socket"}}},
		{[]string{"exec", "--socket", "/s", "p", "env", "-i"}, &fastArgs{cmd: "exec", socket: "/s", pos: []string{"p", "env", "-i"}}},
		{[]string{"get", ""}, &fastArgs{cmd: "get", pos: []string{""}}},

		{nil, nil},
		{[]string{"get"}, nil},
		{[]string{"get", "a", "b"}, nil},
		{[]string{"get", "-h"}, nil},
		{[]string{"get", "p", "--help"}, nil},
		{[]string{"get", "--", "p"}, nil},
		{[]string{"get", "-", "p"}, nil},
		{[]string{"get", "p", "-o"}, nil},
		{[]string{"get", "p", "-o", ""}, nil},
		{[]string{"get", "p", "-o", "-x"}, nil},
		{[]string{"get", "p", "--output="}, nil},
		{[]string{"get", "p", "-o", "env", "-o", "json"}, nil},
		{[]string{"get", "p", "--o", "env"}, nil},
		{[]string{"get", "p", "--shell", "bash"}, nil},
		{[]string{"get", "p", "--bogus", "x"}, nil},
		{[]string{"-o", "env", "get", "p"}, nil},
		{[]string{"--socket", "/a", "get", "p", "--socket", "/b"}, nil},
		{[]string{"export", "p", "-o", "env"}, nil},
		{[]string{"export", "p", "--shell"}, nil},
		{[]string{"process", "p", "-o", "env"}, nil},
		{[]string{"exec", "p"}, nil},
		{[]string{"exec", "p", "--"}, nil},
		{[]string{"exec", "--", "p", "true"}, nil},
		{[]string{"exec", "-h"}, nil},
		{[]string{"--socket"}, nil},
		{[]string{"--socket", "/s"}, nil},
		{[]string{"help", "get"}, nil},
		{[]string{"profiles"}, nil},
		{[]string{"version"}, nil},
		{[]string{"__complete", "get", ""}, nil},
		{[]string{"Get", "p"}, nil},
	}
	for _, tt := range tests {
		got, ok := parseFast(tt.args)
		switch {
		case tt.want == nil && ok:
			t.Errorf("parseFast(%q) = %+v, want it left to cobra", tt.args, got)
		case tt.want != nil && !ok:
			t.Errorf("parseFast(%q) left it to cobra, want %+v", tt.args, *tt.want)
		case tt.want != nil && !reflect.DeepEqual(got, *tt.want):
			t.Errorf("parseFast(%q) = %+v, want %+v", tt.args, got, *tt.want)
		}
	}
}

// The fast path and cobra give the same output and exit code for every
// command line the fast path takes.
func TestFastPathMatchesCobra(t *testing.T) {
	s := fakeDaemon(t)
	for _, args := range [][]string{
		{"get", "tc-dev"},
		{"get", "hw-sso", "-o", "env"},
		{"get", "-oprocess", "tc-dev"},
		{"get", "--output=json", "hw-sso"},
		{"get", "tc-dev", "--output", "yaml"},
		{"get", "nope"},
		{"get", "broken"},
		{"get", "secret"},
		{"get", ""},
		{"export", "tc-dev"},
		{"export", "tc-dev", "--shell", "powershell"},
		{"export", "--shell=dotenv", "hw-sso"},
		{"export", "tc-dev", "--shell", "csh"},
		{"export", "secret", "--shell", "bash"},
		{"process", "hw-sso"},
		{"process", "broken"},
		{"exec", "tc-dev", "--", "sh", "-c", "echo hi", "--socket"},
		{"exec", "hw-sso", "printenv", "HW_SECRET_KEY"},
		{"exec", "tc-dev", "--", "no-such-command-xyz"},
		{"exec", "nope", "--", "true"},
	} {
		args = append([]string{"--socket", s.Socket}, args...)
		if _, ok := parseFast(args); !ok {
			t.Errorf("%q: not taken by the fast path", args)
			continue
		}
		fast := runWith(t, run, args...)
		slow := runWith(t, runCobra, args...)
		if !reflect.DeepEqual(fast, slow) {
			t.Errorf("%q:\nfast path: %+v\n    cobra: %+v", args, fast, slow)
		}
	}
	// The daemon not running, with the socket from $CREDD_SOCKET as the
	// default of --socket.
	t.Setenv("CREDD_SOCKET", t.TempDir()+"/none.sock")
	fast := runWith(t, run, "get", "tc-dev")
	slow := runWith(t, runCobra, "get", "tc-dev")
	if !reflect.DeepEqual(fast, slow) || fast.code != exitNotRunning || !strings.Contains(fast.stderr, "none.sock") {
		t.Errorf("not running:\nfast path: %+v\n    cobra: %+v", fast, slow)
	}
}

// runWith runs args with runner and an env like runCLI's.
func runWith(t *testing.T, runner func(context.Context, []string, *env) int, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	e := newEnv(strings.NewReader(""), &out, &errb)
	var r result
	e.exec = func(path string, argv, envv []string) error {
		r.execd = append([]string{path}, argv...)
		r.execEnv = slices.Clone(envv)
		return nil
	}
	e.environ = func() []string { return []string{"PATH=/usr/bin:/bin", "KEEP=1"} }
	e.getenv = func(k string) string {
		if k == "SHELL" {
			return "/usr/bin/zsh"
		}
		return ""
	}
	e.now = func() time.Time { return testNow }
	r.code = runner(context.Background(), args, e)
	r.stdout, r.stderr = out.String(), errb.String()
	return r
}
