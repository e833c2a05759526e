package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/credd-dev/credd/safesocket"
)

// conn is one connection to the daemon.
type conn struct {
	nc        net.Conn
	rd        *reader
	idleSince time.Time
}

func (pc *conn) close() {
	_ = pc.nc.Close()
	pc.rd.wipe()
}

// roundTrip sends one request and reads its response, on an idle
// connection if there is one. A reused connection may have been closed by
// the daemon in the meantime (idle timeout, restart); a request that
// failed on one without any answer is sent again on a new connection when
// that is safe: when it was not written at all, or when it is a GET.
func (c *Client) roundTrip(ctx context.Context, method, target string, body []byte) (*response, error) {
	if !validTarget(target) {
		return nil, fmt.Errorf("invalid request path %q", target)
	}
	for {
		pc, reused, err := c.getConn(ctx)
		if err != nil {
			return nil, err
		}
		resp, written, err := pc.exchange(ctx, method, target, body)
		if err != nil {
			answered := pc.rd.got > 0
			pc.close()
			if reused && !answered && ctx.Err() == nil && isConnGone(err) && (!written || method == "GET") {
				continue
			}
			return nil, err
		}
		if resp.reusable {
			c.putConn(pc)
		} else {
			pc.close()
		}
		return resp, nil
	}
}

// getConn returns an idle connection that is still open, or dials.
func (c *Client) getConn(ctx context.Context) (pc *conn, reused bool, err error) {
	for {
		c.mu.Lock()
		n := len(c.idle)
		if n == 0 {
			c.mu.Unlock()
			break
		}
		pc = c.idle[n-1]
		c.idle[n-1] = nil
		c.idle = c.idle[:n-1]
		c.mu.Unlock()
		if time.Since(pc.idleSince) < idleTimeout && isOpen(pc.nc) {
			return pc, true, nil
		}
		pc.close()
	}
	dctx, cancel := context.WithTimeout(ctx, DialTimeout)
	defer cancel()
	nc, err := safesocket.Dial(dctx, c.socket)
	if err != nil {
		if isDialRefused(err) {
			return nil, false, &NotRunningError{Socket: c.socket, Err: err}
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = ctxErr
		}
		return nil, false, err
	}
	return &conn{nc: nc, rd: newReader(nc)}, false, nil
}

// putConn keeps pc for the next request, unless enough are kept already.
func (c *Client) putConn(pc *conn) {
	_ = pc.nc.SetDeadline(time.Time{})
	pc.idleSince = time.Now()
	c.mu.Lock()
	if len(c.idle) < maxIdle {
		c.idle = append(c.idle, pc)
		pc = nil
	}
	c.mu.Unlock()
	if pc != nil {
		pc.close()
	}
}

// exchange writes the request and reads the response, within ctx's
// deadline and until ctx is cancelled. written reports whether any of the
// request may have reached the daemon.
func (pc *conn) exchange(ctx context.Context, method, target string, body []byte) (resp *response, written bool, err error) {
	deadline, _ := ctx.Deadline()
	if err := pc.nc.SetDeadline(deadline); err != nil {
		return nil, false, err
	}
	// Cancellation (SIGINT) interrupts a blocked read or write by moving
	// the deadline into the past. AfterFunc starts no goroutine unless ctx
	// is actually cancelled.
	stop := context.AfterFunc(ctx, func() { _ = pc.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	defer func() {
		if err != nil {
			err = ctxError(ctx, deadline, err)
		}
	}()

	req := appendRequest(make([]byte, 0, 256+len(body)), method, target, body)
	n, err := pc.nc.Write(req)
	clear(req) // a PUT /v1/keys body holds a long-lived secret
	if err != nil {
		return nil, n > 0, fmt.Errorf("send request: %w", err)
	}
	pc.rd.begin()
	resp, err = readResponse(pc.rd, maxResponse)
	if err != nil {
		if pc.rd.got == 0 && err == io.EOF {
			err = fmt.Errorf("read response: connection closed before any answer: %w", err)
		} else {
			err = fmt.Errorf("read response: %w", err)
		}
		return nil, true, err
	}
	return resp, true, nil
}

// ctxError replaces a deadline error on the connection with the context's
// own error, which callers test with errors.Is. The connection's deadline
// is ctx's, so it can fire a moment before ctx reports it.
func ctxError(ctx context.Context, deadline time.Time, err error) error {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	cause := ctx.Err()
	if cause == nil && !deadline.IsZero() && !time.Now().Before(deadline) {
		cause = context.DeadlineExceeded
	}
	if cause == nil {
		return err
	}
	return &ctxErr{err: err, cause: cause}
}

// ctxErr is an I/O error caused by ctx's end: it reads like the I/O error
// wrapped by it ("read response: context deadline exceeded") and matches
// the context's error with errors.Is.
type ctxErr struct {
	err   error
	cause error
}

func (e *ctxErr) Error() string {
	// Replace the "i/o timeout" at the end of the chain with the cause.
	msg := e.err.Error()
	if inner := os.ErrDeadlineExceeded.Error(); len(msg) >= len(inner) && msg[len(msg)-len(inner):] == inner {
		return msg[:len(msg)-len(inner)] + e.cause.Error()
	}
	return msg + ": " + e.cause.Error()
}

func (e *ctxErr) Unwrap() []error { return []error{e.cause, e.err} }

// isConnGone reports whether err means the daemon closed the connection.
func isConnGone(err error) bool {
	return errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNRESET)
}
