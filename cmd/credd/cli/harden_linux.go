package cli

import "golang.org/x/sys/unix"

// harden keeps the secrets in this process's memory out of core dumps and
// away from debuggers run by the same user: no core file, and not dumpable
// (which also bars ptrace and /proc/PID/mem to non-root processes).
func harden() error {
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		return err
	}
	return unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
}
