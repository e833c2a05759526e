package bench

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credd-dev/credd/client"
	"github.com/credd-dev/credd/config"
	"github.com/credd-dev/credd/providers"
	"github.com/credd-dev/credd/refresh"
)

// clients is how many keep-alive clients hammer the socket at once.
const clients = 32

// BenchmarkCachedRequestsPerSecond measures the socket API serving a cached
// credential: an in-process daemon on a real Unix socket, 32 concurrent
// keep-alive clients, b.N requests of GET /v1/profiles/demo/credentials in
// all. It reports req/s and per-request latency percentiles (target ≥ 50k
// req/s on 2 cores). Clients and daemon share the CPUs, as they do on a
// workstation.
//
// Sub-benchmarks: "raw" clients discard the body, which isolates the
// daemon; "client" clients use package client as credctl does (decoding
// the JSON into secret.Values).
func BenchmarkCachedRequestsPerSecond(b *testing.B) {
	newSource := func(*config.Profile, providers.Deps) (refresh.Source, error) {
		return &fakeSource{calls: &counter{}}, nil
	}
	b.Run("raw", func(b *testing.B) {
		p := startInProc(b, tencentProfile("demo", ""), newSource)
		hammer(b, rawClients(p.sock))
	})
	b.Run("client", func(b *testing.B) {
		p := startInProc(b, tencentProfile("demo", ""), newSource)
		hammer(b, packageClients(p.sock))
	})
}

// BenchmarkCachedRequestsPerSecondCredd is BenchmarkCachedRequestsPerSecond
// against the real credd binary, its provider talking to the Tencent
// emulator, with raw clients. Since the daemon is a process of its own, it
// also reports the daemon's CPU time per request (Linux), which tells how
// much of the machine serving costs apart from the clients.
func BenchmarkCachedRequestsPerSecondCredd(b *testing.B) {
	credd, credctl, _ := buildBinaries(b)
	_, url := startTencent(b)
	c := startCredd(b, credd, credctl, tencentProfile("demo", url))
	cpu0, err := cpuTime(c.pid)
	hammer(b, rawClients(c.sock))
	if cpu1, err1 := cpuTime(c.pid); err == nil && err1 == nil {
		b.ReportMetric(micros(cpu1-cpu0)/float64(b.N), "daemon-cpu-µs/req")
	}
}

// requester does one credentials request for profile "demo".
type requester func() error

func rawClients(sock string) func() requester {
	return func() requester {
		hc := socketClient(sock)
		return func() error { return getCredentials(hc, "demo") }
	}
}

func packageClients(sock string) func() requester {
	return func() requester {
		c := client.New(sock)
		return func() error {
			creds, err := c.Credentials(context.Background(), "demo")
			if err == nil {
				creds.Zero()
			}
			return err
		}
	}
}

// hammer warms the profile, then runs b.N requests spread over `clients`
// goroutines, each with its own client, and reports throughput and
// latency percentiles.
func hammer(b *testing.B, newRequester func() requester) {
	b.Helper()
	reqs := make([]requester, clients)
	for i := range reqs {
		reqs[i] = newRequester()
		// Warm: the first request fetches; later ones open each
		// client's connection before the clock starts.
		if err := reqs[i](); err != nil {
			b.Fatal(err)
		}
	}
	var (
		left     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
		lat      = make([][]time.Duration, clients)
	)
	left.Store(int64(b.N))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, b.N/clients+1)
			for left.Add(-1) >= 0 {
				t0 := time.Now()
				if err := reqs[i](); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				mine = append(mine, time.Since(t0))
			}
			lat[i] = mine
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "req/s")
	b.ReportMetric(micros(percentile(all, 0.50)), "p50-µs")
	b.ReportMetric(micros(percentile(all, 0.99)), "p99-µs")
}
