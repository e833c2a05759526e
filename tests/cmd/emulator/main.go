// Package main is emulator, which serves credd's Tencent STS emulator
// (API 3.0 and v2) on loopback for demos and manual testing. It prints the
// base URL and runs until interrupted.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/credd-dev/credd/tests/tencentemu"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "loopback address for the Tencent STS emulator")
	addrFile := flag.String("addr-file", "", "write the base URL here once listening")
	var keys multi
	flag.Var(&keys, "tencent-key", "SECRETID:SECRETKEY of a root key the emulator accepts (repeatable)")
	flag.Parse()

	host, _, err := net.SplitHostPort(*listen)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		fatal("emulator: -listen must be a loopback address, got %q", *listen)
	}
	emu := tencentemu.New(tencentemu.Options{})
	for _, k := range keys {
		id, secret, ok := strings.Cut(k, ":")
		if !ok {
			fatal("emulator: -tencent-key wants SECRETID:SECRETKEY")
		}
		emu.AddKey(id, secret, true)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fatal("emulator: %v", err)
	}
	url := "http://" + ln.Addr().String()
	fmt.Println("tencent", url)
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(url), 0o600); err != nil {
			fatal("emulator: %v", err)
		}
	}
	srv := &http.Server{Handler: emu}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		fatal("emulator: %v", err)
	}
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}
