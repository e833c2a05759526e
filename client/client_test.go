package client_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credd-dev/credd/apitype"
	"github.com/credd-dev/credd/client"
	"github.com/credd-dev/credd/client/clienttest"
)

const canary = "CANARY-s3cr3t-9c2d"

func creds(name string) apitype.Credentials {
	return apitype.Credentials{
		Profile: name, Provider: "tencent", Region: "ap-guangzhou",
		AccessKeyID: "AKIDtest", SecretAccessKey: canary, SessionToken: "tok-" + canary,
		Expiration: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

func TestCredentials(t *testing.T) {
	s := clienttest.Start(t)
	s.AddProfile(apitype.Profile{}, creds("tc-dev"))
	c := client.New(s.Socket)
	defer c.Close()
	got, err := c.Credentials(context.Background(), "tc-dev")
	if err != nil {
		t.Fatal(err)
	}
	if got.Profile != "tc-dev" || got.Provider != "tencent" || got.Region != "ap-guangzhou" ||
		got.AccessKeyID != "AKIDtest" || got.SecretAccessKey.Reveal() != canary ||
		got.SessionToken.Reveal() != "tok-"+canary || !got.Expiration.Equal(creds("").Expiration) {
		t.Errorf("Credentials = %+v", got)
	}
	// Printing the credentials by accident shows no secret.
	for _, s := range []string{fmt.Sprintf("%v", got), fmt.Sprintf("%+v", *got), fmt.Sprintf("%#v", got)} {
		if strings.Contains(s, canary) {
			t.Errorf("formatted credentials leak the secret: %s", s)
		}
	}
	got.Zero()
	if got.SecretAccessKey.Reveal() == canary {
		t.Error("Zero left the secret in place")
	}
}

func TestEndpoints(t *testing.T) {
	s := clienttest.Start(t)
	s.AddProfile(apitype.Profile{Method: "GetFederationToken"}, creds("a"))
	s.AddProfile(apitype.Profile{}, creds("b"))
	c := client.New(s.Socket)
	ctx := context.Background()

	st, err := c.Status(ctx)
	if err != nil || st.ProfileCount != 2 || st.Version != "credd test" {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	ps, err := c.Profiles(ctx)
	if err != nil || len(ps) != 2 || ps[0].Name != "a" || ps[0].Method != "GetFederationToken" {
		t.Fatalf("Profiles = %+v, %v", ps, err)
	}
	p, err := c.Refresh(ctx, "a")
	if err != nil || p.UpstreamCalls != 1 {
		t.Fatalf("Refresh = %+v, %v", p, err)
	}
	r, err := c.Reload(ctx)
	if err != nil || r.Generation != 2 || s.Reloads() != 1 {
		t.Fatalf("Reload = %+v, %v", r, err)
	}
	k := apitype.PutKey{Kind: "tencent", Fields: map[string]string{"secret_id": "AKID", "secret_key": canary}}
	if err := c.PutKey(ctx, "tc/main key", k); err != nil {
		t.Fatal(err)
	}
	if got, ok := s.Key("tc/main key"); !ok || !reflect.DeepEqual(got, k) {
		t.Fatalf("stored key = %+v, %v", got, ok)
	}
	keys, err := c.Keys(ctx)
	if err != nil || len(keys.Keys) != 1 || keys.Keys[0] != (apitype.Key{Name: "tc/main key", Kind: "tencent"}) {
		t.Fatalf("Keys = %+v, %v", keys, err)
	}
	if err := c.DeleteKey(ctx, "tc/main key"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Key("tc/main key"); ok {
		t.Fatal("DeleteKey left the key")
	}
	// Names are escaped into one path segment.
	reqs := strings.Join(s.Requests(), "\n")
	if !strings.Contains(reqs, "PUT /v1/keys/tc/main key") {
		t.Errorf("requests:\n%s", reqs)
	}
}

func TestTypedErrors(t *testing.T) {
	s := clienttest.Start(t)
	s.AddProfile(apitype.Profile{}, creds("ok"))
	s.AddProfile(apitype.Profile{}, creds("forbidden"))
	s.Deny("credentials:forbidden")
	s.FailProfile("broken", http.StatusServiceUnavailable, apitype.ErrorDetail{
		Code: apitype.CodeUnavailable, Message: `fetch profile "broken": AuthFailure.SecretIdNotFound: no such id`,
		Hint: "run `credctl key set`", Upstream: "AuthFailure.SecretIdNotFound",
	})
	c := client.New(s.Socket)
	ctx := context.Background()

	tests := []struct {
		name   string
		call   func() error
		is     error
		status int
		check  func(*client.APIError) bool
	}{
		{"unknown profile", func() error { _, err := c.Credentials(ctx, "nope"); return err }, client.ErrNotFound, 404,
			func(e *client.APIError) bool {
				return e.Code == apitype.CodeNotFound && reflect.DeepEqual(e.Known, []string{"broken", "forbidden", "ok"})
			}},
		{"denied", func() error { _, err := c.Credentials(ctx, "forbidden"); return err }, client.ErrAccessDenied, 403,
			func(e *client.APIError) bool { return e.Message == "credentials access denied" && e.Hint != "" }},
		{"unavailable", func() error { _, err := c.Credentials(ctx, "broken"); return err }, client.ErrUnavailable, 503,
			func(e *client.APIError) bool {
				return e.Upstream == "AuthFailure.SecretIdNotFound" && strings.Contains(e.Error(), "no such id")
			}},
		{"refresh unavailable", func() error { _, err := c.Refresh(ctx, "broken"); return err }, client.ErrUnavailable, 503, nil},
		{"unknown key", func() error { return c.DeleteKey(ctx, "nokey") }, client.ErrNotFound, 404, nil},
		{"bad key", func() error { return c.PutKey(ctx, "k", apitype.PutKey{Kind: "nope"}) }, client.ErrBadRequest, 400,
			func(e *client.APIError) bool { return e.Code == apitype.CodeBadRequest }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want Is(%v)", err, tt.is)
			}
			for _, other := range []error{client.ErrNotFound, client.ErrAccessDenied, client.ErrUnavailable, client.ErrBadRequest, client.ErrReadOnly, client.ErrNotRunning} {
				if other != tt.is && errors.Is(err, other) {
					t.Errorf("err also Is(%v)", other)
				}
			}
			ae, ok := client.AsAPIError(err)
			if !ok || ae.Status != tt.status {
				t.Fatalf("AsAPIError = %+v, %v", ae, ok)
			}
			if tt.check != nil && !tt.check(ae) {
				t.Errorf("APIError = %+v", ae)
			}
		})
	}

	s.SetReadOnly(true)
	err := c.PutKey(ctx, "k", apitype.PutKey{Kind: "password", Fields: map[string]string{"username": "u", "password": "p"}})
	if !errors.Is(err, client.ErrReadOnly) {
		t.Errorf("read-only keystore: err = %v", err)
	}
}

func TestNotRunning(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.sock")
	// A socket file nobody listens on, as a crashed daemon leaves behind.
	ln, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	for _, path := range []string{
		filepath.Join(dir, "missing.sock"),
		filepath.Join(dir, "nodir", "credd.sock"),
		stale,
	} {
		_, err := client.New(path).Status(context.Background())
		if !client.IsNotRunning(err) {
			t.Errorf("%s: err = %v, want not running", path, err)
			continue
		}
		var nr *client.NotRunningError
		if !errors.As(err, &nr) || nr.Socket != path || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: err = %#v", path, err)
		}
		if client.IsNotFound(err) {
			t.Errorf("%s: not-running error also counts as not found", path)
		}
	}
}

// A server that answers with something other than credd's error shape still
// yields an APIError with a readable message.
func TestForeignErrorBody(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/status" {
			http.Error(w, "upstream proxy exploded", http.StatusBadGateway)
			return
		}
		// A 200 with a malformed body that contains a secret.
		w.Write([]byte(`{"secret_access_key":"` + canary + `"` + canary))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c := client.New(sock)
	_, err = c.Status(context.Background())
	ae, ok := client.AsAPIError(err)
	if !ok || ae.Status != 502 || ae.Message != "upstream proxy exploded" {
		t.Errorf("err = %#v", err)
	}
	_, err = c.Credentials(context.Background(), "x")
	if err == nil || strings.Contains(err.Error(), canary) || strings.Contains(fmt.Sprintf("%#v", err), canary) {
		t.Errorf("decode error = %v; must fail without quoting the body", err)
	}
}

