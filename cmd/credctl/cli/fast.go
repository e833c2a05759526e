package cli

import (
	"context"
	"strings"

	"github.com/credd-dev/credd/safesocket"
)

// Shells and SDKs run get, export, process and exec on every prompt or API
// call, so their start-up time is credctl's. Building the cobra command
// tree costs about as much as the request itself; fastRun runs these
// commands without it.
//
// It takes only the plain forms of their command lines, which it parses
// the way cobra would: --socket anywhere before an exec's PROFILE, get's
// -o/--output, export's --shell, each at most once and with a value that
// is neither empty nor starts with "-". Anything else (help, completion,
// "--" before PROFILE, unknown or repeated flags, missing or extra
// arguments) is left to cobra, which reports it with its usual messages.

// fastArgs is a command line fastRun accepted.
type fastArgs struct {
	cmd    string   // get, export, process or exec
	socket string   // --socket, "" when not given
	output string   // get -o, "" when not given
	shell  string   // export --shell, "" when not given
	pos    []string // PROFILE, and for exec [--] COMMAND [ARG...]
}

// parseFast parses args (without the program name) or reports false when
// cobra should.
func parseFast(args []string) (fastArgs, bool) {
	var a fastArgs
	i := 0
	// Before the command only the root's own flag can come.
	for i < len(args) && strings.HasPrefix(args[i], "-") {
		n, ok := a.flag(args, i)
		if !ok {
			return a, false
		}
		i += n
	}
	if i == len(args) {
		return a, false
	}
	a.cmd = args[i]
	i++
	switch a.cmd {
	case "get", "export", "process", "exec":
	default:
		return a, false
	}
	for i < len(args) {
		if a.cmd == "exec" && len(a.pos) == 1 {
			// exec stops parsing flags at PROFILE: the rest, flags and
			// "--" included, is COMMAND's.
			a.pos = append(a.pos, args[i:]...)
			break
		}
		if strings.HasPrefix(args[i], "-") {
			n, ok := a.flag(args, i)
			if !ok {
				return a, false
			}
			i += n
			continue
		}
		a.pos = append(a.pos, args[i])
		i++
	}
	if a.cmd == "exec" {
		return a, len(a.pos) > 0 && len(execArgv(a.pos)) > 0
	}
	return a, len(a.pos) == 1
}

// flag parses the flag at args[i] and returns how many arguments it took.
func (a *fastArgs) flag(args []string, i int) (int, bool) {
	arg := args[i]
	var name, value string
	var short, inline bool
	if long, ok := strings.CutPrefix(arg, "--"); ok {
		name, value, inline = strings.Cut(long, "=")
	} else {
		// pflag reads "-oenv" and "-o=env" as "-o env".
		if len(arg) < 2 {
			return 0, false
		}
		short = true
		name = arg[1:2]
		if rest := arg[2:]; rest != "" {
			value, inline = strings.TrimPrefix(rest, "="), true
		}
	}
	n := 1
	if !inline {
		if i+1 >= len(args) {
			return 0, false
		}
		value = args[i+1]
		n = 2
	}
	if value == "" || strings.HasPrefix(value, "-") {
		return 0, false
	}
	var dst *string
	switch {
	case !short && name == "socket":
		dst = &a.socket
	case a.cmd == "get" && (!short && name == "output" || short && name == "o"):
		dst = &a.output
	case a.cmd == "export" && !short && name == "shell":
		dst = &a.shell
	default:
		return 0, false
	}
	if *dst != "" {
		return 0, false
	}
	*dst = value
	return n, true
}

// fastRun runs args if parseFast accepts them, and reports whether it did.
func fastRun(ctx context.Context, args []string, e *env) (code int, ok bool) {
	a, ok := parseFast(args)
	if !ok {
		return 0, false
	}
	e.socket = a.socket
	if e.socket == "" {
		e.socket = safesocket.DefaultPath()
	}
	var err error
	switch a.cmd {
	case "get":
		output := a.output
		if output == "" {
			output = "json"
		}
		err = e.get(ctx, a.pos[0], output)
	case "export":
		err = e.export(ctx, a.pos[0], a.shell)
	case "process":
		err = e.process(ctx, a.pos[0])
	case "exec":
		err = e.execProfile(ctx, a.pos)
	}
	if e.c != nil {
		e.c.Close()
	}
	return report(e.stderr, err), true
}
