// Package cli is credd's command line: the daemon itself, check-config and
// version.
package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/spf13/cobra"

	"github.com/credd-dev/credd/config"
	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/logging"
	"github.com/credd-dev/credd/safesocket"
	"github.com/credd-dev/credd/version"
)

type flags struct {
	config    string
	socket    string
	logLevel  string
	logFormat string
}

// Main runs credd with args and returns the exit code.
func Main(args []string) int {
	cmd := NewCommand()
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			fmt.Fprintln(os.Stderr, err)
		} else {
			fmt.Fprintln(os.Stderr, "credd:", err)
		}
		return 1
	}
	return 0
}

// NewCommand returns credd's root command.
func NewCommand() *cobra.Command {
	var f flags
	root := &cobra.Command{
		Use:   "credd",
		Short: "Serve temporary cloud credentials over a Unix socket",
		Long: `credd keeps long-lived cloud keys in a keystore (the OS keyring by default),
obtains temporary credentials from cloud STS/IAM APIs, refreshes them before
they expire, and serves them over a Unix socket to credctl.

Config: --config, else $CREDD_CONFIG, else $XDG_CONFIG_HOME/credd/credd.toml
(/etc/credd/credd.toml for root). Socket: --socket, else $CREDD_SOCKET, else
$XDG_RUNTIME_DIR/credd/credd.sock (/run/credd/credd.sock for root), or the
socket systemd passes (LISTEN_FDS).`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE:          func(cmd *cobra.Command, _ []string) error { return run(cmd.Context(), f) },
	}
	pf := root.PersistentFlags()
	pf.StringVar(&f.config, "config", "", "config file (default $CREDD_CONFIG or the per-user/system path)")
	root.Flags().StringVar(&f.socket, "socket", "", "socket path (default $CREDD_SOCKET or $XDG_RUNTIME_DIR/credd/credd.sock)")
	root.Flags().StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error (default: [daemon] log_level, else info)")
	root.Flags().StringVar(&f.logFormat, "log-format", "auto", "auto, text or json (auto: colour on a terminal, priority prefixes under journald)")
	root.AddCommand(checkConfigCommand(&f), versionCommand())
	root.SetContext(context.Background())
	return root
}

func checkConfigCommand(f *flags) *cobra.Command {
	return &cobra.Command{
		Use:   "check-config [PATH]",
		Short: "Validate a config file and its drop-ins; print file:line:col problems",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := configPath(f.config)
			if len(args) == 1 {
				path = args[0]
			}
			c, err := config.Load(path)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if c.Missing && len(c.Profiles) == 0 {
				fmt.Fprintf(out, "%s does not exist: credd would start with no profiles\n", c.Path)
				return nil
			}
			noun := "profiles"
			if len(c.Profiles) == 1 {
				noun = "profile"
			}
			fmt.Fprintf(out, "%s: ok, %d %s", c.Path, len(c.Profiles), noun)
			if len(c.Files) > 1 {
				fmt.Fprintf(out, " from %d files", len(c.Files))
			}
			fmt.Fprintln(out)
			return nil
		},
	}
}

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), version.String("credd")) },
	}
}

func configPath(flag string) string {
	if flag != "" {
		return flag
	}
	return config.DefaultPath()
}

func run(ctx context.Context, f flags) error {
	lv := new(slog.LevelVar)
	if f.logLevel != "" {
		l, err := logging.ParseLevel(f.logLevel)
		if err != nil {
			return err
		}
		lv.Set(l)
	}
	log, err := logging.New(os.Stderr, f.logFormat, lv)
	if err != nil {
		return err
	}
	slog.SetDefault(log)
	if err := harden(); err != nil {
		log.Warn("cannot disable core dumps; secrets could reach a core file", "err", err)
	}

	ln, sockPath, activated, err := listen(f.socket)
	if err != nil {
		return err
	}
	d, err := daemon.New(daemon.Options{
		ConfigPath: configPath(f.config),
		SocketPath: sockPath,
		Activated:  activated,
		Version:    version.Version,
		Logger:     log,
		LevelVar:   lv,
		LevelFixed: f.logLevel != "",
		NewSource:  newSource,
	})
	if err != nil {
		ln.Close()
		return err
	}
	if !activated {
		if err := d.ApplySocketPerms(sockPath); err != nil {
			ln.Close()
			return err
		}
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				log.Info("SIGHUP: reloading config")
				_, _ = d.Reload()
			}
		}
	}()
	return d.Run(ctx, ln)
}

// listen takes the socket from systemd when activated, or creates it.
func listen(flag string) (net.Listener, string, bool, error) {
	ls, err := activation.Listeners()
	if err != nil {
		return nil, "", false, fmt.Errorf("socket activation: %w", err)
	}
	for _, l := range ls {
		if l == nil {
			continue
		}
		if _, ok := l.(*net.UnixListener); ok {
			return l, l.Addr().String(), true, nil
		}
		l.Close()
	}
	if len(ls) > 0 {
		return nil, "", false, errors.New("socket activation: systemd passed no Unix stream socket; check ListenStream= in credd.socket")
	}
	path := flag
	if path == "" {
		path = safesocket.DefaultPath()
	}
	l, err := safesocket.Listen(path, 0o600)
	if errors.Is(err, safesocket.ErrInUse) {
		return nil, "", false, fmt.Errorf("%w\ncredd: hint: another credd is already serving %s; `credctl status` talks to it", err, path)
	}
	if err != nil {
		return nil, "", false, err
	}
	return l, path, false, nil
}
