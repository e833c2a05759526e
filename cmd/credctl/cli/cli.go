// Package cli implements credctl's commands. It talks to credd only through
// package client and must stay free of keystore and provider code, so that
// credctl starts as fast as a static binary can (a test checks its imports).
package cli

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/credd-dev/credd/client"
	"github.com/credd-dev/credd/safesocket"
)

// env is what one credctl run works with. Commands read and write only
// through it, so tests run them in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	environ        func() []string
	// exec replaces the process; tests substitute a recorder.
	exec func(argv0 string, argv, envv []string) error
	now  func() time.Time

	socket string         // --socket
	c      *client.Client // made on first use
	// ran is set once a command's own code runs: an error before that
	// came from parsing the command line.
	ran bool
}

func newEnv(stdin io.Reader, stdout, stderr io.Writer) *env {
	return &env{
		stdin: stdin, stdout: stdout, stderr: stderr,
		getenv: os.Getenv, environ: os.Environ, exec: syscall.Exec, now: time.Now,
	}
}

func (e *env) client() *client.Client {
	if e.c == nil {
		e.c = client.New(e.socket)
	}
	return e.c
}

// Main runs credctl with the process's arguments and streams and returns
// its exit code.
//
// On the fast path (get, export, process, exec) SIGINT and SIGTERM keep
// their default action and end credctl at once, as they end any short
// command: catching them costs two goroutines, and so extra threads, on
// every run. Other commands, which may prompt or wait for a reload, catch
// them and cancel the request in flight.
func Main() int {
	args := os.Args[1:]
	e := newEnv(os.Stdin, os.Stdout, os.Stderr)
	if code, ok := fastRun(context.Background(), args, e); ok {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runCobra(ctx, args, e)
}

// Run runs credctl with args (without the program name) and returns its exit
// code; errors are reported on stderr as "credctl: ..." lines.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return run(ctx, args, newEnv(stdin, stdout, stderr))
}

func run(ctx context.Context, args []string, e *env) int {
	if code, ok := fastRun(ctx, args, e); ok {
		return code
	}
	return runCobra(ctx, args, e)
}

// runCobra runs args through the cobra command tree, which handles every
// command line.
func runCobra(ctx context.Context, args []string, e *env) int {
	root := newRoot(e)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if e.c != nil {
		e.c.Close()
	}
	if err != nil && !e.ran {
		err = usageErr(err)
	}
	return report(e.stderr, err)
}

// NewCommand returns credctl's command tree bound to the process's streams,
// for generating man pages and completions.
func NewCommand() *cobra.Command {
	return newRoot(newEnv(os.Stdin, os.Stdout, os.Stderr))
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "credctl",
		Short: "Get temporary cloud credentials from credd",
		Long: "credctl asks the credd daemon, over its Unix socket, for temporary cloud\n" +
			"credentials and hands them to shells, programs and SDKs. Long-lived keys\n" +
			"stay inside the daemon.",
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
		// Bare "credctl" prints help; anything else unknown is an error.
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.PersistentFlags().StringVar(&e.socket, "socket", safesocket.DefaultPath(),
		"path of credd's socket")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr(err) })

	root.AddGroup(
		&cobra.Group{ID: "creds", Title: "Credentials:"},
		&cobra.Group{ID: "daemon", Title: "Daemon:"},
	)
	for _, c := range []*cobra.Command{
		getCmd(e), exportCmd(e), execCmd(e), processCmd(e),
	} {
		c.GroupID = "creds"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{
		profilesCmd(e), statusCmd(e), refreshCmd(e), reloadCmd(e), keyCmd(e),
	} {
		c.GroupID = "daemon"
		root.AddCommand(c)
	}
	root.AddCommand(completionCmd(e), versionCmd(e))
	return root
}

// runE wraps a command's body so that run can tell its errors from
// command-line parsing errors.
func (e *env) runE(f func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		e.ran = true
		return f(cmd, args)
	}
}

// exactArgs is cobra.ExactArgs with a usage error and a message that names
// what is missing.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == len(names) {
			return nil
		}
		if len(args) < len(names) {
			return usageErr(errors.New("missing " + names[len(args)]))
		}
		return usageErr(errors.New("too many arguments"))
	}
}

// profileNames completes the first argument with the profiles the daemon
// lists; a daemon that is down just offers nothing.
func (e *env) profileNames(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Second)
	defer cancel()
	ps, err := e.client().Profiles(ctx)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, p := range ps {
		out = append(out, cobra.CompletionWithDesc(p.Name, p.Provider+" "+p.State))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
