//go:build !linux

package cli

import "golang.org/x/sys/unix"

// harden keeps the secrets in this process's memory out of core dumps.
func harden() error {
	return unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
}
