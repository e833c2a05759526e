package safesocket

import "golang.org/x/sys/unix"

// On darwin, LOCAL_PEERCRED gives the uid and groups; LOCAL_PEERPID the pid.
func peerCred(fd int) (*Peer, error) {
	x, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return nil, err
	}
	p := &Peer{UID: x.Uid}
	if x.Ngroups > 0 {
		p.GID = x.Groups[0]
		p.Groups = append(p.Groups, x.Groups[:x.Ngroups]...)
	}
	if pid, err := unix.GetsockoptInt(fd, unix.SOL_LOCAL, unix.LOCAL_PEERPID); err == nil {
		p.PID = int32(pid)
	}
	return p, nil
}
