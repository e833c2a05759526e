package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/credd-dev/credd/apitype"
)

// keyKinds lists the fields of each keystore entry kind, in prompt order.
// It mirrors keystore.Kinds, which credctl must not link; the daemon
// validates what it receives, so a drift shows up as a clear 400.
var keyKinds = map[string][]string{
	"tencent":     {"secret_id", "secret_key"},
	"huawei-aksk": {"access_key", "secret_key"},
	"password":    {"username", "password"},
}

func kindNames() []string {
	ks := make([]string, 0, len(keyKinds))
	for k := range keyKinds {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func keyCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Manage the long-lived keys in the daemon's keystore",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(keySetCmd(e), keyListCmd(e), keyRmCmd(e))
	return cmd
}

func keySetCmd(e *env) *cobra.Command {
	var kind string
	cmd := &cobra.Command{
		Use:   "set NAME --kind tencent|huawei-aksk|password",
		Short: "Store a key in the daemon's keystore",
		Long: "Store a key in the daemon's keystore. On a terminal each field is\n" +
			"prompted for without echo; otherwise stdin is read as field=value lines:\n\n" +
			"  tencent:      secret_id, secret_key\n" +
			"  huawei-aksk:  access_key, secret_key\n" +
			"  password:     username, password",
		Args: exactArgs("NAME"),
		RunE: e.runE(func(cmd *cobra.Command, args []string) error {
			fields, ok := keyKinds[kind]
			if !ok {
				return usageErr(fmt.Errorf("--kind must be one of %s", strings.Join(kindNames(), ", ")))
			}
			var vals map[string]string
			var err error
			if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				vals, err = promptFields(int(f.Fd()), e.stderr, args[0], fields)
			} else {
				vals, err = readFields(e.stdin, fields)
			}
			if err != nil {
				return fmt.Errorf("key %q: %w", args[0], err)
			}
			if err := e.client().PutKey(cmd.Context(), args[0], apitype.PutKey{Kind: kind, Fields: vals}); err != nil {
				return err
			}
			_, err = fmt.Fprintf(e.stdout, "stored key %s (%s)\n", args[0], kind)
			return err
		}),
	}
	cmd.Flags().StringVar(&kind, "kind", "", "kind of key: "+strings.Join(kindNames(), ", "))
	_ = cmd.MarkFlagRequired("kind")
	_ = cmd.RegisterFlagCompletionFunc("kind", cobra.FixedCompletions(kindNames(), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// promptFields asks for each field on the terminal without echo.
func promptFields(fd int, w io.Writer, name string, fields []string) (map[string]string, error) {
	vals := make(map[string]string, len(fields))
	for _, f := range fields {
		fmt.Fprintf(w, "%s %s: ", name, f)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(w)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f, err)
		}
		if len(b) == 0 {
			return nil, fmt.Errorf("%s is empty", f)
		}
		vals[f] = string(b)
		clear(b)
	}
	return vals, nil
}

// maxKeyInput bounds what key set reads from a pipe; the daemon takes no
// more than 64 KiB either.
const maxKeyInput = 64 << 10

// readFields reads "field=value" lines. Blank lines and lines starting
// with # are skipped; a value runs to the end of its line and may contain
// "=". Errors name lines and fields but never quote input, which may be a
// secret put on the wrong line.
func readFields(r io.Reader, fields []string) (map[string]string, error) {
	want := strings.Join(fields, ", ")
	vals := make(map[string]string, len(fields))
	sc := bufio.NewScanner(io.LimitReader(r, maxKeyInput+1))
	sc.Buffer(make([]byte, 4096), maxKeyInput+1)
	n, total := 0, 0
	for sc.Scan() {
		n++
		total += len(sc.Bytes()) + 1
		if total > maxKeyInput {
			return nil, fmt.Errorf("input larger than %d bytes", maxKeyInput)
		}
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok {
			return nil, fmt.Errorf("stdin line %d: want field=value with a field of %s", n, want)
		}
		if !slices.Contains(fields, k) {
			return nil, fmt.Errorf("stdin line %d: unknown field (want %s)", n, want)
		}
		if _, dup := vals[k]; dup {
			return nil, fmt.Errorf("stdin line %d: %s given twice", n, k)
		}
		if v == "" {
			return nil, fmt.Errorf("stdin line %d: %s is empty", n, k)
		}
		vals[k] = v
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("input larger than %d bytes", maxKeyInput)
		}
		return nil, fmt.Errorf("read stdin: %w", err)
	}
	for _, f := range fields {
		if _, ok := vals[f]; !ok {
			return nil, withHint(fmt.Errorf("stdin has no %s", f),
				"write one field=value line for each of "+want)
		}
	}
	return vals, nil
}

func keyListCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the keystore's keys (names and kinds only)",
		Args:  exactArgs(),
		RunE: e.runE(func(cmd *cobra.Command, _ []string) error {
			ks, err := e.client().Keys(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(e.stdout, ks)
			}
			ro := ""
			if ks.ReadOnly {
				ro = ", read-only"
			}
			if len(ks.Keys) == 0 {
				_, err := fmt.Fprintf(e.stdout, "no keys in keystore %s%s\n", ks.Backend, ro)
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tKIND")
			for _, k := range ks.Keys {
				fmt.Fprintf(tw, "%s\t%s\n", k.Name, k.Kind)
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func keyRmCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:     "rm NAME",
		Aliases: []string{"remove", "delete"},
		Short:   "Remove a key from the daemon's keystore",
		Args:    exactArgs("NAME"),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			ks, err := e.client().Keys(cmd.Context())
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var out []cobra.Completion
			for _, k := range ks.Keys {
				out = append(out, cobra.CompletionWithDesc(k.Name, k.Kind))
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: e.runE(func(cmd *cobra.Command, args []string) error {
			if err := e.client().DeleteKey(cmd.Context(), args[0]); err != nil {
				return aboutKeys(err)
			}
			_, err := fmt.Fprintf(e.stdout, "removed key %s\n", args[0])
			return err
		}),
	}
}
