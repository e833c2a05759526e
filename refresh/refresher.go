package refresh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/credd-dev/credd/apitype"
	"github.com/credd-dev/credd/providers"
	"github.com/credd-dev/credd/secret"
)

// Timing constants from SPEC §5.
const (
	// MinValidity is the least remaining lifetime a credential must have to
	// be handed out.
	MinValidity = 60 * time.Second
	// FetchTimeout bounds one upstream attempt, whoever asked for it.
	FetchTimeout = 30 * time.Second

	backoffBase      = 1 * time.Second
	backoffThrottled = 10 * time.Second
	// Failures a human must fix (bad key, bad config, missing key, a wrong
	// clock) are not retried hot: they back off from here.
	backoffNeedsUser = 30 * time.Second
	backoffMax       = 5 * time.Minute
)

// Options configure a Refresher.
type Options struct {
	Name   string
	Source Source
	// Always keeps the credential fresh from start, whether or not anyone
	// asks; otherwise the first request triggers the first fetch.
	Always bool
	Clock  Clock          // nil means SystemClock
	Rand   func() float64 // uniform [0,1); nil means math/rand/v2
	Logger *slog.Logger   // nil means slog.Default()
	// Lifetime is the requested credential lifetime, used to decide how long
	// an on-demand profile stays warm without requests.
	Lifetime time.Duration
}

// Refresher keeps one profile's credential fresh. All methods are safe for
// concurrent use.
type Refresher struct {
	opts  Options
	clock Clock
	rnd   func() float64
	log   *slog.Logger

	kick chan struct{} // wakes the loop to recompute its schedule
	stop context.CancelFunc
	done chan struct{}

	mu sync.Mutex // guards everything below
	// cred is the last good credential; zero when none.
	cred        providers.Credential
	have        bool
	lastSuccess time.Time
	lastAttempt time.Time
	lastErr     error // since the last success
	failures    int
	next        time.Time // when the loop will next fetch; zero when idle
	requested   time.Time // last time someone asked for the credential
	calls       int64
	flight      *flight
	stopped     bool
}

// flight is one upstream fetch that any number of callers wait on.
type flight struct {
	done chan struct{}
	cred providers.Credential
	err  error
}

// New returns a Refresher. Call Start to begin background refreshing.
func New(o Options) *Refresher {
	r := &Refresher{
		opts:  o,
		clock: o.Clock,
		rnd:   o.Rand,
		log:   o.Logger,
		kick:  make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
	if r.clock == nil {
		r.clock = SystemClock{}
	}
	if r.rnd == nil {
		r.rnd = rand.Float64
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	r.log = r.log.With("profile", o.Name)
	return r
}

// Start runs the background loop until Stop. An Always refresher fetches at
// once.
func (r *Refresher) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	if r.opts.Always {
		r.mu.Lock()
		r.next = r.clock.Now()
		r.mu.Unlock()
	}
	go r.loop(ctx)
}

// Stop ends the background loop, waits for it, and wipes the cached secrets.
func (r *Refresher) Stop() {
	if r.stop != nil {
		r.stop()
		<-r.done
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	r.cred.Zero()
	r.cred = providers.Credential{}
	r.have = false
}

// ErrStopped is returned to callers of a Refresher that was stopped.
var ErrStopped = errors.New("profile was removed")

// Get returns a credential with at least MinValidity left, fetching one if
// needed. It waits for an in-flight fetch, bounded by ctx.
func (r *Refresher) Get(ctx context.Context) (providers.Credential, error) {
	r.mu.Lock()
	now := r.clock.Now()
	r.requested = now
	if r.stopped {
		r.mu.Unlock()
		return providers.Credential{}, ErrStopped
	}
	if r.have && r.cred.Expiration.Sub(now) >= MinValidity {
		c := clone(r.cred)
		wake := r.next.IsZero() // an idle on-demand profile becomes warm again
		if wake {
			r.scheduleLocked(now)
		}
		r.mu.Unlock()
		if wake {
			r.wake()
		}
		return c, nil
	}
	// No usable credential. While a previous failure's backoff runs, answer
	// with that failure instead of hammering upstream: the loop retries.
	if r.flight == nil && r.lastErr != nil && now.Before(r.next) {
		err := r.lastErr
		r.mu.Unlock()
		return providers.Credential{}, err
	}
	f := r.startLocked()
	r.mu.Unlock()
	return r.wait(ctx, f)
}

// Refresh fetches now, whatever the schedule or backoff, and returns the
// result. An in-flight fetch is joined rather than doubled.
func (r *Refresher) Refresh(ctx context.Context) (providers.Credential, error) {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return providers.Credential{}, ErrStopped
	}
	r.requested = r.clock.Now()
	f := r.startLocked()
	r.mu.Unlock()
	return r.wait(ctx, f)
}

// Kick clears any backoff so the next request or the loop tries at once; the
// daemon calls it when a profile's key is replaced.
func (r *Refresher) Kick() {
	r.mu.Lock()
	if r.lastErr != nil {
		r.next = r.clock.Now()
	}
	r.mu.Unlock()
	r.wake()
}

func (r *Refresher) wake() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *Refresher) wait(ctx context.Context, f *flight) (providers.Credential, error) {
	select {
	case <-f.done:
	case <-ctx.Done():
		return providers.Credential{}, fmt.Errorf("waiting for credentials: %w", ctx.Err())
	}
	if f.err != nil {
		return providers.Credential{}, f.err
	}
	return clone(f.cred), nil
}

