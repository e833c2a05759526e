package safesocket

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"
)

func peerCred(fd int) (*Peer, error) {
	u, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return nil, err
	}
	p := &Peer{UID: u.Uid, GID: u.Gid, PID: u.Pid, Groups: peerGroups(fd)}
	return p, nil
}

// peerGroups reads SO_PEERGROUPS: the groups the kernel recorded when the
// peer connected, which nothing the peer does later (or a process reusing
// its PID) can change. A peer in more groups than fit is judged on its
// primary group alone.
func peerGroups(fd int) []uint32 {
	buf := make([]byte, 4*256)
	n := uint32(len(buf))
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_PEERGROUPS,
		uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)), 0)
	if errno != 0 || n > uint32(len(buf)) {
		return nil
	}
	gs := make([]uint32, 0, n/4)
	for i := 0; i+4 <= int(n); i += 4 {
		gs = append(gs, binary.NativeEndian.Uint32(buf[i:]))
	}
	return gs
}
