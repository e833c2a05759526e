package safesocket

import "golang.org/x/sys/unix"

func peerCred(fd int) (*Peer, error) {
	u, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return nil, err
	}
	return &Peer{UID: u.Uid, GID: u.Gid, PID: u.Pid}, nil
}
