package daemon

import (
	"errors"
	"fmt"
	"time"

	"github.com/credd-dev/credd/config"
	"github.com/credd-dev/credd/logging"
	"github.com/credd-dev/credd/providers"
	"github.com/credd-dev/credd/refresh"
)

// Reload re-reads the config. A bad config is rejected whole: the old one
// keeps serving and the error shows in status until a later reload
// succeeds. Unchanged profiles keep their credentials and schedules.
// changed reports whether anything was swapped in.
func (d *Daemon) Reload() (changed bool, err error) {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()

	cfg, err := config.Load(d.opts.ConfigPath)
	d.mu.RLock()
	same := err == nil && cfg.Hash == d.cfg.Hash
	hadErr := d.reloadErr != nil
	d.mu.RUnlock()
	if same {
		d.setReloadErr(nil)
		if hadErr { // the bad config was put back: say so to systemd too
			d.notify("STATUS=" + d.statusLine())
		}
		return false, nil
	}
	d.notify(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", monotonicUsec()))
	defer func() { d.notify("READY=1\nSTATUS=" + d.statusLine()) }()
	if err == nil {
		err = d.apply(cfg)
	}
	d.setReloadErr(err)
	if err != nil {
		d.log.Error("config reload failed; the previous config keeps serving", "err", err)
		return false, err
	}
	return true, nil
}

func (d *Daemon) setReloadErr(err error) {
	d.mu.Lock()
	d.reloadErr, d.reloadedAt = err, time.Now()
	d.mu.Unlock()
}

// apply builds everything the new config needs, then swaps it in, starts
// what is new and stops what is gone. Nothing is swapped if any step fails.
func (d *Daemon) apply(cfg *config.Config) error {
	d.mu.RLock()
	old, oldProfiles, oldStore := d.cfg, d.profiles, d.store
	d.mu.RUnlock()

	// Build.
	level, err := logging.ParseLevel(cfg.Daemon.LogLevel)
	if err != nil {
		return err
	}
	store := oldStore
	if old == nil || old.Daemon.Keystore != cfg.Daemon.Keystore || old.Daemon.KeystoreDir != cfg.Daemon.KeystoreDir {
		if store, err = d.opts.OpenKeystore(cfg.Daemon); err != nil {
			return fmt.Errorf("open %s keystore: %w", cfg.Daemon.Keystore, err)
		}
	}
	deps := providers.Deps{Keys: keys{d}, HTTP: d.opts.HTTPClient, Logger: d.log, Now: d.opts.Clock.Now}
	next := make(map[string]*profile, len(cfg.Profiles))
	var fresh []*profile
	var errs []error
	for _, name := range cfg.ProfileNames() {
		pc := cfg.Profiles[name]
		fp := pc.Fingerprint()
		if p, ok := oldProfiles[name]; ok && p.fp == fp {
			// Same settings: keep the engine, its credential and schedule.
			// A new wrapper, since handlers read the old one unlocked.
			next[name] = &profile{cfg: pc, fp: fp, r: p.r}
			continue
		}
		src, err := d.opts.NewSource(pc, deps)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: profile %q: %w", pc.Source, name, err))
			continue
		}
		p := &profile{cfg: pc, fp: fp, r: refresh.New(refresh.Options{
			Name: name, Source: src, Always: pc.Refresh == config.RefreshAlways,
			Clock: d.opts.Clock, Logger: d.log, Lifetime: pc.Duration,
		})}
		next[name] = p
		fresh = append(fresh, p)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}

	// Swap.
	units := false
	for _, p := range next {
		units = units || len(p.cfg.AllowUnits) > 0
	}
	d.needUnits.Store(units)
	d.mu.Lock()
	d.cfg, d.profiles, d.store = cfg, next, store
	d.gen++
	d.loadedAt = time.Now()
	gen, running := d.gen, d.running
	d.mu.Unlock()
	if d.opts.LevelVar != nil && !d.opts.LevelFixed {
		d.opts.LevelVar.Set(level)
	}

	// Start the new, stop the old (which wipes their secrets).
	if running {
		for _, p := range fresh {
			p.r.Start()
		}
	}
	var removed, replaced []string
	for name, p := range oldProfiles {
		if n, ok := next[name]; !ok || n.r != p.r {
			p.r.Stop()
			if ok {
				replaced = append(replaced, name)
			} else {
				removed = append(removed, name)
			}
		}
	}
	d.log.Info("config loaded", "generation", gen, "profiles", len(next), "new_or_changed", len(fresh), "removed", removed, "replaced", replaced,
		"files", cfg.Files)
	return nil
}
