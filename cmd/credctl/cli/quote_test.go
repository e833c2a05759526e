package cli

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestQuoteTables(t *testing.T) {
	tests := []struct {
		in                              string
		posix, fish, powershell, dotenv string
	}{
		{"", `''`, `''`, `''`, `""`},
		{"abc", `'abc'`, `'abc'`, `'abc'`, `"abc"`},
		{"a'b", `'a'\''b'`, `'a\'b'`, `'a''b'`, `"a'b"`},
		{`a\b`, `'a\b'`, `'a\\b'`, `'a\b'`, `"a\\b"`},
		{`\'`, `'\'\'''`, `'\\\''`, `'\'''`, `"\\'"`},
		{"$(id)`id`", "'$(id)`id`'", "'$(id)`id`'", "'$(id)`id`'", "\"\\$(id)`id`\""},
		{"a\nb\r", "'a\nb\r'", "'a\nb\r'", "'a\nb\r'", `"a\nb\r"`},
		{`"x"`, `'"x"'`, `'"x"'`, `'"x"'`, `"\"x\""`},
		{"‘’‚‛", "'‘’‚‛'", "'‘’‚‛'", "'‘‘’’‚‚‛‛'", `"‘’‚‛"`},
		{"“”", "'“”'", "'“”'", "'“”'", `"“”"`},
		{"\xe2\x80", "'\xe2\x80'", "'\xe2\x80'", "'\xe2\x80'", "\"\xe2\x80\""},
		{"!%~ \t", "'!%~ \t'", "'!%~ \t'", "'!%~ \t'", "\"!%~ \t\""},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.in), func(t *testing.T) {
			for _, c := range []struct {
				name      string
				got, want string
			}{
				{"posix", quotePOSIX(tt.in), tt.posix},
				{"fish", quoteFish(tt.in), tt.fish},
				{"powershell", quotePowerShell(tt.in), tt.powershell},
				{"dotenv", quoteDotenv(tt.in), tt.dotenv},
			} {
				if c.got != c.want {
					t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
				}
			}
		})
	}
}

func TestExportLine(t *testing.T) {
	for shell, want := range map[string]string{
		"bash":       `export V='x'`,
		"zsh":        `export V='x'`,
		"fish":       `set -gx V 'x'`,
		"powershell": `$Env:V = 'x'`,
		"dotenv":     `V="x"`,
	} {
		got, err := exportLine(shell, "V", "x")
		if err != nil || got != want {
			t.Errorf("%s: %q, %v; want %q", shell, got, err, want)
		}
	}
	if _, err := exportLine("tcsh", "V", "x"); err == nil {
		t.Error("unknown shell accepted")
	}
}

func TestShellFromEnv(t *testing.T) {
	for in, want := range map[string]string{
		"/bin/bash": "bash", "/usr/bin/zsh": "zsh", "/usr/local/bin/fish": "fish",
		"/usr/bin/pwsh": "powershell", "pwsh": "powershell", "/bin/sh": "bash",
		"": "bash", "/bin/tcsh": "bash",
	} {
		if got := shellFromEnv(in); got != want {
			t.Errorf("shellFromEnv(%q) = %q, want %q", in, got, want)
		}
	}
}

// PowerShell's verbatim string is '...' with every single-quote character
// doubled. unquotePowerShell is its reading, for checking round trips of
// quotePowerShell where no pwsh is installed.
func unquotePowerShell(t *testing.T, q string) string {
	t.Helper()
	isQuote := func(s string) (int, bool) {
		if strings.HasPrefix(s, "'") {
			return 1, true
		}
		for _, r := range []string{"\u2018", "\u2019", "\u201a", "\u201b"} {
			if strings.HasPrefix(s, r) {
				return len(r), true
			}
		}
		return 0, false
	}
	if !strings.HasPrefix(q, "'") || !strings.HasSuffix(q, "'") || len(q) < 2 {
		t.Fatalf("not single-quoted: %q", q)
	}
	body := q[1 : len(q)-1]
	var b strings.Builder
	for i := 0; i < len(body); {
		if n, ok := isQuote(body[i:]); ok {
			// A quote inside must be doubled, else it would end the string.
			if body[i+n:i+2*n] != body[i:i+n] {
				t.Fatalf("lone quote at %d in %q", i, q)
			}
			b.WriteString(body[i : i+n])
			i += 2 * n
			continue
		}
		b.WriteByte(body[i])
		i++
	}
	return b.String()
}

