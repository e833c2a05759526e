//go:build unix && !darwin

package keystore

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
)

var errNoSessionBus = errors.New("no D-Bus session bus ($DBUS_SESSION_BUS_ADDRESS is unset and there is no $XDG_RUNTIME_DIR/bus)")

// checkSessionBus fails when there is no session bus to find. Without it,
// godbus falls back to running dbus-launch, which starts a stray bus (and
// changes this process's environment) instead of reporting the problem.
func checkSessionBus() error {
	return checkSessionBusIn(os.Getenv("DBUS_SESSION_BUS_ADDRESS"),
		os.Getenv("XDG_RUNTIME_DIR"), "/run/user/"+strconv.Itoa(os.Getuid()))
}

// checkSessionBusIn looks where godbus looks: the address, then a "bus"
// socket in each runtime directory.
func checkSessionBusIn(addr string, runtimeDirs ...string) error {
	if addr != "" {
		return nil
	}
	for _, d := range runtimeDirs {
		if d == "" {
			continue
		}
		if fi, err := os.Stat(filepath.Join(d, "bus")); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return nil
		}
	}
	return errNoSessionBus
}
