//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package client

import "net"

// isOpen cannot peek on this platform; a request on a connection the
// daemon closed is retried by roundTrip instead.
func isOpen(net.Conn) bool { return true }