func TestPowerShellRoundTrip(t *testing.T) {
	for _, v := range hostileValues() {
		if got := unquotePowerShell(t, quotePowerShell(v)); got != v {
			t.Errorf("round trip of %q gave %q", v, got)
		}
	}
}

// hostileValues are values a token could hold that break naive quoting:
// every byte but NUL, alone and together, shell syntax, quotes of every
// kind, invalid UTF-8 and long random strings.
func hostileValues() []string {
	var all []byte
	for b := 1; b < 256; b++ {
		all = append(all, byte(b))
	}
	vs := []string{
		string(all),
		"'", "''", `'\''`, `\`, `\\`, `x\`, `"`, `\"`, "`id`", "$(id)", "${HOME}", "$HOME",
		"!", "!!", "%PATH%", "% s %", "a b  c", " lead", "trail ", "\n", "\nlead", "trail\n\n",
		"\r\n", "\t", "#comment", "a;b&&c|d>e<f", "*?[a]{b,c}~", "‘’‚‛“”", "\u00e9\u4e2d\U0001F600",
		"\xff\xfe", "\xe2\x80", "\xe2\x80\x98\xe2", "\xc0\x80", "\xed\xa0\x80", "\xef\x98\x80",
		"-n", "-e", "--", "-", "%s%d%%", `\x41\n\0`,
	}
	for b := 1; b < 256; b++ {
		vs = append(vs, string([]byte{byte(b)}), "a"+string([]byte{byte(b)})+"z")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1000, 64 << 10} {
		long := make([]byte, n)
		for i := range long {
			long[i] = byte(1 + r.IntN(255))
		}
		vs = append(vs, string(long))
	}
	return vs
}

// needShell returns the path of a shell, failing under CI when it is
// missing and skipping otherwise.
func needShell(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI: %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// TestRealShells evaluates export output in real shells, the way users do,
// and compares what the shell holds with the original bytes.
func TestRealShells(t *testing.T) {
	vals := hostileValues()
	cases := []struct {
		shell string
		// run builds the command that loads script and writes each
		// variable V<i> to the file $OUT/<i>.
		run func(sh, script, out string, n int) *exec.Cmd
	}{
		{"bash", func(sh, script, out string, n int) *exec.Cmd {
			return exec.Command(sh, "--norc", "--noprofile", "-c",
				`eval "$(cat "$1")" && for i in $(seq 0 $(($2-1))); do v="V$i"; printf %s "${!v}" > "$3/$i"; done`,
				"bash", script, strconv.Itoa(n), out)
		}},
		{"zsh", func(sh, script, out string, n int) *exec.Cmd {
			return exec.Command(sh, "-f", "-c",
				`eval "$(cat "$1")" && for i in {0..$(($2-1))}; do v="V$i"; printf %s "${(P)v}" > "$3/$i"; done`,
				"zsh", script, strconv.Itoa(n), out)
		}},
		{"fish", func(sh, script, out string, n int) *exec.Cmd {
			return exec.Command(sh, "--no-config", "-c",
				`cat $argv[1] | source; and for i in (seq 0 (math $argv[2] - 1)); set -l v V$i; printf %s "$$v" > $argv[3]/$i; end`,
				script, strconv.Itoa(n), out)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.shell, func(t *testing.T) {
			sh := needShell(t, tc.shell)
			dir := t.TempDir()
			out := filepath.Join(dir, "out")
			if err := os.Mkdir(out, 0o700); err != nil {
				t.Fatal(err)
			}
			var script bytes.Buffer
			for i, v := range vals {
				line, err := exportLine(tc.shell, fmt.Sprintf("V%d", i), v)
				if err != nil {
					t.Fatal(err)
				}
				script.WriteString(line + "\n")
			}
			file := filepath.Join(dir, "export.sh")
			if err := os.WriteFile(file, script.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := tc.run(sh, file, out, len(vals))
			cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", tc.shell, err, b)
			}
			for i, v := range vals {
				got, err := os.ReadFile(filepath.Join(out, strconv.Itoa(i)))
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != v {
					t.Errorf("V%d: %s read %q, want %q", i, tc.shell, abbrev(got), abbrev([]byte(v)))
				}
			}
		})
	}
}

func abbrev(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + fmt.Sprintf("...(%d bytes)", len(b))
	}
	return string(b)
}
