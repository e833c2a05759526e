package daemon

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
)

// ApplySocketPerms sets the socket's mode and group from [daemon]
// socket_mode and socket_group, for a socket credd created itself (systemd
// sets them from the .socket unit otherwise).
func (d *Daemon) ApplySocketPerms(path string) error {
	d.mu.RLock()
	mode, group := d.cfg.Daemon.SocketMode, d.cfg.Daemon.SocketGroup
	d.mu.RUnlock()
	if group != "" {
		gid, err := groupID(group)
		if err != nil {
			return fmt.Errorf("socket_group %q: %w", group, err)
		}
		if err := os.Chown(path, -1, gid); err != nil {
			return fmt.Errorf("chown socket to group %q: %w", group, err)
		}
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("chmod socket: %w", err)
	}
	return nil
}

// groupID resolves a group name or number.
func groupID(g string) (int, error) {
	if n, err := strconv.Atoi(g); err == nil {
		return n, nil
	}
	gr, err := user.LookupGroup(g)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(gr.Gid)
}
