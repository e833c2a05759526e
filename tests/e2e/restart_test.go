package e2e

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/credd-dev/credd/safesocket"
)

// TestRestartUnderLoad holds the listening socket the way systemd does for
// a socket-activated service and restarts credd repeatedly while clients
// keep asking for credentials: no request may fail, because connections
// made while no daemon runs wait in the socket's backlog.
func TestRestartUnderLoad(t *testing.T) {
	emu := startTencent(t)
	e := newEnv(t, tencentProfile("demo", emu.URL, ""))
	os.MkdirAll(e.dir+"/run", 0o700)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: e.sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	sockFile, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	defer sockFile.Close()

	startDaemon := func() (*exec.Cmd, chan error) {
		// LISTEN_PID must name the daemon itself: the shell execs credd,
		// keeping its pid, as systemd does after fork.
		cmd := exec.Command("sh", "-c", `LISTEN_PID=$$ exec "$0" --log-format text`, bins.credd)
		cmd.Env = append(e.environ(), "LISTEN_FDS=1", "LISTEN_FDNAMES=credd.socket")
		cmd.ExtraFiles = []*os.File{sockFile} // becomes fd 3
		logs := &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = logs, logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			err := cmd.Wait()
			e.assertNoSecrets("credd log", logs.String())
			if os.Getenv("DEBUG_RESTART") != "" {
				t.Logf("credd log:\n%s", logs)
			}
			done <- err
		}()
		return cmd, done
	}

	cmd, done := startDaemon()
	e.storeKey("tc-main")
	e.must(e.credctl("", "get", "demo"))

	client := &http.Client{
		Timeout: 20 * time.Second,
		Transport: &http.Transport{
			DisableKeepAlives: true, // every request a new connection, like credctl
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return safesocket.Dial(ctx, e.sock)
			},
		},
	}
	var sent, failed atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				sent.Add(1)
				resp, err := client.Get("http://credd/v1/profiles/demo/credentials")
				if err != nil {
					failed.Add(1)
					t.Logf("%s request failed: %v", time.Now().Format("15:04:05.000000"), err)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					t.Logf("request failed: HTTP %d", resp.StatusCode)
				}
			}
		}()
	}

	const restarts = 5
	for range restarts {
		time.Sleep(150 * time.Millisecond)
		t.Logf("%s SIGTERM", time.Now().Format("15:04:05.000000"))
		syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
		if err := <-done; err != nil {
			t.Fatalf("credd exited with %v on SIGTERM", err)
		}
		t.Logf("%s exited", time.Now().Format("15:04:05.000000"))
		cmd, done = startDaemon()
	}
	time.Sleep(150 * time.Millisecond)
	cancel()
	wg.Wait()
	syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
	<-done

	t.Logf("restart under load: %d requests sent, %d failed, %d restarts", sent.Load(), failed.Load(), restarts)
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed across %d restarts", failed.Load(), sent.Load(), restarts)
	}
	if sent.Load() < 100 {
		t.Fatalf("only %d requests sent; the load did not run", sent.Load())
	}
}
