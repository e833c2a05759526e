package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/credd-dev/credd/client"
)

// credentials fetches profile name's credentials. Callers Zero them.
func (e *env) credentials(ctx context.Context, name string) (*client.Credentials, error) {
	c, err := e.client().Credentials(ctx, name)
	return c, aboutProfiles(err)
}

func getCmd(e *env) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "get PROFILE",
		Short: "Print a profile's temporary credentials",
		Long: "Print a profile's temporary credentials: as JSON (the default), as\n" +
			"NAME=value environment lines (-o env) or as AWS credential_process JSON\n" +
			"(-o process).",
		Args:              exactArgs("PROFILE"),
		ValidArgsFunction: e.profileNames,
		RunE: e.runE(func(cmd *cobra.Command, args []string) error {
			return e.get(cmd.Context(), args[0], output)
		}),
	}
	cmd.Flags().StringVarP(&output, "output", "o", "json", "output format: json, env or process")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"json", "env", "process"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// get prints profile name's credentials in format output.
func (e *env) get(ctx context.Context, name, output string) error {
	switch output {
	case "json", "env", "process":
	default:
		return usageErr(fmt.Errorf("unknown output format %q (want json, env or process)", output))
	}
	c, err := e.credentials(ctx, name)
	if err != nil {
		return err
	}
	defer c.Zero()
	var out []byte
	switch output {
	case "json":
		out, err = credsJSON(c)
	case "env":
		out, err = credsEnv(c)
	case "process":
		out, err = processJSON(c)
	}
	if err != nil {
		return err
	}
	defer clear(out)
	_, err = e.stdout.Write(out)
	return err
}

// marshal encodes v as JSON without HTML escaping: tokens are read by
// programs, not browsers.
func marshal(v any, indent bool) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode credentials: %w", err)
	}
	return b.Bytes(), nil
}

func credsJSON(c *client.Credentials) ([]byte, error) {
	return marshal(struct {
		Profile         string `json:"profile"`
		Provider        string `json:"provider"`
		Region          string `json:"region,omitempty"`
		AccessKeyID     string `json:"access_key_id"`
		SecretAccessKey string `json:"secret_access_key"`
		SessionToken    string `json:"session_token"`
		Expiration      string `json:"expiration"`
	}{
		c.Profile, c.Provider, c.Region, c.AccessKeyID,
		c.SecretAccessKey.Reveal(), c.SessionToken.Reveal(),
		c.Expiration.UTC().Format(time.RFC3339),
	}, true)
}

// processJSON is the output AWS SDKs expect from a credential_process.
func processJSON(c *client.Credentials) ([]byte, error) {
	return marshal(struct {
		Version         int
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string
		SessionToken    string
		Expiration      string
	}{1, c.AccessKeyID, c.SecretAccessKey.Reveal(), c.SessionToken.Reveal(), c.Expiration.UTC().Format(time.RFC3339)}, false)
}

// credsEnv writes NAME=value lines, unquoted, as docker --env-file and
// systemd's EnvironmentFile= read them. A value with a line break cannot be
// written that way; export --shell dotenv can.
func credsEnv(c *client.Credentials) ([]byte, error) {
	vs, err := envVars(c)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	for _, v := range vs {
		if strings.ContainsAny(v.value, "\n\r") {
			return nil, withHint(fmt.Errorf("profile %q: %s contains a line break", c.Profile, v.name),
				"use `credctl export --shell dotenv` for quoted output")
		}
		b.WriteString(v.name + "=" + v.value + "\n")
	}
	return b.Bytes(), nil
}

// export prints commands that set profile name's credentials in shell's
// syntax; an empty shell means the one $SHELL names.
func (e *env) export(ctx context.Context, name, shell string) error {
	if shell == "" {
		shell = shellFromEnv(e.getenv("SHELL"))
	}
	if _, err := exportLine(shell, "X", ""); err != nil {
		return usageErr(err)
	}
	c, err := e.credentials(ctx, name)
	if err != nil {
		return err
	}
	defer c.Zero()
	vs, err := envVars(c)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	defer func() { clear(b.Bytes()) }()
	for _, v := range vs {
		line, err := exportLine(shell, v.name, v.value)
		if err != nil {
			return err
		}
		b.WriteString(line + "\n")
	}
	_, err = e.stdout.Write(b.Bytes())
	return err
}

