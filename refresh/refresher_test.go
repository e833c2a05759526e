package refresh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credd-dev/credd/apitype"
	"github.com/credd-dev/credd/providers"
	"github.com/credd-dev/credd/secret"
)

var quiet = slog.New(slog.DiscardHandler)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// fakeSource hands out credentials valid for life, or the errors queued in
// errs, and counts calls. gate, when set, holds every fetch until closed.
type fakeSource struct {
	clock *FakeClock
	life  time.Duration
	calls atomic.Int64
	gate  chan struct{}

	mu   sync.Mutex
	errs []error
}

func (s *fakeSource) Fetch(ctx context.Context) (providers.Credential, error) {
	n := s.calls.Add(1)
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return providers.Credential{}, ctx.Err()
		}
	}
	s.mu.Lock()
	if len(s.errs) > 0 {
		err := s.errs[0]
		s.errs = s.errs[1:]
		s.mu.Unlock()
		return providers.Credential{}, err
	}
	s.mu.Unlock()
	return providers.Credential{
		AccessKeyID:  fmt.Sprintf("AKID%d", n),
		Secret:       secret.New("sk"),
		SessionToken: secret.New("tok"),
		Expiration:   s.clock.Now().Add(s.life),
	}, nil
}

func (s *fakeSource) fail(errs ...error) {
	s.mu.Lock()
	s.errs = append(s.errs, errs...)
	s.mu.Unlock()
}

func newTest(t *testing.T, always bool) (*Refresher, *fakeSource, *FakeClock) {
	t.Helper()
	clk := NewFakeClock(t0)
	src := &fakeSource{clock: clk, life: time.Hour}
	r := New(Options{Name: "p", Source: src, Always: always, Clock: clk, Rand: func() float64 { return 0.5 }, Lifetime: time.Hour, Logger: quiet})
	r.Start()
	t.Cleanup(r.Stop)
	return r, src, clk
}

// eventually polls cond; it synchronises with the loop goroutine, it does
// not wait for scheduled time (the fake clock does that).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestNextRefresh(t *testing.T) {
	for _, tt := range []struct {
		life   time.Duration
		u      float64
		wantAt time.Duration
	}{
		{time.Hour, 0, 36 * time.Minute},
		{time.Hour, 0.999999, 45 * time.Minute},
		{time.Hour, 0.5, 40*time.Minute + 30*time.Second},
		{2 * time.Minute, 0.99, 60 * time.Second},                             // capped at expiry − 60 s
		{30 * time.Hour, 0.99, time.Duration(0.7485 * float64(30*time.Hour))}, // lifetime/10 cap does not bind
	} {
		got := NextRefresh(t0, t0.Add(tt.life), tt.u).Sub(t0)
		if (got - tt.wantAt).Abs() > time.Second {
			t.Errorf("life %s u %.2f: at %s, want %s", tt.life, tt.u, got, tt.wantAt)
		}
		limit := tt.life - max(MinValidity, tt.life/10)
		if got > limit {
			t.Errorf("life %s: %s is past the limit %s", tt.life, got, limit)
		}
	}
}

func TestBackoff(t *testing.T) {
	for n := 1; n < 20; n++ {
		for _, u := range []float64{0, 0.5, 0.9999} {
			d := Backoff(providers.Transient, n, u)
			if d > 5*time.Minute || d < 100*time.Millisecond {
				t.Errorf("transient n=%d u=%v: %s", n, u, d)
			}
			if th := Backoff(providers.Throttled, n, u); th < time.Second || th > 5*time.Minute {
				t.Errorf("throttled n=%d u=%v: %s", n, u, th)
			}
		}
	}
	if got := Backoff(providers.Transient, 3, 0.9999); got < 3900*time.Millisecond || got > 4*time.Second {
		t.Errorf("third transient retry ceiling: %s, want ~4s", got)
	}
	if got := Backoff(providers.Throttled, 1, 0.9999); got < 9*time.Second {
		t.Errorf("throttled starts from 10 s, got %s", got)
	}
}

func TestOnDemand(t *testing.T) {
	r, src, clk := newTest(t, false)
	if st := r.Status(); st.State != apitype.StateIdle || src.calls.Load() != 0 {
		t.Fatalf("before any request: %+v, calls %d", st, src.calls.Load())
	}
	c, err := r.Get(context.Background())
	if err != nil || c.AccessKeyID != "AKID1" {
		t.Fatalf("get: %v %v", c.AccessKeyID, err)
	}
	if c2, _ := r.Get(context.Background()); c2.AccessKeyID != "AKID1" || src.calls.Load() != 1 {
		t.Fatalf("second get refetched: %s calls %d", c2.AccessKeyID, src.calls.Load())
	}
	st := r.Status()
	if st.State != apitype.StateFresh || st.NextRefreshAt.Sub(t0) != 40*time.Minute+30*time.Second {
		t.Fatalf("status %+v", st)
	}
	clk.Advance(41 * time.Minute)
	eventually(t, "background refresh", func() bool { return src.calls.Load() == 2 && r.Status().State == apitype.StateFresh })
	// Nobody asks for two lifetimes: the profile goes idle, no more fetches.
	clk.Advance(2 * time.Hour)
	time.Sleep(10 * time.Millisecond)
	if n := src.calls.Load(); n > 3 {
		t.Fatalf("unrequested profile kept refreshing: %d calls", n)
	}
}

