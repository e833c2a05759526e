package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credd-dev/credd/apitype"
	"github.com/credd-dev/credd/config"
	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/keystore"
	"github.com/credd-dev/credd/providers"
	"github.com/credd-dev/credd/providers/tencent"
	"github.com/credd-dev/credd/refresh"
	"github.com/credd-dev/credd/safesocket"
	"github.com/credd-dev/credd/secret"
	"github.com/credd-dev/credd/tests/tencentemu"
)

// Fake-clock stepping used by every fault class.
const (
	faultLifetime = 1800 * time.Second // the profile's duration
	// faultStep is small next to every backoff bound, so a hot retry loop
	// would show up as one upstream call per step.
	faultStep = 5 * time.Second
	// recoveryBound is the backoff cap (SPEC §5): whatever the class and
	// however many failures came before, the next attempt is at most this
	// far away.
	recoveryBound = 5 * time.Minute
)

// faultRig is a credd run in-process on a fake clock, so its refresh
// schedule and backoffs can be driven without sleeping, while the real
// credctl binary talks to it over a real Unix socket and the real Tencent
// provider talks to the emulator over loopback HTTP.
type faultRig struct {
	*env
	t     *testing.T
	clock *refresh.FakeClock
	emu   *tencentemu.Server
	logs  *lockedBuffer

	mu    sync.Mutex
	calls []time.Time // fake time of every upstream request, in order
}