// startLocked returns the in-flight fetch, starting one if there is none.
func (r *Refresher) startLocked() *flight {
	if r.flight != nil {
		return r.flight
	}
	f := &flight{done: make(chan struct{})}
	r.flight = f
	r.calls++
	r.lastAttempt = r.clock.Now()
	go r.fetch(f)
	return f
}

func (r *Refresher) fetch(f *flight) {
	ctx, cancel := context.WithTimeout(context.Background(), FetchTimeout)
	defer cancel()
	cred, err := r.opts.Source.Fetch(ctx)

	r.mu.Lock()
	now := r.clock.Now()
	if err == nil {
		if left := cred.Expiration.Sub(now); left < MinValidity {
			cred.Zero()
			err = fmt.Errorf("upstream granted a credential valid for only %s; credd hands out none with less than %s left",
				left.Round(time.Second), MinValidity)
		}
	}
	if err == nil {
		// Callers hold clones, never the cached value: the old one can go.
		r.cred.Zero()
		r.cred, r.have = cred, true
		r.lastSuccess, r.lastErr, r.failures = now, nil, 0
		f.cred = clone(cred) // r.cred is wiped when replaced; waiters read this copy
		r.log.Info("credentials refreshed", "access_key_id", cred.AccessKeyID,
			"expires_at", cred.Expiration.Format(time.RFC3339), "lifetime", cred.Expiration.Sub(now).Round(time.Second))
	} else {
		r.lastErr, f.err = err, err
		r.failures++
		r.log.Warn("credential fetch failed", "err", err, "class", providers.ClassOf(err), "failures", r.failures)
	}
	if !r.stopped {
		r.scheduleLocked(now)
	}
	r.flight = nil
	close(f.done)
	r.mu.Unlock()
	r.wake()
}

// scheduleLocked decides when the loop fetches next.
func (r *Refresher) scheduleLocked(now time.Time) {
	if r.lastErr != nil {
		r.next = now.Add(r.backoffLocked())
		if r.have { // never retry past the credential's usable life
			if limit := r.cred.Expiration.Add(-MinValidity); r.next.After(limit) && limit.After(now) {
				r.next = limit
			}
		}
		return
	}
	if !r.have {
		r.next = time.Time{}
		return
	}
	r.next = NextRefresh(r.lastSuccess, r.cred.Expiration, r.rnd())
}

// NextRefresh is SPEC §5's schedule: issued + lifetime × (0.60 + 0.15u),
// never later than expiry − max(60 s, lifetime/10). u is uniform in [0,1).
func NextRefresh(issued, expires time.Time, u float64) time.Time {
	life := expires.Sub(issued)
	at := issued.Add(time.Duration(float64(life) * (0.60 + 0.15*u)))
	limit := expires.Add(-max(MinValidity, life/10))
	if at.After(limit) {
		at = limit
	}
	if at.Before(issued) {
		at = issued
	}
	return at
}

