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
// seen, and compares content hashes so no-op events cost one read. A config
// directory that does not exist yet is waited for by watching its nearest
// existing ancestor, so `mkdir -p ~/.config/credd` and a first config work
// without a restart.
func (d *Daemon) watch(ctx context.Context) (stop func()) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		d.log.Warn("config watching disabled; reload with SIGHUP or `credctl reload`", "err", err)
		return func() {}
	}
	dir := filepath.Dir(d.cfgPath())
	dropins := config.DropInDir(d.cfgPath())
	watched := map[string]bool{}
	// ensure watches the config and drop-in directories once they exist,
	// and otherwise the closest ancestor that does.
	ensure := func() {
		for _, p := range append([]string{dir, dropins}, d.policyDirs()...) {
			if watched[p] {
				continue
			}
			target := p
			for {
				if _, err := os.Stat(target); err == nil || target == filepath.Dir(target) {
					break
				}
				target = filepath.Dir(target)
			}
			if p != dir && target != p {
				continue // optional; the config dir's watch sees it appear
			}
			if watched[target] {
				continue
			}
			if err := w.Add(target); err != nil {
				d.log.Warn("cannot watch for config changes; reload with SIGHUP or `credctl reload`", "dir", target, "err", err)
				continue
			}
			watched[target] = true
			d.log.Debug("watching for config changes", "dir", target)
		}
	}
	ensure()

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
				if ev.Has(fsnotify.Create) {
					ensure() // a directory we wait for may have appeared
				}
				timer = time.After(debounce)
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				d.log.Warn("config watch error", "err", err)
			case <-timer:
				timer = nil
				ensure()
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

// policyDirs lists the directories of the current config's policy files.
func (d *Daemon) policyDirs() []string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var dirs []string
	for _, f := range d.cfg.PolicyFiles {
		dirs = append(dirs, filepath.Dir(f))
	}
	return dirs
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
