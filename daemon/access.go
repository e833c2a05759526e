package daemon

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"

	"github.com/credd-dev/credd/apitype"
	"github.com/credd-dev/credd/config"
	"github.com/credd-dev/credd/safesocket"
)

type peerKey struct{}

// connContext reads the peer's credentials once per connection, when it is
// accepted. The unit comes from /proc/PID, which is the peer's only while the
// peer lives, so it is read here too, but only while some profile has
// allow_units: otherwise it is two file reads per connection for nothing.
func (d *Daemon) connContext(ctx context.Context, c net.Conn) context.Context {
	p, err := safesocket.PeerOf(c)
	if err != nil {
		return ctx // no peer in the context: every check denies
	}
	if d.needUnits.Load() {
		p.LoadUnit()
	}
	return context.WithValue(ctx, peerKey{}, p)
}

func peerFrom(r *http.Request) *safesocket.Peer {
	p, _ := r.Context().Value(peerKey{}).(*safesocket.Peer)
	return p
}

// privileged reports whether the peer is the daemon's own user or root.
func (d *Daemon) privileged(p *safesocket.Peer) bool {
	return p != nil && (p.UID == d.uid || p.UID == 0)
}

// mayRead reports whether the peer may read a profile's credentials, and
// names the rule that decided.
func (d *Daemon) mayRead(p *safesocket.Peer, pc *config.Profile) (bool, string) {
	switch {
	case p == nil:
		return false, "peer credentials unavailable"
	case d.privileged(p):
		return true, "daemon's own uid or root"
	case slices.Contains(pc.AllowUIDs, p.UID):
		return true, fmt.Sprintf("allow_uids has %d", p.UID)
	}
	for _, g := range pc.AllowGIDs {
		if p.InGroup(g) {
			return true, fmt.Sprintf("allow_gids has %d", g)
		}
	}
	if len(pc.AllowUnits) > 0 {
		if u := p.Unit; u != "" && slices.Contains(pc.AllowUnits, u) {
			return true, "allow_units has " + u
		}
	}
	return false, fmt.Sprintf("profile %q allows uids %v, gids %v, units %v (at %s)", pc.Name, pc.AllowUIDs, pc.AllowGIDs, pc.AllowUnits, pc.Source)
}

// deny logs a denial with who asked and the rule that said no, and returns
// the 403 to send.
func (d *Daemon) deny(r *http.Request, op, rule string) error {
	p := peerFrom(r)
	attrs := []any{"op", op, "rule", rule}
	if p != nil {
		attrs = append(attrs, "uid", p.UID, "gid", p.GID, "pid", p.PID)
		if p.Unit == "" {
			// For the log only: decisions never rest on a late lookup.
			q := *p
			q.LoadUnit()
			p = &q
		}
		attrs = append(attrs, "unit", p.Unit)
	}
	d.log.Warn("access denied", attrs...)
	return errorf(http.StatusForbidden, apitype.CodeDenied, op+" access denied")
}

// requirePrivileged guards the key and reload endpoints.
func (d *Daemon) requirePrivileged(r *http.Request, op string) error {
	if !d.privileged(peerFrom(r)) {
		return d.deny(r, op, "only the daemon's own uid or root")
	}
	return nil
}
