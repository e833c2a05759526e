package client_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credd-dev/credd/apitype"
	"github.com/credd-dev/credd/client"
	"github.com/credd-dev/credd/client/clienttest"
)

// net/http switches to chunked encoding for bodies over 2 KiB it was not
// told the length of, as credd's profile list is once it has a few dozen
// profiles.
func TestChunkedBodyFromNetHTTP(t *testing.T) {
	s := clienttest.Start(t)
	for i := range 100 {
		s.AddProfile(apitype.Profile{Method: "GetFederationToken"}, creds(fmt.Sprintf("p%03d", i)))
	}
	// The test is only worth something if the body really is chunked.
	nc, err := net.Dial("unix", s.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	fmt.Fprint(nc, "GET /v1/profiles HTTP/1.1\r\nHost: credd\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("profile list sent with Transfer-Encoding %q, want chunked", resp.TransferEncoding)
	}

	c := client.New(s.Socket)
	defer c.Close()
	for range 2 { // the second request reuses the connection
		ps, err := c.Profiles(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != 100 || ps[0].Name != "p000" || ps[99].Name != "p099" {
			t.Fatalf("got %d profiles", len(ps))
		}
	}
}

// rawServer answers each request on a Unix socket with reply(n), n
// counting requests from 1; a reply of "" closes the connection without
// an answer, and close after a reply closes it too.
type rawServer struct {
	sock  string
	conns atomic.Int32
	reqs  atomic.Int32
}

func startRaw(t *testing.T, reply func(n int32) (resp string, closeAfter bool)) *rawServer {
	t.Helper()
	rs := &rawServer{sock: filepath.Join(t.TempDir(), "raw.sock")}
	ln, err := net.Listen("unix", rs.sock)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			rs.conns.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				br := bufio.NewReader(nc)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					resp, closeAfter := reply(rs.reqs.Add(1))
					if resp == "" {
						return
					}
					if _, err := io.WriteString(nc, resp); err != nil || closeAfter {
						return
					}
				}
			}()
		}
	}()
	return rs
}

const okStatus = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 25\r\n\r\n{\"version\":\"credd raw\"}\r\n"

// A connection the daemon closed while idle is noticed before it is used.
func TestIdleConnClosedByDaemon(t *testing.T) {
	rs := startRaw(t, func(int32) (string, bool) { return okStatus, true })
	c := client.New(rs.sock)
	defer c.Close()
	for i := range 3 {
		st, err := c.Status(context.Background())
		if err != nil || st.Version != "credd raw" {
			t.Fatalf("request %d: %+v, %v", i, st, err)
		}
		time.Sleep(10 * time.Millisecond) // let the close arrive
	}
	if n := rs.conns.Load(); n != 3 {
		t.Errorf("%d connections for 3 requests on connections closed after each, want 3", n)
	}
}

// A reused connection that dies with no answer is retried for a GET, and
// not for a POST, which the daemon may have acted on.
func TestReusedConnDiesWithoutAnswer(t *testing.T) {
	rs := startRaw(t, func(n int32) (string, bool) {
		if n == 2 || n == 5 {
			return "", true // the second request on a connection gets no answer
		}
		if n == 4 {
			return "HTTP/1.1 200 OK\r\nContent-Length: 33\r\n\r\n{\"name\":\"a\",\"upstream_calls\":1}\r\n", false
		}
		return okStatus, false
	})
	c := client.New(rs.sock)
	defer c.Close()
	ctx := context.Background()
	if _, err := c.Status(ctx); err != nil { // request 1, conn 1
		t.Fatal(err)
	}
	if _, err := c.Status(ctx); err != nil { // request 2 dies, retried as 3 on conn 2
		t.Fatalf("GET on a dead reused connection: %v", err)
	}
	if n := rs.reqs.Load(); n != 3 {
		t.Fatalf("server saw %d requests, want 3", n)
	}
	if _, err := c.Refresh(ctx, "a"); err != nil { // request 4, conn 2
		t.Fatal(err)
	}
	_, err := c.Refresh(ctx, "a") // request 5 dies, not retried
	if err == nil || client.IsNotRunning(err) || !strings.Contains(err.Error(), "closed before any answer") {
		t.Errorf("POST on a dead reused connection: err = %v", err)
	}
	if n := rs.reqs.Load(); n != 5 {
		t.Errorf("server saw %d requests, want 5 (no retry of the POST)", n)
	}
}

// net/http answers a request it cannot parse with a body that ends at
// connection close; its status and text reach the caller.
func TestCloseDelimitedError(t *testing.T) {
	rs := startRaw(t, func(int32) (string, bool) {
		return "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n431 Request Header Fields Too Large", true
	})
	_, err := client.New(rs.sock).Status(context.Background())
	ae, ok := client.AsAPIError(err)
	if !ok || ae.Status != 431 || ae.Message != "431 Request Header Fields Too Large" {
		t.Errorf("err = %#v", err)
	}
}

// A malformed response is an error that is neither "not running" nor an
// API error.
func TestMalformedResponse(t *testing.T) {
	rs := startRaw(t, func(int32) (string, bool) {
		return "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", true
	})
	_, err := client.New(rs.sock).Status(context.Background())
	if err == nil || !strings.Contains(err.Error(), `unsupported Transfer-Encoding "gzip"`) ||
		client.IsNotRunning(err) || errors.As(err, new(*client.APIError)) {
		t.Errorf("err = %v", err)
	}
}

// Cancelling the context (credctl does on SIGINT) ends a request that
// waits for the daemon.
func TestCancel(t *testing.T) {
	release := make(chan struct{})
	rs := startRaw(t, func(int32) (string, bool) {
		<-release
		return "", true
	})
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := client.New(rs.sock).Credentials(ctx, "x")
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("err = %v, want context canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancel took %v", d)
	}
}

// One Client serves concurrent callers.
func TestConcurrentUse(t *testing.T) {
	s := clienttest.Start(t)
	s.AddProfile(apitype.Profile{}, creds("a"))
	c := client.New(s.Socket)
	defer c.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 20 {
				cr, err := c.Credentials(context.Background(), "a")
				if err != nil {
					errs <- err
					return
				}
				if cr.SecretAccessKey.Reveal() != canary {
					errs <- errors.New("wrong secret")
					return
				}
				cr.Zero()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A key's secret, sent in a PUT, appears in no error, whatever the daemon
// answers.
func TestPutKeyErrorsQuoteNoSecret(t *testing.T) {
	for _, reply := range []string{
		"HTTP/1.1 400 Bad Request\r\nContent-Length: 53\r\n\r\n{\"error\":{\"code\":\"bad_request\",\"message\":\"bad kind\"}}",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: bogus\r\n\r\n",
		"",
	} {
		rs := startRaw(t, func(int32) (string, bool) { return reply, true })
		err := client.New(rs.sock).PutKey(context.Background(), "k",
			apitype.PutKey{Kind: "tencent", Fields: map[string]string{"secret_id": "AKID", "secret_key": canary}})
		if err == nil {
			t.Errorf("reply %q: no error", reply)
			continue
		}
		if strings.HasPrefix(reply, "HTTP/1.1 400") && !errors.Is(err, client.ErrBadRequest) {
			t.Errorf("reply %q: err = %v, want bad request", reply, err)
		}
		if msg := fmt.Sprintf("%v %+v %#v", err, err, err); strings.Contains(msg, canary) {
			t.Errorf("error leaks the key: %s", msg)
		}
	}
}
