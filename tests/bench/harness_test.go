package bench

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/config"
	"github.com/credd-dev/credd/providers"
	"github.com/credd-dev/credd/providers/tencent"
	"github.com/credd-dev/credd/refresh"
	"github.com/credd-dev/credd/tests/tencentemu"
)

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var out []time.Duration
		for _, n := range ns {
			out = append(out, time.Duration(n)*time.Millisecond)
		}
		return out
	}
	for _, tc := range []struct {
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 0.5, 0},
		{ms(7), 0.99, 7 * time.Millisecond},
		{ms(4, 1, 3, 2), 0.50, 2 * time.Millisecond},
		{ms(4, 1, 3, 2), 0.51, 3 * time.Millisecond},
		{ms(4, 1, 3, 2), 1, 4 * time.Millisecond},
		{ms(10, 9, 8, 7, 6, 5, 4, 3, 2, 1), 0.99, 10 * time.Millisecond},
		{ms(10, 9, 8, 7, 6, 5, 4, 3, 2, 1), 0.90, 9 * time.Millisecond},
	} {
		if got := percentile(tc.in, tc.p); got != tc.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", tc.in, tc.p, got, tc.want)
		}
	}
}

// TestInProcServesCanary checks the benchmarks' harness: the in-process
// daemon serves the fake source's canary token over the socket (so the log
// check below has something to catch), and neither that token nor the
// stored long-lived key reaches the daemon's log.
func TestInProcServesCanary(t *testing.T) {
	calls := &counter{}
	p := startInProc(t, tencentProfile("demo", ""), func(*config.Profile, providers.Deps) (refresh.Source, error) {
		return &fakeSource{calls: calls}, nil
	})
	hc := socketClient(p.sock)
	resp, err := hc.Get("http://credd/v1/profiles/demo/credentials")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), canaryToken) {
		t.Fatalf("credentials: %d %s", resp.StatusCode, body)
	}
	for range 5 {
		if err := getCredentials(hc, "demo"); err != nil {
			t.Fatal(err)
		}
	}
	if n := calls.get(); n != 1 {
		t.Fatalf("6 requests of a cached profile cost %d upstream calls, want 1", n)
	}
	if err := getCredentials(hc, "nope"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("unknown profile: %v", err)
	}
	assertNoSecrets(t, "daemon log", p.logs.String())
}

// TestInProcTencentEmulator checks the cold benchmark's setup: the real
// Tencent provider, reading the canary key from the in-memory keystore,
// gets a credential from the emulator, and a reload to a new profile makes
// it cold again.
func TestInProcTencentEmulator(t *testing.T) {
	emu, url := startTencent(t)
	p := startInProc(t, tencentProfile("one", url), func(pc *config.Profile, d providers.Deps) (refresh.Source, error) {
		return tencent.New(pc, d)
	})
	hc := socketClient(p.sock)
	if err := getCredentials(hc, "one"); err != nil {
		t.Fatal(err)
	}
	p.writeConfig(t, tencentProfile("two", url))
	if _, err := p.d.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := getCredentials(hc, "two"); err != nil {
		t.Fatal(err)
	}
	if err := getCredentials(hc, "one"); err == nil {
		t.Fatal("profile one still served after a reload removed it")
	}
	if n := emu.CallsFor(tencentemu.ActionGetFederationToken); n != 2 {
		t.Fatalf("emulator saw %d GetFederationToken calls, want 2", n)
	}
	assertNoSecrets(t, "daemon log", p.logs.String())
}
