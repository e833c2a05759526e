package keystore

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Backend names, as written in the config's [daemon] keystore key.
const (
	BackendKeyring = "keyring"
	BackendFile    = "file"
	BackendSystemd = "systemd"
)

// DefaultTimeout bounds each keyring call when Options.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// Options selects and configures a backend.
type Options struct {
	// Backend is "keyring" (the default when empty), "file" or "systemd".
	Backend string
	// Dir is the file backend's directory. Empty means
	// $XDG_DATA_HOME/credd/keys, else ~/.local/share/credd/keys.
	// Other backends ignore it.
	Dir string
	// Timeout bounds every keyring call (D-Bus can hang forever).
	// Zero means DefaultTimeout. Other backends ignore it.
	Timeout time.Duration
}

// Open returns the backend opts select. Opening the keyring does not talk to
// D-Bus: a missing or locked keyring shows up on first use, with the fix in
// the error, so that the daemon can start and report it.
func Open(opts Options) (Store, error) {
	switch opts.Backend {
	case "", BackendKeyring:
		return NewKeyring(osKeyring{}, opts.Timeout), nil
	case BackendFile:
		dir := opts.Dir
		if dir == "" {
			var err error
			if dir, err = DefaultFileDir(); err != nil {
				return nil, err
			}
		}
		return OpenFile(dir)
	case BackendSystemd:
		return OpenSystemd(os.Getenv("CREDENTIALS_DIRECTORY"))
	default:
		return nil, fmt.Errorf("open keystore: unknown backend %q: use %q, %q or %q",
			opts.Backend, BackendKeyring, BackendFile, BackendSystemd)
	}
}

// DefaultFileDir is the file backend's directory when none is configured:
// $XDG_DATA_HOME/credd/keys, else ~/.local/share/credd/keys.
func DefaultFileDir() (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "credd", "keys"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("locate keystore dir: %w: set keystore_dir in [daemon] or $XDG_DATA_HOME", err)
	}
	return filepath.Join(home, ".local", "share", "credd", "keys"), nil
}

// ReadOnlyStore is implemented by stores that can tell whether Set and
// Delete can ever succeed.
type ReadOnlyStore interface {
	ReadOnly() bool
}

// IsReadOnly reports whether s refuses writes (the systemd backend).
func IsReadOnly(s Store) bool {
	ro, ok := s.(ReadOnlyStore)
	return ok && ro.ReadOnly()
}

// notFound wraps ErrNotFound with the operation, the entry's name and where
// it was looked for (where may be empty or start with a space).
func notFound(op, name, where string) error {
	return fmt.Errorf("%s %q%s: %w", op, name, where, ErrNotFound)
}
