// Package clienttest is a small stand-in for credd's socket API, served on a
// real Unix socket, for tests and benchmarks of the client and credctl. It
// answers with the same wire shapes and status codes as the daemon, from
// state the test sets, and records what was asked of it.
package clienttest

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/credd-dev/credd/apitype"
)

// Server is a fake daemon. Change its state with the methods below, at any
// time; they are safe for concurrent use with requests.
type Server struct {
	// Socket is the path the server listens on.
	Socket string

	srv *http.Server
	ln  net.Listener

	mu       sync.Mutex // guards everything below
	status   apitype.Status
	profiles map[string]*profile
	keys     map[string]apitype.PutKey
	readOnly bool
	denied   map[string]bool // "credentials:NAME", "keys", "reload"
	reloadOK bool
	reloads  int
	requests []string
}

type profile struct {
	info  apitype.Profile
	creds apitype.Credentials
	fail  *apiErr
}

type apiErr struct {
	status int
	detail apitype.ErrorDetail
}

// New serves a fake daemon on socketPath until Close.
func New(socketPath string) (*Server, error) {
	ln, err := net.Listen("unix", socketPath)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", socketPath, err)
	}
	s := &Server{
		Socket:   socketPath,
		ln:       ln,
		profiles: map[string]*profile{},
		keys:     map[string]apitype.PutKey{},
		denied:   map[string]bool{},
		reloadOK: true,
		status: apitype.Status{
			Version: "credd test", PID: os.Getpid(), StartedAt: time.Now(),
			ConfigPath: "/etc/credd/credd.toml", Generation: 1, LoadedAt: time.Now(),
			Keystore: "keyring", Socket: socketPath,
		},
	}
	s.srv = &http.Server{Handler: s.handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Start serves a fake daemon on a socket in a temporary directory and stops
// it when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	dir := tb.TempDir()
	// A Unix socket path must fit in 108 bytes; long test names can make
	// TempDir paths longer than that.
	if len(dir) > 80 {
		d, err := os.MkdirTemp("", "cc")
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { os.RemoveAll(d) })
		dir = d
	}
	s, err := New(filepath.Join(dir, "credd.sock"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Close stops serving and closes the listener.
func (s *Server) Close() { _ = s.srv.Close() }

// AddProfile adds or replaces a profile that serves creds. Fields of info
// left empty are filled from creds.
func (s *Server) AddProfile(info apitype.Profile, creds apitype.Credentials) {
	if info.Name == "" {
		info.Name = creds.Profile
	}
	if info.Provider == "" {
		info.Provider = creds.Provider
	}
	if creds.Profile == "" {
		creds.Profile = info.Name
	}
	if info.State == "" {
		info.State = apitype.StateFresh
	}
	if info.ExpiresAt.IsZero() {
		info.ExpiresAt = creds.Expiration
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.profiles[info.Name] = &profile{info: info, creds: creds}
	s.status.ProfileCount = len(s.profiles)
}

// FailProfile makes the credentials and refresh of profile name answer
// status with detail, as the daemon does when a fetch fails.
func (s *Server) FailProfile(name string, status int, detail apitype.ErrorDetail) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.profiles[name]
	if p == nil {
		p = &profile{info: apitype.Profile{Name: name, State: apitype.StateError}}
		s.profiles[name] = p
	}
	p.fail = &apiErr{status: status, detail: detail}
}

// Deny makes the server answer 403 to op: "credentials:NAME", "keys" or
// "reload".
func (s *Server) Deny(op string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[op] = true
}

// SetReadOnly makes key changes answer 409, as a systemd keystore does.
func (s *Server) SetReadOnly(ro bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readOnly = ro
}

// FailReload makes POST /v1/reload answer 400 reload_failed.
func (s *Server) FailReload() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reloadOK = false
}

// Key returns the stored key name and whether there is one.
func (s *Server) Key(name string) (apitype.PutKey, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[name]
	return k, ok
}

// Reloads reports how many successful reloads were asked for.
func (s *Server) Reloads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reloads
}

// Requests returns "METHOD PATH" of every request so far.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	v := apitype.APIVersion
	mux.HandleFunc("GET "+v+"/status", s.getStatus)
	mux.HandleFunc("GET "+v+"/profiles", s.getProfiles)
	mux.HandleFunc("GET "+v+"/profiles/{name}/credentials", s.getCredentials)
	mux.HandleFunc("POST "+v+"/profiles/{name}/refresh", s.postRefresh)
	mux.HandleFunc("POST "+v+"/reload", s.postReload)
	mux.HandleFunc("GET "+v+"/keys", s.getKeys)
	mux.HandleFunc("PUT "+v+"/keys/{name}", s.putKey)
	mux.HandleFunc("DELETE "+v+"/keys/{name}", s.deleteKey)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, http.StatusNotFound, apitype.ErrorDetail{Code: apitype.CodeNotFound, Message: "no such endpoint: " + r.Method + " " + r.URL.Path})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, r.Method+" "+r.URL.Path)
		s.mu.Unlock()
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeErr(w http.ResponseWriter, status int, d apitype.ErrorDetail) {
	writeJSON(w, status, apitype.ErrorBody{Error: d})
}

