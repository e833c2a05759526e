package bench

import (
	"os/exec"
	"testing"
	"time"
)

// minExecSamples is the least number of samples of each command, whatever
// b.N: percentiles of a handful of process starts mean little.
const minExecSamples = 200

// BenchmarkCredctlGetWarm measures what a shell pays for
// `credctl get demo` once the daemon holds a fresh credential: fork, exec,
// Go runtime start, one request over the socket, JSON out. Next to it, in
// alternation so that both see the same machine load, it measures exec'ing
// a trivial static Go binary: the floor any client process pays. The ratio
// of the medians is the overhead credctl adds over that floor (target ≤ 2).
// `credctl version`, which starts credctl but sends no request, splits
// credctl's cost into process start and request.
//
// One b.Loop iteration is one sample of each; the loop is topped up to
// minExecSamples samples.
func BenchmarkCredctlGetWarm(b *testing.B) {
	credd, credctl, trivial := buildBinaries(b)
	_, url := startTencent(b)
	c := startCredd(b, credd, credctl, tencentProfile("demo", url))

	run := func(path string, args ...string) time.Duration {
		cmd := exec.Command(path, args...)
		cmd.Env = c.env // stdout, stderr: /dev/null
		start := time.Now()
		err := cmd.Run()
		d := time.Since(start)
		if err != nil {
			b.Fatalf("%s %v: %v", path, args, err)
		}
		return d
	}
	run(credctl, "get", "demo") // warm the cache: the first get fetches upstream

	var cl, ver, st []time.Duration
	sample := func() {
		cl = append(cl, run(credctl, "get", "demo"))
		ver = append(ver, run(credctl, "version"))
		st = append(st, run(trivial))
	}
	for b.Loop() {
		sample()
	}
	for len(cl) < minExecSamples {
		sample()
	}
	p50c, p50s := percentile(cl, 0.50), percentile(st, 0.50)
	b.ReportMetric(micros(p50c), "credctl-p50-µs")
	b.ReportMetric(micros(percentile(cl, 0.99)), "credctl-p99-µs")
	b.ReportMetric(micros(percentile(ver, 0.50)), "credctl-version-p50-µs")
	b.ReportMetric(micros(p50s), "static-exec-p50-µs")
	b.ReportMetric(float64(p50c)/float64(p50s), "ratio-p50")
	b.ReportMetric(float64(len(cl)), "samples")
}