func exportCmd(e *env) *cobra.Command {
	var shell string
	cmd := &cobra.Command{
		Use:   "export PROFILE",
		Short: "Print shell commands that set a profile's credentials",
		Long: "Print commands that set a profile's credentials as environment variables,\n" +
			"for eval in bash or zsh, source in fish, Invoke-Expression in PowerShell, or\n" +
			"a .env file. The shell defaults to the basename of $SHELL, else bash.\n\n" +
			"  eval \"$(credctl export tc-dev)\"",
		Args:              exactArgs("PROFILE"),
		ValidArgsFunction: e.profileNames,
		RunE: e.runE(func(cmd *cobra.Command, args []string) error {
			return e.export(cmd.Context(), args[0], shell)
		}),
	}
	cmd.Flags().StringVar(&shell, "shell", "", "syntax: bash, zsh, fish, powershell or dotenv (default from $SHELL)")
	_ = cmd.RegisterFlagCompletionFunc("shell", cobra.FixedCompletions(shells, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func processCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "process PROFILE",
		Short: "Print credentials as AWS credential_process JSON",
		Long: "Print a profile's credentials in the JSON an AWS SDK expects from a\n" +
			"credential_process (Version 1), e.g. in ~/.aws/config:\n\n" +
			"  credential_process = credctl process my-profile",
		Args:              exactArgs("PROFILE"),
		ValidArgsFunction: e.profileNames,
		RunE: e.runE(func(cmd *cobra.Command, args []string) error {
			return e.process(cmd.Context(), args[0])
		}),
	}
}

// process prints profile name's credentials as credential_process JSON.
func (e *env) process(ctx context.Context, name string) error {
	c, err := e.credentials(ctx, name)
	if err != nil {
		return err
	}
	defer c.Zero()
	out, err := processJSON(c)
	if err != nil {
		return err
	}
	defer clear(out)
	_, err = e.stdout.Write(out)
	return err
}

func execCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "exec PROFILE -- COMMAND [ARG...]",
		Short: "Run a command with a profile's credentials in its environment",
		Long: "Replace credctl with COMMAND, found in $PATH, with the profile's credentials\n" +
			"added to the environment. COMMAND's exit code is credctl's.",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErr(errors.New("missing PROFILE"))
			}
			if len(execArgv(args)) == 0 {
				return usageErr(errors.New("missing COMMAND"))
			}
			return nil
		},
		ValidArgsFunction: e.profileNames,
		RunE: e.runE(func(cmd *cobra.Command, args []string) error {
			return e.execProfile(cmd.Context(), args)
		}),
	}
	// Everything after PROFILE belongs to COMMAND, flags included.
	cmd.Flags().SetInterspersed(false)
	return cmd
}

// execProfile replaces credctl with COMMAND, given in args after PROFILE,
// with PROFILE's credentials in its environment.
func (e *env) execProfile(ctx context.Context, args []string) error {
	argv := execArgv(args)
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return &cmdError{argv[0], err}
	}
	c, err := e.credentials(ctx, args[0])
	if err != nil {
		return err
	}
	vs, err := envVars(c)
	c.Zero()
	if err != nil {
		return err
	}
	// On success exec does not return: COMMAND replaces credctl, and its
	// exit code is the one the caller sees.
	if err := e.exec(path, argv, mergeEnv(e.environ(), vs)); err != nil {
		return &cmdError{argv[0], err}
	}
	return nil
}

// execArgv returns COMMAND and its arguments from exec's arguments, with or
// without the "--" separator.
func execArgv(args []string) []string {
	rest := args[1:]
	if len(rest) > 0 && rest[0] == "--" {
		rest = rest[1:]
	}
	return rest
}
