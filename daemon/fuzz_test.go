package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/credd-dev/credd/apitype"
	"github.com/credd-dev/credd/config"
	"github.com/credd-dev/credd/keystore"
	"github.com/credd-dev/credd/keystore/keystoretest"
	"github.com/credd-dev/credd/providers"
	"github.com/credd-dev/credd/refresh"
	"github.com/credd-dev/credd/safesocket"
)

// FuzzHandler sends arbitrary requests, as the daemon's own uid, through the
// socket API: whatever arrives, the answer is a known status with the one
// error shape, and nothing panics.
func FuzzHandler(f *testing.F) {
	for _, seed := range []struct{ method, path, body string }{
		{"GET", "/v1/status", ""},
		{"GET", "/v1/profiles/a/credentials", ""},
		{"PUT", "/v1/keys/k", `{"kind":"tencent","fields":{"secret_id":"x","secret_key":"y"}}`},
		{"PUT", "/v1/keys/k", `{"kind":"tencent","fields":{"secret_id":null}}`},
		{"PUT", "/v1/keys/..", `{"kind":1}`},
		{"DELETE", "/v1/keys/%2e%2e", ""},
		{"POST", "/v1/reload", "x"},
		{"POST", "/v1/profiles/a/refresh", ""},
	} {
		f.Add(seed.method, seed.path, seed.body)
	}
	dir := f.TempDir()
	cfg := filepath.Join(dir, "credd.toml")
	os.WriteFile(cfg, []byte(profileTOML("a", "")), 0o600)
	var calls atomic.Int64
	d, err := New(Options{
		ConfigPath: cfg,
		Logger:     slog.New(slog.DiscardHandler),
		NewSource: func(p *config.Profile, _ providers.Deps) (refresh.Source, error) {
			return &countingSource{name: p.Name, calls: &calls}, nil
		},
		OpenKeystore: func(config.Daemon) (keystore.Store, error) { return keystoretest.New(), nil },
		Notify:       func(string) {},
	})
	if err != nil {
		f.Fatal(err)
	}
	h := d.handler()
	self := &safesocket.Peer{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
	known := map[int]bool{200: true, 204: true, 400: true, 403: true, 404: true, 405: true, 409: true, 503: true}
	f.Fuzz(func(t *testing.T, method, path, body string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(method+path, " \r\n\t") || method == "" {
			return
		}
		req, err := http.NewRequest(method, "http://credd"+path, bytes.NewReader([]byte(body)))
		if err != nil {
			return
		}
		req = req.WithContext(context.WithValue(req.Context(), peerKey{}, self))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if !known[rec.Code] {
			t.Fatalf("%s %s: status %d", method, path, rec.Code)
		}
		if rec.Code >= 400 {
			var e apitype.ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" {
				t.Fatalf("%s %s: %d with a body not in the error shape: %q", method, path, rec.Code, rec.Body)
			}
		}
	})
}
