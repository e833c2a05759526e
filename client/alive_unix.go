//go:build linux || darwin || freebsd || netbsd || openbsd

package client

import (
	"net"
	"syscall"
)

// isOpen reports whether an idle connection is still usable: the daemon
// has neither closed it nor sent anything unasked. It peeks without
// blocking, so that a request is not written into a connection the daemon
// already closed.
func isOpen(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	open := false
	err = rc.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// EAGAIN: nothing to read, the normal state of an idle connection.
		// n == 0: closed by the daemon. n > 0: bytes nobody asked for.
		open = n <= 0 && (err == syscall.EAGAIN || err == syscall.EWOULDBLOCK)
	})
	return err == nil && open
}
