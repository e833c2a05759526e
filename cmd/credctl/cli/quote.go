package cli

import (
	"fmt"
	"strings"
)

// Shells export can write for.
var shells = []string{"bash", "zsh", "fish", "powershell", "dotenv"}

// shellFromEnv picks the export syntax from the basename of $SHELL. Any
// other POSIX shell reads the bash syntax.
func shellFromEnv(shellPath string) string {
	base := shellPath
	if i := strings.LastIndexByte(base, '/'); i >= 0 {
		base = base[i+1:]
	}
	switch base {
	case "zsh", "fish":
		return base
	case "pwsh", "powershell", "pwsh.exe", "powershell.exe":
		return "powershell"
	}
	return "bash"
}

// exportLine returns one line that sets the environment variable name to
// value in shell. Names are credd's own fixed names and need no quoting;
// values may hold any byte but NUL.
func exportLine(shell, name, value string) (string, error) {
	switch shell {
	case "bash", "zsh":
		return "export " + name + "=" + quotePOSIX(value), nil
	case "fish":
		return "set -gx " + name + " " + quoteFish(value), nil
	case "powershell":
		return "$Env:" + name + " = " + quotePowerShell(value), nil
	case "dotenv":
		return name + "=" + quoteDotenv(value), nil
	}
	return "", fmt.Errorf("unknown shell %q (want one of %s)", shell, strings.Join(shells, ", "))
}

// quotePOSIX single-quotes s for bash, zsh and sh. Inside single quotes
// every byte is literal, newlines and invalid UTF-8 included. A quote ends
// the quoted part, is written backslash-escaped, and a new quoted part
// begins.
func quotePOSIX(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// quoteFish single-quotes s for fish, where a single-quoted string still
// treats \\ and \' as escapes, and nothing else.
func quoteFish(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\\' || c == '\'' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('\'')
	return b.String()
}

// quotePowerShell single-quotes s for PowerShell, where a single-quoted
// string is verbatim except that a doubled quote stands for one. PowerShell
// also takes the typographic quotes U+2018, U+2019, U+201A and U+201B as
// single quotes, so they are doubled too. Bytes that are not UTF-8 cannot
// be represented in a PowerShell string at all and pass through as they
// are.
func quotePowerShell(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); {
		if s[i] == '\'' {
			b.WriteString("''")
			i++
			continue
		}
		// U+2018..U+201B are E2 80 98..9B in UTF-8.
		if i+2 < len(s) && s[i] == 0xE2 && s[i+1] == 0x80 && s[i+2] >= 0x98 && s[i+2] <= 0x9B {
			q := s[i : i+3]
			b.WriteString(q + q)
			i += 3
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	b.WriteByte('\'')
	return b.String()
}

// quoteDotenv double-quotes s for .env files. Within double quotes the
// common loaders (godotenv, dotenv-expand, docker compose) unescape \\, \",
// \n and \r, and expand $VAR, so a dollar is escaped as \$. Other bytes,
// tabs and invalid UTF-8 included, are written as they are.
func quoteDotenv(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '"', '$':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
