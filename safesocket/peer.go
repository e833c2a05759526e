package safesocket

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Peer is the process at the other end of a Unix socket connection, as the
// kernel reports it. Groups and Unit are read lazily from /proc, once.
type Peer struct {
	UID, GID uint32
	PID      int32 // 0 when the platform does not report it

	once   sync.Once
	groups []uint32
	unit   string
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

// Groups returns the peer's primary and supplementary groups.
func (p *Peer) Groups() []uint32 { p.load(); return p.groups }

// Unit returns the systemd unit the peer runs in, from its cgroup, or "".
func (p *Peer) Unit() string { p.load(); return p.unit }

// InGroup reports whether the peer's primary or supplementary groups hold gid.
func (p *Peer) InGroup(gid uint32) bool {
	return p.GID == gid || slices.Contains(p.Groups(), gid)
}

func (p *Peer) String() string {
	s := fmt.Sprintf("uid=%d gid=%d pid=%d", p.UID, p.GID, p.PID)
	if u := p.Unit(); u != "" {
		s += " unit=" + u
	}
	return s
}

func (p *Peer) load() {
	p.once.Do(func() {
		p.groups = []uint32{p.GID}
		if p.PID <= 0 {
			return
		}
		p.groups = append(p.groups, procGroups(int(p.PID))...)
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", p.PID)); err == nil {
			p.unit = UnitFromCgroup(string(b))
		}
	})
}

// procGroups reads the supplementary groups from /proc/PID/status.
func procGroups(pid int) []uint32 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "Groups:")
		if !ok {
			continue
		}
		var gs []uint32
		for _, g := range strings.Fields(line) {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				gs = append(gs, uint32(n))
			}
		}
		return gs
	}
	return nil
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
