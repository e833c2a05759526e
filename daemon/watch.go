package daemon

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/credd-dev/credd/config"
)

// debounce collects a burst of events (an editor's write-rename-chmod, a
// Kubernetes ..data swap) into one reload.
const debounce = 200 * time.Millisecond

// watch reloads the config when its directory or drop-in directory changes.
// It watches directories, not files, so rename-saves and symlink swaps are
// seen, and compares content hashes so no-op events cost one read.
func (d *Daemon) watch(ctx context.Context) (stop func()) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		d.log.Warn("config watching disabled; reload with SIGHUP or `credctl reload`", "err", err)
		return func() {}
	}
	dir := filepath.Dir(d.cfgPath())
	dropins := config.DropInDir(d.cfgPath())
	add := func(p string) {
		if err := w.Add(p); err == nil {
			d.log.Debug("watching", "dir", p)
		}
	}
	if err := w.Add(dir); err != nil {
		d.log.Warn("cannot watch the config directory; reload with SIGHUP or `credctl reload`", "dir", dir, "err", err)
	}
	add(dropins)

	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer w.Close()
		var timer <-chan time.Time
		tried := d.cfgHash() // the last content a reload was attempted on
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				d.log.Debug("config dir event", "event", ev.String())
				if ev.Name == dropins && ev.Has(fsnotify.Create) {
					add(dropins) // created after start
				}
				timer = time.After(debounce)
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				d.log.Warn("config watch error", "err", err)
			case <-timer:
				timer = nil
				if _, err := os.Stat(dropins); err == nil {
					add(dropins)
				}
				h := config.Hash(d.cfgPath())
				if h == tried {
					continue
				}
				tried = h
				d.log.Info("config changed on disk; reloading")
				_, _ = d.Reload() // Reload logs and records its own failure
			}
		}
	}()
	return func() { cancel(); <-done }
}

func (d *Daemon) cfgPath() string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.cfg.Path
}

func (d *Daemon) cfgHash() string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.cfg.Hash
}