// The caller's deadline bounds a request to a daemon that never answers.
func TestDeadline(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { close(release); srv.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = client.New(sock).Credentials(ctx, "x")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want deadline exceeded", err)
	}
	if client.IsNotRunning(err) {
		t.Errorf("a slow daemon is not a missing one: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("request took %v", d)
	}
}

// The client reuses one connection for consecutive requests.
func TestKeepAlive(t *testing.T) {
	s := clienttest.Start(t)
	s.AddProfile(apitype.Profile{}, creds("a"))
	var conns atomic.Int32
	sock := s.Socket
	proxy := filepath.Join(filepath.Dir(sock), "p.sock")
	ln, err := net.Listen("unix", proxy)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			out, err := net.Dial("unix", sock)
			if err != nil {
				in.Close()
				return
			}
			go func() { defer out.Close(); _, _ = copyConn(out, in) }()
			go func() { defer in.Close(); _, _ = copyConn(in, out) }()
		}
	}()
	c := client.New(proxy)
	for range 5 {
		if _, err := c.Credentials(context.Background(), "a"); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("5 requests used %d connections, want 1", n)
	}
}

func copyConn(dst, src net.Conn) (int64, error) {
	buf := make([]byte, 32<<10)
	var n int64
	for {
		k, err := src.Read(buf)
		if k > 0 {
			w, werr := dst.Write(buf[:k])
			n += int64(w)
			if werr != nil {
				return n, werr
			}
		}
		if err != nil {
			return n, err
		}
	}
}

func BenchmarkCredentials(b *testing.B) {
	s := clienttest.Start(b)
	s.AddProfile(apitype.Profile{}, creds("tc-dev"))
	c := client.New(s.Socket)
	defer c.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		cr, err := c.Credentials(ctx, "tc-dev")
		if err != nil {
			b.Fatal(err)
		}
		cr.Zero()
	}
}

// BenchmarkCredentialsColdClient measures what one credctl run pays: a new
// client, a new connection, one request.
func BenchmarkCredentialsColdClient(b *testing.B) {
	s := clienttest.Start(b)
	s.AddProfile(apitype.Profile{}, creds("tc-dev"))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c := client.New(s.Socket)
		if _, err := c.Credentials(ctx, "tc-dev"); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}