func (s *Server) getStatus(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	st := s.status
	s.mu.Unlock()
	st.UptimeSeconds = time.Since(st.StartedAt).Seconds()
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) getProfiles(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	out := apitype.Profiles{Profiles: []apitype.Profile{}}
	for _, name := range slices.Sorted(maps.Keys(s.profiles)) {
		out.Profiles = append(out.Profiles, s.profiles[name].info)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// lookup finds profile name for op, or writes the daemon's 404 or 403.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request, op string) (*profile, bool) {
	name := r.PathValue("name")
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.profiles[name]
	if p == nil {
		writeErr(w, http.StatusNotFound, apitype.ErrorDetail{
			Code: apitype.CodeNotFound, Message: fmt.Sprintf("unknown profile %q", name),
			Known: slices.Sorted(maps.Keys(s.profiles)),
		})
		return nil, false
	}
	if s.denied[op+":"+name] {
		writeErr(w, http.StatusForbidden, apitype.ErrorDetail{
			Code: apitype.CodeDenied, Message: op + " access denied",
			Hint: fmt.Sprintf("add your uid to allow_uids of profile %q", name),
		})
		return nil, false
	}
	if p.fail != nil {
		writeErr(w, p.fail.status, p.fail.detail)
		return nil, false
	}
	return p, true
}

func (s *Server) getCredentials(w http.ResponseWriter, r *http.Request) {
	p, ok := s.lookup(w, r, "credentials")
	if !ok {
		return
	}
	s.mu.Lock()
	c := p.creds
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) postRefresh(w http.ResponseWriter, r *http.Request) {
	p, ok := s.lookup(w, r, "refresh")
	if !ok {
		return
	}
	s.mu.Lock()
	p.info.UpstreamCalls++
	p.info.LastRefreshAt = time.Now()
	info := p.info
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, info)
}

// privileged writes a 403 when op was denied with Deny.
func (s *Server) privileged(w http.ResponseWriter, op string) bool {
	s.mu.Lock()
	denied := s.denied[op]
	s.mu.Unlock()
	if denied {
		writeErr(w, http.StatusForbidden, apitype.ErrorDetail{Code: apitype.CodeDenied, Message: op + " access denied"})
		return false
	}
	return true
}

func (s *Server) postReload(w http.ResponseWriter, _ *http.Request) {
	if !s.privileged(w, "reload") {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.reloadOK {
		writeErr(w, http.StatusBadRequest, apitype.ErrorDetail{
			Code:    apitype.CodeReloadFailed,
			Message: "config rejected; the previous config keeps serving:\ncredd.toml:3:1: unknown key \"bogus\"",
		})
		return
	}
	s.reloads++
	s.status.Generation++
	writeJSON(w, http.StatusOK, apitype.Reload{Generation: s.status.Generation, Changed: true})
}

func (s *Server) getKeys(w http.ResponseWriter, _ *http.Request) {
	if !s.privileged(w, "keys") {
		return
	}
	s.mu.Lock()
	out := apitype.Keys{Backend: "keyring", ReadOnly: s.readOnly, Keys: []apitype.Key{}}
	for _, name := range slices.Sorted(maps.Keys(s.keys)) {
		out.Keys = append(out.Keys, apitype.Key{Name: name, Kind: s.keys[name].Kind})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// kinds mirrors keystore.Kinds. Importing keystore would pull the OS keyring
// and D-Bus into every test binary that fakes the daemon.
var kinds = map[string][]string{
	"tencent":     {"secret_id", "secret_key"},
	"huawei-aksk": {"access_key", "secret_key"},
	"password":    {"username", "password"},
}

func (s *Server) putKey(w http.ResponseWriter, r *http.Request) {
	if !s.privileged(w, "keys") {
		return
	}
	var k apitype.PutKey
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&k); err != nil {
		writeErr(w, http.StatusBadRequest, apitype.ErrorDetail{Code: apitype.CodeBadRequest, Message: "decode key: malformed JSON"})
		return
	}
	if err := validate(k); err != nil {
		writeErr(w, http.StatusBadRequest, apitype.ErrorDetail{Code: apitype.CodeBadRequest, Message: err.Error()})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readOnly {
		writeErr(w, http.StatusConflict, apitype.ErrorDetail{Code: apitype.CodeReadOnly, Message: "keystore systemd: read-only"})
		return
	}
	s.keys[r.PathValue("name")] = k
	w.WriteHeader(http.StatusNoContent)
}

func validate(k apitype.PutKey) error {
	want, ok := kinds[k.Kind]
	if !ok {
		return fmt.Errorf("unknown key kind %q", k.Kind)
	}
	if len(k.Fields) != len(want) {
		return errors.New("wrong fields for kind " + k.Kind)
	}
	for _, f := range want {
		if k.Fields[f] == "" {
			return fmt.Errorf("missing field %q", f)
		}
	}
	return nil
}

func (s *Server) deleteKey(w http.ResponseWriter, r *http.Request) {
	if !s.privileged(w, "keys") {
		return
	}
	name := r.PathValue("name")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readOnly {
		writeErr(w, http.StatusConflict, apitype.ErrorDetail{Code: apitype.CodeReadOnly, Message: "keystore systemd: read-only"})
		return
	}
	if _, ok := s.keys[name]; !ok {
		writeErr(w, http.StatusNotFound, apitype.ErrorDetail{
			Code: apitype.CodeNotFound, Message: fmt.Sprintf("key %q: not found", name),
			Known: slices.Sorted(maps.Keys(s.keys)),
		})
		return
	}
	delete(s.keys, name)
	w.WriteHeader(http.StatusNoContent)
}