// Backoff returns the full-jitter delay before retry number n (n ≥ 1) for a
// failure of class c: uniform in [0, min(cap, base·2^(n-1))], with a floor of
// a tenth of the base so a retry is never instantaneous.
func Backoff(c providers.Class, n int, u float64) time.Duration {
	base := backoffBase
	switch c {
	case providers.Throttled:
		base = backoffThrottled
	case providers.BadCredentials, providers.InvalidParameter, providers.MissingKey, providers.Denied, providers.ClockSkew:
		base = backoffNeedsUser
	}
	ceil := base
	for i := 1; i < n && ceil < backoffMax; i++ {
		ceil *= 2
	}
	ceil = min(ceil, backoffMax)
	d := time.Duration(u * float64(ceil))
	return max(d, base/10)
}

func (r *Refresher) backoffLocked() time.Duration {
	return Backoff(providers.ClassOf(r.lastErr), r.failures, r.rnd())
}

// warmLocked reports whether an on-demand profile is still wanted: it was
// requested within the last lifetime.
func (r *Refresher) warmLocked(now time.Time) bool {
	if r.opts.Always {
		return true
	}
	life := r.opts.Lifetime
	if r.have {
		life = r.cred.Expiration.Sub(r.lastSuccess)
	}
	if life <= 0 {
		life = 30 * time.Minute
	}
	return !r.requested.IsZero() && now.Sub(r.requested) <= life
}

func (r *Refresher) loop(ctx context.Context) {
	defer close(r.done)
	for {
		r.mu.Lock()
		var at time.Time // zero: nothing scheduled, wait for a kick
		if !r.next.IsZero() && r.flight == nil {
			if r.warmLocked(r.clock.Now()) {
				at = r.next
			} else {
				r.next = time.Time{} // gone idle: the next request wakes it
			}
		}
		r.mu.Unlock()

		var timer <-chan time.Time
		stopTimer := func() {}
		if !at.IsZero() {
			// An absolute deadline: time that passes before the timer is
			// set (a jump of the clock included) cannot be lost.
			timer, stopTimer = r.clock.At(at)
		}
		select {
		case <-ctx.Done():
			stopTimer()
			return
		case <-r.kick:
			stopTimer()
		case <-timer:
			r.mu.Lock()
			if r.flight == nil && !r.next.IsZero() && !r.clock.Now().Before(r.next) {
				r.startLocked()
			}
			r.mu.Unlock()
		}
	}
}

// Status is a snapshot of a Refresher, without secrets.
type Status struct {
	State         string
	AccessKeyID   string
	ExpiresAt     time.Time
	NextRefreshAt time.Time
	LastRefreshAt time.Time
	LastError     error
	Calls         int64
	Failures      int
}

// Status reports the refresher's state.
func (r *Refresher) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock.Now()
	s := Status{
		LastRefreshAt: r.lastSuccess,
		LastError:     r.lastErr,
		Calls:         r.calls,
		Failures:      r.failures,
		NextRefreshAt: r.next,
	}
	valid := r.have && r.cred.Expiration.After(now)
	if r.have {
		s.AccessKeyID, s.ExpiresAt = r.cred.AccessKeyID, r.cred.Expiration
	}
	switch {
	case valid && r.flight != nil:
		s.State = apitype.StateRefreshing
	case valid && r.lastErr != nil:
		s.State = apitype.StateStale
	case valid:
		s.State = apitype.StateFresh
	case r.flight != nil:
		s.State = apitype.StateFetching
	case r.lastErr != nil:
		s.State = apitype.StateError
	case r.have:
		s.State = apitype.StateExpired
	default:
		s.State = apitype.StateIdle
	}
	if !r.warmLocked(now) {
		s.NextRefreshAt = time.Time{} // unrequested: the loop lets it go idle
	}
	return s
}

func clone(c providers.Credential) providers.Credential {
	c.Secret = secret.FromBytes(bytes.Clone(c.Secret.Bytes()))
	c.SessionToken = secret.FromBytes(bytes.Clone(c.SessionToken.Bytes()))
	return c
}
