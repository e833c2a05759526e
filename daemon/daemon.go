// Package daemon is credd's server: it owns the loaded config, one refresh
// engine per profile, the keystore, and the HTTP API served on the Unix
// socket. It reloads config on demand (build, validate, swap), checks every
// connection's peer credentials, and speaks sd_notify.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/credd-dev/credd/config"
	"github.com/credd-dev/credd/keystore"
	"github.com/credd-dev/credd/providers"
	"github.com/credd-dev/credd/refresh"
)

// Options configure a Daemon. Dependencies are passed in so tests can swap
// them; nil fields get production defaults.
type Options struct {
	ConfigPath string
	SocketPath string // for status output
	Activated  bool   // the socket came from systemd
	Version    string
	Logger     *slog.Logger
	// LevelVar, when set, follows [daemon] log_level across reloads unless
	// LevelFixed says the command line chose the level.
	LevelVar   *slog.LevelVar
	LevelFixed bool

	// NewSource builds a profile's credential source.
	NewSource func(p *config.Profile, d providers.Deps) (refresh.Source, error)
	// OpenKeystore opens the keystore the config names.
	OpenKeystore func(d config.Daemon) (keystore.Store, error)
	Clock        refresh.Clock
	HTTPClient   *http.Client
	// Notify sends sd_notify messages; nil means the real NOTIFY_SOCKET.
	Notify func(state string)
}

// Daemon is a running credd.
type Daemon struct {
	opts    Options
	log     *slog.Logger
	started time.Time
	uid     uint32

	reloadMu sync.Mutex // serialises reloads; taken before mu

	mu         sync.RWMutex // guards the fields below
	cfg        *config.Config
	profiles   map[string]*profile
	store      keystore.Store
	gen        int64
	loadedAt   time.Time
	reloadErr  error
	reloadedAt time.Time
	running    bool // Run has started the refresh engines

	needUnits atomic.Bool // some profile has allow_units; read per connection
}

// profile is one configured profile and its refresh engine.
type profile struct {
	cfg *config.Profile
	fp  string
	r   *refresh.Refresher
}

// New loads the config and builds the daemon. Refresh engines start in Run.
// A config that fails to load is an error: the daemon refuses to start on
// one rather than serve nothing.
func New(o Options) (*Daemon, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = refresh.SystemClock{}
	}
	if o.OpenKeystore == nil {
		o.OpenKeystore = func(d config.Daemon) (keystore.Store, error) {
			return keystore.Open(keystore.Options{Backend: d.Keystore, Dir: d.KeystoreDir})
		}
	}
	if o.Notify == nil {
		o.Notify = sdNotify
	}
	if o.NewSource == nil {
		return nil, errors.New("daemon: no source factory")
	}
	d := &Daemon{opts: o, log: o.Logger, started: time.Now(), uid: uint32(os.Getuid()), profiles: map[string]*profile{}}
	cfg, err := config.Load(o.ConfigPath)
	if err != nil {
		return nil, err
	}
	if err := d.apply(cfg); err != nil {
		return nil, err
	}
	if len(cfg.Profiles) == 0 {
		d.log.Warn("no profiles configured", "config", cfg.Path, "missing", cfg.Missing,
			"hint", "add a [profiles.NAME] table to the config; credd picks it up when the file changes")
	}
	return d, nil
}

// Run serves the API on ln until ctx ends, then drains in-flight requests
// and stops every refresh engine. It closes ln.
func (d *Daemon) Run(ctx context.Context, ln net.Listener) error {
	d.mu.Lock()
	d.running = true
	for _, p := range d.profiles {
		p.r.Start()
	}
	d.mu.Unlock()

	srv, conns := d.server()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	stopWatch := d.watch(ctx)
	defer stopWatch()
	stopDog := d.watchdog(ctx)
	defer stopDog()

	d.notify("READY=1\nSTATUS=" + d.statusLine())
	d.log.Info("serving", "socket", d.opts.SocketPath, "activated", d.opts.Activated, "profiles", d.profileCount(), "version", d.opts.Version)

	var err error
	select {
	case <-ctx.Done():
		// Stop accepting first and wait for Serve to return, so every
		// connection it accepted is tracked before Shutdown counts them;
		// otherwise one accepted at the last moment could be cut off.
		ln.Close()
		<-errc
	case err = <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	}
	d.notify("STOPPING=1")
	d.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// net/http drops a request that arrives on an accepted connection once
	// Shutdown has begun; serve those first so a restart loses nothing.
	conns.drain(sctx)
	if serr := srv.Shutdown(sctx); serr != nil && err == nil {
		err = fmt.Errorf("drain requests: %w", serr)
	}
	d.mu.Lock()
	for name, p := range d.profiles {
		p.r.Stop()
		delete(d.profiles, name)
	}
	d.mu.Unlock()
	return err
}

func (d *Daemon) server() (*http.Server, *connTracker) {
	conns := &connTracker{busy: map[net.Conn]bool{}}
	return &http.Server{
		Handler:           d.handler(),
		ConnContext:       d.connContext,
		ConnState:         conns.track,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		// A credentials request may wait for a fetch (FetchTimeout).
		WriteTimeout:   refresh.FetchTimeout + 10*time.Second,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 16 << 10,
		ErrorLog:       slog.NewLogLogger(d.log.Handler(), slog.LevelWarn), // handler panics, accept errors
	}, conns
}

// connTracker knows which connections have a request coming or in flight
// (new or active), as opposed to idle keep-alives or closed ones.
type connTracker struct {
	mu   sync.Mutex
	busy map[net.Conn]bool
}

func (t *connTracker) track(c net.Conn, s http.ConnState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch s {
	case http.StateNew, http.StateActive:
		t.busy[c] = true
	default:
		delete(t.busy, c)
	}
}

// drain waits until no accepted connection is new or active, or ctx ends.
// A connection that never sends a request is closed by ReadHeaderTimeout.
func (t *connTracker) drain(ctx context.Context) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		t.mu.Lock()
		n := len(t.busy)
		t.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (d *Daemon) profileCount() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.profiles)
}

func (d *Daemon) statusLine() string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	s := fmt.Sprintf("serving %d profiles (config generation %d)", len(d.profiles), d.gen)
	if d.reloadErr != nil {
		s += "; last reload failed: " + firstLine(d.reloadErr.Error())
	}
	return s
}

func (d *Daemon) notify(state string) { d.opts.Notify(state) }

// keys is the providers.Keys the daemon hands every source: it reads from
// whichever keystore the current config names, so a keystore change on
// reload needs no source rebuilt.
type keys struct{ d *Daemon }

func (k keys) Get(ctx context.Context, name string) (keystore.Entry, error) {
	k.d.mu.RLock()
	s := k.d.store
	k.d.mu.RUnlock()
	return s.Get(ctx, name)
}

func firstLine(s string) string {
	for i := range len(s) {
		if s[i] == '\n' {
			return s[:i] + " (and more)"
		}
	}
	return s
}
