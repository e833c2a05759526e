// Package bench holds credd's performance benchmarks: the latency of a warm
// `credctl get` next to exec'ing a trivial static binary, the throughput of
// cached credential requests over the Unix socket, and how many upstream
// calls a burst of concurrent cold requests costs.
//
// Everything heavy (building binaries, starting daemons and emulators)
// happens inside the Benchmark functions, so a plain `go test` only compiles
// this package. Run the benchmarks with `make bench` or
//
//	go test -run '^$' -bench . -benchmem ./tests/bench/
package bench
