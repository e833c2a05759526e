package bench

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/credd-dev/credd/config"
	"github.com/credd-dev/credd/providers"
	"github.com/credd-dev/credd/providers/tencent"
	"github.com/credd-dev/credd/refresh"
	"github.com/credd-dev/credd/tests/tencentemu"
)

// coldRequests is the size of each burst of cold requests.
const coldRequests = 100

// BenchmarkColdConcurrentUpstreamCalls fires 100 concurrent requests at a
// profile nobody has asked for yet and counts the upstream calls they cost
// (SPEC §5: at most one). Each iteration reloads the in-process daemon with
// a new profile, so every burst is cold. It reports upstream-calls per
// burst (target 1), the most any burst cost, and the burst's median and
// slowest request latency.
//
// Sub-benchmarks: "tencent-emulator" uses the real Tencent provider against
// the emulator on loopback (upstream calls counted by the emulator);
// "slow-source" uses a fake that takes 50 ms, so the whole burst lands
// while the one fetch is in flight.
func BenchmarkColdConcurrentUpstreamCalls(b *testing.B) {
	b.Run("tencent-emulator", func(b *testing.B) {
		emu, url := startTencent(b)
		newSource := func(p *config.Profile, d providers.Deps) (refresh.Source, error) {
			return tencent.New(p, d)
		}
		cold(b, url, newSource, func() int64 { return emu.CallsFor(tencentemu.ActionGetFederationToken) })
	})
	b.Run("slow-source", func(b *testing.B) {
		calls := &counter{}
		newSource := func(*config.Profile, providers.Deps) (refresh.Source, error) {
			return &fakeSource{delay: 50 * time.Millisecond, calls: calls}, nil
		}
		cold(b, "", newSource, calls.get)
	})
}

func cold(b *testing.B, endpoint string, newSource func(*config.Profile, providers.Deps) (refresh.Source, error), upstream func() int64) {
	b.Helper()
	p := startInProc(b, "", newSource)
	hcs := make([]*http.Client, coldRequests)
	for i := range hcs {
		hcs[i] = socketClient(p.sock)
	}
	var (
		bursts, total, worst int64
		p50s, maxs           []time.Duration
	)
	for b.Loop() {
		b.StopTimer()
		name := fmt.Sprintf("cold-%d", bursts)
		p.writeConfig(b, tencentProfile(name, endpoint))
		if _, err := p.d.Reload(); err != nil {
			b.Fatal(err)
		}
		before := upstream()
		b.StartTimer()

		lat := make([]time.Duration, coldRequests)
		errs := make([]error, coldRequests)
		var ready, wg sync.WaitGroup
		gate := make(chan struct{})
		for i := range coldRequests {
			ready.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				ready.Done()
				<-gate // release the burst together
				t0 := time.Now()
				errs[i] = getCredentials(hcs[i], name)
				lat[i] = time.Since(t0)
			}()
		}
		ready.Wait()
		close(gate)
		wg.Wait()

		b.StopTimer()
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
		n := upstream() - before
		bursts++
		total += n
		worst = max(worst, n)
		p50s = append(p50s, percentile(lat, 0.50))
		maxs = append(maxs, percentile(lat, 1))
		b.StartTimer()
	}
	b.ReportMetric(float64(total)/float64(bursts), "upstream-calls")
	b.ReportMetric(float64(worst), "max-upstream-calls")
	b.ReportMetric(micros(percentile(p50s, 0.50)), "burst-p50-µs")
	b.ReportMetric(micros(percentile(maxs, 0.50)), "burst-max-µs")
	if worst > 1 {
		b.Errorf("a burst of %d cold requests cost %d upstream calls; want 1", coldRequests, worst)
	}
}
