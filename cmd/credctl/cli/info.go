package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/credd-dev/credd/apitype"
	"github.com/credd-dev/credd/version"
)

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func profilesCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "profiles",
		Short: "List profiles and the state of their credentials",
		Args:  exactArgs(),
		RunE: e.runE(func(cmd *cobra.Command, _ []string) error {
			ps, err := e.client().Profiles(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(e.stdout, apitype.Profiles{Profiles: ps})
			}
			if len(ps) == 0 {
				_, err := fmt.Fprintln(e.stdout, "no profiles (add one to credd's config and run `credctl reload`)")
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tPROVIDER\tSTATE\tEXPIRES\tNEXT\tERROR")
			now := e.now()
			for _, p := range ps {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, providerLabel(p), p.State,
					relTime(now, p.ExpiresAt), relTime(now, p.NextRefreshAt), errorLabel(p))
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func providerLabel(p apitype.Profile) string {
	if p.Method == "" {
		return p.Provider
	}
	return p.Provider + "/" + p.Method
}

// errorLabel is the ERROR column: the failure's class and upstream code,
// which fit a table, or else the start of its message.
func errorLabel(p apitype.Profile) string {
	if p.LastError == "" && p.ErrorClass == "" && p.ErrorCode == "" {
		return "-"
	}
	label := strings.TrimSpace(p.ErrorClass + " " + p.ErrorCode)
	if label == "" {
		label = strings.ReplaceAll(p.LastError, "\n", " ")
		if len(label) > 60 {
			label = label[:57] + "..."
		}
	}
	return label
}

// relTime describes t relative to now the way people say it: "in 24m",
// "3h5m ago", "-" for never.
func relTime(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := t.Sub(now)
	if d >= 0 {
		return "in " + shortDuration(d)
	}
	return shortDuration(-d) + " ago"
}

// shortDuration rounds d to its two largest units.
func shortDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		h := int(d.Hours())
		m := int(d.Minutes()) - 60*h
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	}
	return fmt.Sprintf("%dd", int(d.Hours())/24)
}

func statusCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the daemon's status",
		Args:  exactArgs(),
		RunE: e.runE(func(cmd *cobra.Command, _ []string) error {
			s, err := e.client().Status(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(e.stdout, s)
			}
			now := e.now()
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 1, ' ', 0)
			fmt.Fprintf(tw, "daemon:\t%s (pid %d, up %s)\n", s.Version, s.PID,
				shortDuration(time.Duration(s.UptimeSeconds*float64(time.Second))))
			sock := s.Socket
			if sock == "" {
				sock = e.socket
			}
			if s.SocketActivated {
				sock += " (socket-activated)"
			}
			fmt.Fprintf(tw, "socket:\t%s\n", sock)
			cfg := s.ConfigPath
			if cfg == "" {
				cfg = "(none)"
			}
			fmt.Fprintf(tw, "config:\t%s (generation %d, loaded %s)\n", cfg, s.Generation, relTime(now, s.LoadedAt))
			if s.LastReloadError != "" {
				fmt.Fprintf(tw, "last reload:\tfailed %s, previous config still serving:\n", relTime(now, s.LastReloadAt))
				for _, l := range strings.Split(strings.TrimRight(s.LastReloadError, "\n"), "\n") {
					fmt.Fprintf(tw, "\t  %s\n", l)
				}
			}
			fmt.Fprintf(tw, "keystore:\t%s\n", s.Keystore)
			fmt.Fprintf(tw, "profiles:\t%d\n", s.ProfileCount)
			return tw.Flush()
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func refreshCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:               "refresh PROFILE",
		Short:             "Fetch a profile's credentials now, whatever its schedule",
		Args:              exactArgs("PROFILE"),
		ValidArgsFunction: e.profileNames,
		RunE: e.runE(func(cmd *cobra.Command, args []string) error {
			p, err := e.client().Refresh(cmd.Context(), args[0])
			if err != nil {
				return aboutProfiles(err)
			}
			now := e.now()
			_, err = fmt.Fprintf(e.stdout, "refreshed %s: expires %s, next refresh %s\n",
				p.Name, relTime(now, p.ExpiresAt), relTime(now, p.NextRefreshAt))
			return err
		}),
	}
}

func reloadCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "reload",
		Short: "Make the daemon reread its config",
		Args:  exactArgs(),
		RunE: e.runE(func(cmd *cobra.Command, _ []string) error {
			r, err := e.client().Reload(cmd.Context())
			if err != nil {
				return err
			}
			msg := "reloaded config: generation %d\n"
			if !r.Changed {
				msg = "config unchanged: generation %d\n"
			}
			_, err = fmt.Fprintf(e.stdout, msg, r.Generation)
			return err
		}),
	}
}

func versionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print credctl's version",
		Args:  exactArgs(),
		RunE: e.runE(func(*cobra.Command, []string) error {
			_, err := fmt.Fprintln(e.stdout, version.String("credctl"))
			return err
		}),
	}
}

func completionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: "Print a completion script for the shell, e.g.\n\n" +
			"  credctl completion bash > ~/.local/share/bash-completion/completions/credctl\n" +
			"  credctl completion fish > ~/.config/fish/completions/credctl.fish",
		Args:      exactArgs("SHELL"),
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		RunE: e.runE(func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(e.stdout, true)
			case "zsh":
				return root.GenZshCompletion(e.stdout)
			case "fish":
				return root.GenFishCompletion(e.stdout, true)
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(e.stdout)
			}
			return usageErr(fmt.Errorf("unknown shell %q (want bash, zsh, fish or powershell)", args[0]))
		}),
	}
}
