package safesocket

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Peer is the process at the other end of a Unix socket connection, as the
// kernel reports it when the connection is accepted.
type Peer struct {
	UID, GID uint32
	PID      int32    // 0 when the platform does not report it
	Groups   []uint32 // primary and supplementary groups, from the kernel
	// Unit is the systemd unit the peer ran in at accept time, or "" when
	// not looked up (LoadUnit) or not known.
	Unit string
}

// PeerOf returns the credentials of the process connected on c.
func PeerOf(c net.Conn) (*Peer, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return nil, fmt.Errorf("peer credentials: %T is not a Unix connection", c)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("peer credentials: %w", err)
	}
	var p *Peer
	var perr error
	if err := raw.Control(func(fd uintptr) { p, perr = peerCred(int(fd)) }); err != nil {
		return nil, fmt.Errorf("peer credentials: %w", err)
	}
	if perr != nil {
		return nil, fmt.Errorf("peer credentials: %w", perr)
	}
	return p, nil
}

// InGroup reports whether the peer's primary or supplementary groups hold gid.
func (p *Peer) InGroup(gid uint32) bool { return p.GID == gid || slices.Contains(p.Groups, gid) }

// LoadUnit reads the peer's systemd unit from /proc/PID/cgroup. Call it at
// accept time: a PID is only the peer's while the peer lives, so the unit is
// believed only if /proc/PID still belongs to the peer's uid.
func (p *Peer) LoadUnit() {
	if p.PID <= 0 {
		return
	}
	cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", p.PID))
	if err != nil || procUID(int(p.PID)) != int64(p.UID) {
		return
	}
	p.Unit = UnitFromCgroup(string(cg))
}

func (p *Peer) String() string {
	s := fmt.Sprintf("uid=%d gid=%d pid=%d", p.UID, p.GID, p.PID)
	if p.Unit != "" {
		s += " unit=" + p.Unit
	}
	return s
}

// procUID reads the real uid from /proc/PID/status, or -1.
func procUID(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "Uid:")
		if !ok {
			continue
		}
		if f := strings.Fields(line); len(f) > 0 {
			if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				return n
			}
		}
		break
	}
	return -1
}

var unitSuffixes = []string{".service", ".scope", ".socket", ".timer", ".mount"}

// UnitFromCgroup returns the innermost systemd unit named in the contents of
// /proc/PID/cgroup: "0::/system.slice/backup.service" → "backup.service".
// Slices are not units a process runs in, so they never match.
func UnitFromCgroup(cgroup string) string {
	for line := range strings.SplitSeq(cgroup, "\n") {
		// Prefer the unified hierarchy (0::); fall back to name=systemd.
		_, path, ok := strings.Cut(line, "::")
		if !ok {
			parts := strings.SplitN(line, ":", 3)
			if len(parts) != 3 || parts[1] != "name=systemd" {
				continue
			}
			path = parts[2]
		}
		elems := strings.Split(path, "/")
		for i := len(elems) - 1; i >= 0; i-- {
			for _, suf := range unitSuffixes {
				if strings.HasSuffix(elems[i], suf) && len(elems[i]) > len(suf) {
					return elems[i]
				}
			}
		}
	}
	return ""
}