func TestAlways(t *testing.T) {
	r, src, clk := newTest(t, true)
	eventually(t, "fetch at start", func() bool { return r.Status().State == apitype.StateFresh })
	for i := 2; i <= 5; i++ {
		clk.Advance(46 * time.Minute)
		eventually(t, "refresh", func() bool { return src.calls.Load() == int64(i) })
	}
}

func TestConcurrentColdRequestsOneCall(t *testing.T) {
	r, src, _ := newTest(t, false)
	src.gate = make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := r.Get(context.Background())
			errs <- err
		}()
	}
	eventually(t, "fetch in flight", func() bool { return src.calls.Load() == 1 })
	time.Sleep(20 * time.Millisecond) // let stragglers pile up behind the gate
	close(src.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("%d upstream calls for 100 concurrent cold requests", n)
	}
}

func TestStaleServedThenExpires(t *testing.T) {
	r, src, clk := newTest(t, false)
	if _, err := r.Get(context.Background()); err != nil {
		t.Fatal(err)
	}
	upstream := &providers.Error{Provider: "tencent", Op: "GetFederationToken", Class: providers.Transient, Code: "InternalError", Message: "boom"}
	src.fail(upstream, upstream, upstream, upstream, upstream, upstream, upstream, upstream, upstream, upstream,
		upstream, upstream, upstream, upstream, upstream, upstream, upstream, upstream, upstream, upstream)
	clk.Advance(41 * time.Minute)
	eventually(t, "failed refresh", func() bool { return r.Status().State == apitype.StateStale })
	c, err := r.Get(context.Background())
	if err != nil || c.AccessKeyID != "AKID1" {
		t.Fatalf("stale credential not served: %v", err)
	}
	// Past expiry − 60 s the cached credential is never handed out.
	clk.Advance(19*time.Minute - 30*time.Second)
	eventually(t, "retries run", func() bool { return src.calls.Load() >= 3 })
	_, err = r.Get(context.Background())
	if err == nil || !strings.Contains(err.Error(), "InternalError") {
		t.Fatalf("want upstream error after expiry, got %v", err)
	}
	// The fault clears: recovery within the backoff bound.
	src.mu.Lock()
	src.errs = nil
	src.mu.Unlock()
	clk.Advance(5 * time.Minute)
	eventually(t, "recovery", func() bool { return r.Status().State == apitype.StateFresh })
	if _, err := r.Get(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestBackoffAnswersWithoutCallingUpstream(t *testing.T) {
	r, src, clk := newTest(t, false)
	bad := &providers.Error{Provider: "tencent", Class: providers.BadCredentials, Code: "AuthFailure.SecretIdNotFound"}
	src.fail(bad)
	if _, err := r.Get(context.Background()); !errors.Is(err, bad) {
		t.Fatalf("err = %v", err)
	}
	for range 50 {
		if _, err := r.Get(context.Background()); !errors.Is(err, bad) {
			t.Fatalf("err = %v", err)
		}
	}
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("bad credentials retried hot: %d calls", n)
	}
	if st := r.Status(); st.State != apitype.StateError || st.NextRefreshAt.Sub(t0) < 3*time.Second {
		t.Fatalf("status %+v", st)
	}
	// credctl refresh tries at once, whatever the backoff.
	if _, err := r.Refresh(context.Background()); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if n := src.calls.Load(); n != 2 {
		t.Fatalf("calls = %d", n)
	}
	_ = clk
}

func TestShortLifetimeNeverHandedOut(t *testing.T) {
	r, src, _ := newTest(t, false)
	src.life = 45 * time.Second
	_, err := r.Get(context.Background())
	if err == nil || !strings.Contains(err.Error(), "valid for only 45s") {
		t.Fatalf("err = %v", err)
	}
}

func TestRequestDeadlineBoundsWait(t *testing.T) {
	r, src, _ := newTest(t, false)
	src.gate = make(chan struct{})
	defer close(src.gate)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := r.Get(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

func TestStopWipes(t *testing.T) {
	clk := NewFakeClock(t0)
	src := &fakeSource{clock: clk, life: time.Hour}
	r := New(Options{Name: "p", Source: src, Clock: clk, Logger: quiet})
	r.Start()
	if _, err := r.Get(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	held := r.cred.SessionToken
	r.mu.Unlock()
	r.Stop()
	if strings.Contains(string(held.Bytes()), "tok") {
		t.Fatal("secret not wiped on Stop")
	}
	if _, err := r.Get(context.Background()); !errors.Is(err, ErrStopped) {
		t.Fatalf("err = %v", err)
	}
}

func BenchmarkGetWarm(b *testing.B) {
	clk := NewFakeClock(t0)
	r := New(Options{Name: "p", Source: &fakeSource{clock: clk, life: time.Hour}, Clock: clk, Logger: quiet})
	r.Start()
	defer r.Stop()
	if _, err := r.Get(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := r.Get(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