func startFaultRig(t *testing.T) *faultRig {
	t.Helper()
	clock := refresh.NewFakeClock(time.Now())
	// The emulator mints credentials on the daemon's clock: an expiry on
	// real time would look long past once the fake clock has moved beyond
	// the first credential's lifetime, and credd rightly refuses those. The
	// SDK still signs with the real time, so the emulator's timestamp
	// window is widened to cover how far the test moves the fake clock
	// (about 35 minutes).
	emu := tencentemu.New(tencentemu.Options{Now: clock.Now, MaxSkew: time.Hour})
	emu.AddKey(canarySecretID, canarySecretKey, true)
	// Canary session tokens: the Malformed fault mints one and cuts the
	// body off right after it, so a client that echoes the body would leak it.
	emu.SetTokenFunc(func(n int) string { return fmt.Sprintf("CANARY-SESSION-%d-%s", n, strings.Repeat("x", 64)) })

	rig := &faultRig{t: t, clock: clock, emu: emu, logs: &lockedBuffer{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rig.mu.Lock()
		rig.calls = append(rig.calls, clock.Now())
		rig.mu.Unlock()
		emu.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	rig.env = newEnv(t, tencentProfile("fault", srv.URL, fmt.Sprintf("duration = %d", int(faultLifetime/time.Second))))
	keysDir := filepath.Join(t.TempDir(), "keys")
	store, err := keystore.Open(keystore.Options{Backend: keystore.BackendFile, Dir: keysDir})
	if err != nil {
		t.Fatal(err)
	}
	err = store.Set(context.Background(), keystore.Entry{Name: "tc-main", Kind: tencent.KeyKind, Fields: map[string]secret.Value{
		"secret_id": secret.New(canarySecretID), "secret_key": secret.New(canarySecretKey),
	}})
	if err != nil {
		t.Fatal(err)
	}

	d, err := daemon.New(daemon.Options{
		ConfigPath: rig.cfg,
		SocketPath: rig.sock,
		Version:    "e2e",
		Logger:     slog.New(slog.NewTextHandler(rig.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		NewSource: func(p *config.Profile, deps providers.Deps) (refresh.Source, error) {
			src, err := tencent.New(p, deps)
			if err != nil {
				return nil, err
			}
			return src, nil
		},
		OpenKeystore: func(config.Daemon) (keystore.Store, error) { return store, nil },
		Clock:        clock,
		Notify:       func(string) {},
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := safesocket.Listen(rig.sock, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon Run: %v", err)
		}
		rig.assertNoSecrets("credd log", rig.logs.String())
	})
	return rig
}

// upstream returns how many requests reached the emulator.
func (r *faultRig) upstream() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// callAt returns the fake time of upstream request i (0-based).
func (r *faultRig) callAt(i int) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[i]
}

// advance moves the fake clock and waits until the profile's refresh loop
// has acted on it and parked again. The loop holds exactly one clock timer
// while it waits for its next attempt and none while a fetch is in flight,
// so one pending timer, seen twice in a row, means it is quiet.
func (r *faultRig) advance(d time.Duration) {
	r.t.Helper()
	r.clock.Advance(d)
	deadline := time.Now().Add(10 * time.Second)
	quiet := 0
	for quiet < 2 {
		if r.clock.Timers() == 1 {
			quiet++
		} else {
			quiet = 0
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("the refresh loop did not settle after advancing the clock by %s (%d timers)", d, r.clock.Timers())
		}
		time.Sleep(time.Millisecond)
	}
}

// get runs `credctl get fault`; it checks stderr for secrets.
func (r *faultRig) get() (apitype.Credentials, result) {
	r.t.Helper()
	res := r.credctl("", "get", "fault")
	r.assertNoSecrets("credctl get stderr", res.stderr)
	var c apitype.Credentials
	if res.code == 0 {
		if err := json.Unmarshal([]byte(res.stdout), &c); err != nil {
			r.t.Fatalf("credctl get: %v\n%s", err, res.stdout)
		}
	}
	return c, res
}

// profile returns the one profile from `credctl profiles --json`.
func (r *faultRig) profile() apitype.Profile {
	r.t.Helper()
	res := r.must(r.credctl("", "profiles", "--json"))
	r.assertNoSecrets("credctl profiles --json", res.stdout)
	var ps apitype.Profiles
	if err := json.Unmarshal([]byte(res.stdout), &ps); err != nil || len(ps.Profiles) != 1 {
		r.t.Fatalf("profiles --json (%v):\n%s", err, res.stdout)
	}
	return ps.Profiles[0]
}

type faultCase struct {
	name  string
	kind  tencentemu.FaultKind
	class providers.Class
	// code is the upstream error code credd must report ("" when the
	// failure never got as far as a Tencent error body).
	code string
	// detail must appear in the profile's last_error and in credctl's
	// stderr once the credential has expired.
	detail string
	// hint must appear in a `credctl: hint:` line, when set.
	hint string
	// maxCalls bounds the upstream calls from the first failed refresh to
	// past expiry (450 s of fake time in 5 s steps, 91 steps in all). A
	// hot retry would make one per step; full-jitter backoff from the
	// class's base makes far fewer (bounds sit above the 99.99th
	// percentile of a simulation of the schedule).
	maxCalls int
}

var faultCases = []faultCase{
	{name: "throttled", kind: tencentemu.Throttle, class: providers.Throttled, code: "RequestLimitExceeded",
		detail: "RequestLimitExceeded", hint: "throttling", maxCalls: 16},
	{name: "bad_credentials", kind: tencentemu.AuthFailure, class: providers.BadCredentials, code: "AuthFailure.SecretIdNotFound",
		detail: "AuthFailure.SecretIdNotFound", hint: "credctl key set tc-main", maxCalls: 14},
	{name: "clock_skew", kind: tencentemu.ClockSkew, class: providers.ClockSkew, code: "AuthFailure.SignatureExpire",
		detail: "AuthFailure.SignatureExpire", hint: "clock is off", maxCalls: 20},
	{name: "invalid_parameter", kind: tencentemu.InvalidParameter, class: providers.InvalidParameter, code: "InvalidParameter.StrategyFormatError",
		detail: "InvalidParameter.StrategyFormatError", hint: `"policy"`, maxCalls: 14},
	// The emulator alternates 502 and 500 with an HTML body.
	{name: "server_error", kind: tencentemu.ServerError, class: providers.Transient,
		detail: "HTTP 50", maxCalls: 20},
	{name: "malformed", kind: tencentemu.Malformed, class: providers.Transient,
		detail: "malformed response", maxCalls: 20},
	{name: "outage", kind: tencentemu.Outage, class: providers.Transient,
		detail: "network error", maxCalls: 20},
}

// TestFaultClasses drives each upstream failure class through a profile's
// life: warm, stale while the refresh fails, unavailable once expired, and
// recovered within the backoff cap once the fault clears, without hot
// retries along the way.
func TestFaultClasses(t *testing.T) {
	for _, tc := range faultCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rig := startFaultRig(t)
			start := rig.clock.Now()

			// Warm.
			first, res := rig.get()
			if res.code != 0 {
				t.Fatalf("warm get: exit %d: %s", res.code, res.stderr)
			}
			if n := rig.upstream(); n != 1 {
				t.Fatalf("warm get made %d upstream calls, want 1", n)
			}
			rig.advance(0)
			if p := rig.profile(); p.State != apitype.StateFresh || p.NextRefreshAt.After(start.Add(faultLifetime*3/4+time.Second)) {
				t.Fatalf("after warm-up: state %q, next refresh %s after issue (want fresh, ≤ 75%% of %s)",
					p.State, p.NextRefreshAt.Sub(start), faultLifetime)
			}

			// The refresh fails: the cached credential keeps being served.
			rig.emu.SetFault(tencentemu.Fault{Kind: tc.kind})
			rig.advance(faultLifetime*3/4 + time.Second)
			if n := rig.upstream(); n != 2 {
				t.Fatalf("reaching the refresh time made %d upstream calls in all, want 2", n)
			}
			stale, res := rig.get()
			if res.code != 0 || stale.AccessKeyID != first.AccessKeyID {
				t.Fatalf("get while stale: exit %d, key %q (want 0, %q): %s", res.code, stale.AccessKeyID, first.AccessKeyID, res.stderr)
			}
			p := rig.profile()
			if p.State != apitype.StateStale || p.ErrorClass != string(tc.class) || p.ErrorCode != tc.code || !strings.Contains(p.LastError, tc.detail) {
				t.Fatalf("stale profile: state %q class %q code %q error %q; want stale, %q, %q, an error with %q",
					p.State, p.ErrorClass, p.ErrorCode, p.LastError, tc.class, tc.code, tc.detail)
			}
			table := rig.must(rig.credctl("", "profiles")).stdout
			if !strings.Contains(table, "stale") || !strings.Contains(table, string(tc.class)) || !strings.Contains(table, tc.code) {
				t.Fatalf("profiles table lacks the state, class or code:\n%s", table)
			}
			rig.assertNoSecrets("credctl profiles", table)

			// Past expiry: no credential, the upstream error instead. The
			// clock moves in small steps so that only backoff limits retries.
			failFrom := rig.upstream() - 1
			expiry := first.Expiration
			for !rig.clock.Now().After(expiry) {
				rig.advance(faultStep)
			}
			_, res = rig.get()
			if res.code != 5 || !strings.Contains(res.stderr, tc.detail) {
				t.Fatalf("get after expiry: exit %d, stderr %q; want 5 and %q", res.code, res.stderr, tc.detail)
			}
			if tc.hint != "" && !hasHint(res.stderr, tc.hint) {
				t.Fatalf("get after expiry: stderr %q lacks a hint about %q", res.stderr, tc.hint)
			}
			if p := rig.profile(); p.State != apitype.StateError || p.ErrorClass != string(tc.class) {
				t.Fatalf("expired profile: state %q class %q, want error, %q", p.State, p.ErrorClass, tc.class)
			}
			faultCalls := rig.upstream() - failFrom
			if faultCalls < 2 || faultCalls > tc.maxCalls {
				t.Fatalf("%d upstream calls from the first failure to past expiry (%s of fake time); want 2..%d",
					faultCalls, rig.clock.Now().Sub(rig.callAt(failFrom)).Round(time.Second), tc.maxCalls)
			}

			// Recovery: the next scheduled retry succeeds, within the cap.
			rig.emu.ClearFault()
			cleared, before := rig.clock.Now(), rig.upstream()
			for rig.upstream() == before {
				if rig.clock.Now().Sub(cleared) > recoveryBound {
					t.Fatalf("no retry within %s of the fault clearing", recoveryBound)
				}
				rig.advance(faultStep)
			}
			recovery := rig.callAt(before).Sub(cleared)
			if p := rig.profile(); p.State != apitype.StateFresh || p.LastError != "" {
				t.Fatalf("after the retry: state %q error %q, want fresh", p.State, p.LastError)
			}
			again, res := rig.get()
			if res.code != 0 || again.AccessKeyID == "" || again.AccessKeyID == first.AccessKeyID {
				t.Fatalf("get after recovery: exit %d, key %q (old %q): %s", res.code, again.AccessKeyID, first.AccessKeyID, res.stderr)
			}
			total := rig.upstream()
			if total != before+1 {
				t.Fatalf("recovery took %d upstream calls, want 1", total-before)
			}
			if p := rig.profile(); p.UpstreamCalls != int64(total) {
				t.Errorf("profile reports %d upstream calls; the emulator saw %d", p.UpstreamCalls, total)
			}
			t.Logf("%s: %d upstream calls while failing over %s of fake time; recovered %s after the fault cleared",
				tc.name, faultCalls, rig.callAt(before-1).Sub(rig.callAt(failFrom)).Round(time.Second), recovery.Round(time.Second))
		})
	}
}

// hasHint reports whether stderr has a `credctl: hint:` line containing s.
func hasHint(stderr, s string) bool {
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "credctl: hint: ") && strings.Contains(l, s) {
			return true
		}
	}
	return false
}
