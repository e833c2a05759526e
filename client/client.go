// Package client talks to credd over its Unix socket: HTTP/1.1 with JSON
// bodies (the apitype types), kept-alive connections, bounded timeouts and
// typed errors that callers test with errors.Is and errors.As. It speaks
// HTTP itself rather than through net/http, whose TLS and X.509 package
// inits would slow down every credctl start.
//
// It is the only way credctl reaches the daemon, and tests and benchmarks use
// it too. It must stay free of keystore and provider code: credctl links it.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/credd-dev/credd/apitype"
	"github.com/credd-dev/credd/secret"
)

// Timeouts. A request whose context has no deadline gets one of these.
const (
	// DialTimeout bounds connecting to the socket. A live daemon accepts at
	// once; a longer wait means a wedged one, which is worth reporting.
	DialTimeout = 2 * time.Second
	// RequestTimeout bounds calls the daemon answers from memory.
	RequestTimeout = 10 * time.Second
	// FetchTimeout bounds calls that may wait for an upstream fetch
	// (credentials, refresh, reload). The daemon gives up on a fetch after
	// about 35 s and answers 503; waiting a little longer lets that answer,
	// which names the upstream error, reach the user.
	FetchTimeout = 45 * time.Second
	// maxResponse bounds a response body. The largest legitimate one, the
	// profile list, is far below it.
	maxResponse = 8 << 20
)

// maxIdle bounds the connections a Client keeps open between calls, and
// idleTimeout how long it keeps one; the daemon closes idle connections
// after a few minutes anyway.
const (
	maxIdle     = 4
	idleTimeout = 30 * time.Second
)

// Client is a client of credd's socket API. It is safe for concurrent use and
// keeps its connection open between calls.
type Client struct {
	socket string

	mu   sync.Mutex // guards idle
	idle []*conn    // open connections, most recently used last
}

// New returns a Client that dials the Unix socket at socketPath.
func New(socketPath string) *Client {
	return &Client{socket: socketPath}
}

// Socket returns the socket path the client dials.
func (c *Client) Socket() string { return c.socket }

// Close releases idle connections. The Client stays usable.
func (c *Client) Close() {
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, pc := range idle {
		pc.close()
	}
}

// Status returns the daemon's status (GET /v1/status).
func (c *Client) Status(ctx context.Context) (apitype.Status, error) {
	var s apitype.Status
	err := c.do(ctx, "GET", "/status", nil, &s, RequestTimeout)
	return s, err
}

// Profiles returns the profiles the caller may read (GET /v1/profiles).
func (c *Client) Profiles(ctx context.Context) ([]apitype.Profile, error) {
	var ps apitype.Profiles
	if err := c.do(ctx, "GET", "/profiles", nil, &ps, RequestTimeout); err != nil {
		return nil, err
	}
	return ps.Profiles, nil
}

// Credentials are a profile's temporary credentials. The secret parts are
// secret.Values so that printing a Credentials by accident shows nothing.
type Credentials struct {
	Profile         string
	Provider        string
	Region          string
	AccessKeyID     string
	SecretAccessKey secret.Value
	SessionToken    secret.Value
	Expiration      time.Time
}

// Zero wipes the secret parts.
func (c *Credentials) Zero() {
	c.SecretAccessKey.Zero()
	c.SessionToken.Zero()
}

// Credentials returns the temporary credentials of profile name
// (GET /v1/profiles/{name}/credentials). It may wait for the daemon to
// fetch them.
func (c *Client) Credentials(ctx context.Context, name string) (*Credentials, error) {
	var w apitype.Credentials
	if err := c.do(ctx, "GET", "/profiles/"+url.PathEscape(name)+"/credentials", nil, &w, FetchTimeout); err != nil {
		return nil, err
	}
	return &Credentials{
		Profile:         w.Profile,
		Provider:        w.Provider,
		Region:          w.Region,
		AccessKeyID:     w.AccessKeyID,
		SecretAccessKey: secret.New(w.SecretAccessKey),
		SessionToken:    secret.New(w.SessionToken),
		Expiration:      w.Expiration,
	}, nil
}

// Refresh makes the daemon fetch profile name now, whatever its schedule or
// backoff (POST /v1/profiles/{name}/refresh), and returns the new state.
func (c *Client) Refresh(ctx context.Context, name string) (apitype.Profile, error) {
	var p apitype.Profile
	err := c.do(ctx, "POST", "/profiles/"+url.PathEscape(name)+"/refresh", nil, &p, FetchTimeout)
	return p, err
}

// Reload makes the daemon reread its config (POST /v1/reload).
func (c *Client) Reload(ctx context.Context) (apitype.Reload, error) {
	var r apitype.Reload
	err := c.do(ctx, "POST", "/reload", nil, &r, FetchTimeout)
	return r, err
}

// Keys lists the keystore's entries, names and kinds only (GET /v1/keys).
func (c *Client) Keys(ctx context.Context) (apitype.Keys, error) {
	var k apitype.Keys
	err := c.do(ctx, "GET", "/keys", nil, &k, RequestTimeout)
	return k, err
}

// PutKey stores key name in the daemon's keystore (PUT /v1/keys/{name}).
func (c *Client) PutKey(ctx context.Context, name string, key apitype.PutKey) error {
	body, err := json.Marshal(key)
	if err != nil {
		return fmt.Errorf("encode key %q: %w", name, err)
	}
	defer clear(body)
	return c.do(ctx, "PUT", "/keys/"+url.PathEscape(name), body, nil, FetchTimeout)
}

// DeleteKey removes key name from the daemon's keystore (DELETE /v1/keys/{name}).
func (c *Client) DeleteKey(ctx context.Context, name string) error {
	return c.do(ctx, "DELETE", "/keys/"+url.PathEscape(name), nil, nil, FetchTimeout)
}

// do sends one request and decodes a 2xx body into out (when out is not
// nil). Any other status becomes an *APIError. Errors never quote a
// successful body: it may hold secrets.
func (c *Client) do(ctx context.Context, method, path string, body []byte, out any, timeout time.Duration) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	resp, err := c.roundTrip(ctx, method, apitype.APIVersion+path, body)
	if err != nil {
		var nr *NotRunningError
		if errors.As(err, &nr) {
			return err
		}
		return fmt.Errorf("%s %s via %s: %w", method, path, c.socket, err)
	}
	data := resp.body
	defer clear(data)
	if resp.status < 200 || resp.status > 299 {
		return newAPIError(resp.status, data)
	}
	if out == nil || resp.status == statusNoContent {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode response: %s", method, path, describeJSONError(err))
	}
	return nil
}

// describeJSONError describes a decoding error without the offending input:
// encoding/json quotes a byte of it, which could be part of a secret.
func describeJSONError(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at offset %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q has the wrong type", te.Field)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	}
	return "malformed JSON"
}

// newAPIError builds the error for a non-2xx response. A body in the wire
// error shape gives code, message and hint; anything else (a proxy, a
// different program on the socket) is described by its status and a short
// excerpt, since error bodies carry no secrets.
func newAPIError(status int, data []byte) *APIError {
	e := &APIError{Status: status}
	var b apitype.ErrorBody
	if err := json.Unmarshal(data, &b); err == nil && (b.Error.Code != "" || b.Error.Message != "") {
		e.Code = b.Error.Code
		e.Message = b.Error.Message
		e.Hint = b.Error.Hint
		e.Known = b.Error.Known
		e.Upstream = b.Error.Upstream
		return e
	}
	msg := strings.TrimSpace(string(data))
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	if msg == "" {
		msg = statusText(status)
	}
	e.Message = msg
	return e
}
