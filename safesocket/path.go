// Package safesocket finds, listens on and dials credd's Unix socket: the
// default path, a live-daemon check before a stale socket file is replaced,
// private permissions, and the peer credentials of each connection.
package safesocket

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
)

// DefaultPath returns the socket path credd listens on and credctl dials when
// no --socket is given: $CREDD_SOCKET, else $XDG_RUNTIME_DIR/credd/credd.sock,
// else on macOS ~/Library/Application Support/credd/credd.sock, else
// /run/credd/credd.sock for root, else /run/user/UID/credd/credd.sock.
func DefaultPath() string {
	if p := os.Getenv("CREDD_SOCKET"); p != "" {
		return p
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "credd", "credd.sock")
	}
	if runtime.GOOS == "darwin" {
		// macOS has no XDG runtime dir; a per-user directory keeps the
		// socket private and survives $TMPDIR cleanups.
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, "Library", "Application Support", "credd", "credd.sock")
		}
	}
	if os.Getuid() == 0 {
		return "/run/credd/credd.sock"
	}
	return filepath.Join("/run/user", strconv.Itoa(os.Getuid()), "credd", "credd.sock")
}

// Dial connects to the socket at path.
func Dial(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", path)
}
