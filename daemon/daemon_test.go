package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/credd-dev/credd/apitype"
	"github.com/credd-dev/credd/config"
	"github.com/credd-dev/credd/keystore"
	"github.com/credd-dev/credd/keystore/keystoretest"
	"github.com/credd-dev/credd/providers"
	"github.com/credd-dev/credd/refresh"
	"github.com/credd-dev/credd/safesocket"
	"github.com/credd-dev/credd/secret"
)

const canaryToken = "CANARY-TOKEN-5b2e"

// countingSource issues credentials and counts upstream calls per profile.
type countingSource struct {
	name  string
	calls *atomic.Int64
	delay time.Duration
	keys  providers.Keys
	key   string
}

func (s *countingSource) Fetch(ctx context.Context) (providers.Credential, error) {
	n := s.calls.Add(1)
	if s.key != "" {
		if _, err := s.keys.Get(ctx, s.key); err != nil {
			return providers.Credential{}, &providers.Error{Provider: "fake", Class: providers.MissingKey, Message: err.Error(), Err: err}
		}
	}
	if s.delay > 0 {
		time.Sleep(s.delay)
	}
	return providers.Credential{
		AccessKeyID:  fmt.Sprintf("AKID-%s-%d", s.name, n),
		Secret:       secret.New("SK-" + canaryToken),
		SessionToken: secret.New(canaryToken),
		Expiration:   time.Now().Add(time.Hour),
	}, nil
}

type harness struct {
	d      *Daemon
	dir    string
	cfg    string
	sock   string
	client *http.Client
	calls  map[string]*atomic.Int64
	mu     sync.Mutex
	notes  []string
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

const policy = `{"version":"2.0","statement":[{"effect":"allow","action":["cos:GetObject"],"resource":["*"]}]}`

func profileTOML(name, extra string) string {
	return fmt.Sprintf("[profiles.%s]\nprovider = \"tencent\"\nkey = \"k\"\npolicy = '%s'\n%s\n", name, policy, extra)
}

func start(t *testing.T, body string, delay time.Duration) *harness {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "credd.toml")
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return startPath(t, cfg, delay)
}

func startPath(t *testing.T, cfg string, delay time.Duration) *harness {
	t.Helper()
	h := &harness{dir: t.TempDir(), cfg: cfg, calls: map[string]*atomic.Int64{}, logs: &syncBuffer{}}
	h.sock = filepath.Join(h.dir, "run", "credd.sock")
	store := keystoretest.New(keystore.Entry{Name: "k", Kind: "tencent"})
	d, err := New(Options{
		ConfigPath: h.cfg,
		SocketPath: h.sock,
		Version:    "test",
		Logger:     slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		NewSource: func(p *config.Profile, deps providers.Deps) (refresh.Source, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			c := h.calls[p.Name]
			if c == nil {
				c = new(atomic.Int64)
				h.calls[p.Name] = c
			}
			return &countingSource{name: p.Name, calls: c, delay: delay, keys: deps.Keys, key: p.Key}, nil
		},
		OpenKeystore: func(config.Daemon) (keystore.Store, error) { return store, nil },
		Notify: func(s string) {
			h.mu.Lock()
			h.notes = append(h.notes, s)
			h.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.d = d
	ln, err := safesocket.Listen(h.sock, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- d.Run(ctx, ln) }()
	h.client = &http.Client{Transport: &http.Transport{
		DialContext:         func(ctx context.Context, _, _ string) (net.Conn, error) { return safesocket.Dial(ctx, h.sock) },
		MaxIdleConnsPerHost: 200,
	}}
	// READY=1 comes once the watcher runs and the socket is served.
	waitFor(t, "READY=1", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.notes) > 0 && strings.HasPrefix(h.notes[0], "READY=1")
	})
	t.Cleanup(func() {
		cancel()
		if err := <-h.done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if strings.Contains(h.logs.String(), canaryToken) {
			t.Errorf("a secret reached the log:\n%s", h.logs.String())
		}
	})
	return h
}

func (h *harness) calls0(name string) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c := h.calls[name]; c != nil {
		return c.Load()
	}
	return 0
}

func (h *harness) do(t *testing.T, method, path string, body io.Reader, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, "http://credd"+path, body)
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %q", method, path, err, b)
		}
	}
	return resp.StatusCode
}

func TestCredentialsAndErrors(t *testing.T) {
	h := start(t, profileTOML("a", "")+profileTOML("b", ""), 0)
	var c apitype.Credentials
	if code := h.do(t, "GET", "/v1/profiles/a/credentials", nil, &c); code != 200 {
		t.Fatalf("status %d", code)
	}
	if c.SessionToken != canaryToken || c.AccessKeyID != "AKID-a-1" || c.Profile != "a" {
		t.Fatalf("credentials %+v", c)
	}
	var e apitype.ErrorBody
	if code := h.do(t, "GET", "/v1/profiles/nope/credentials", nil, &e); code != 404 || e.Error.Code != apitype.CodeNotFound ||
		strings.Join(e.Error.Known, ",") != "a,b" {
		t.Fatalf("unknown profile: %d %+v", code, e)
	}
	if code := h.do(t, "GET", "/v1/bogus", nil, &e); code != 404 {
		t.Fatalf("bogus path: %d", code)
	}
	if code := h.do(t, "PUT", "/v1/keys/x", strings.NewReader(`{"kind":`), &e); code != 400 || e.Error.Code != apitype.CodeBadRequest {
		t.Fatalf("bad body: %d %+v", code, e)
	}
	big := strings.NewReader(`{"kind":"tencent","fields":{"secret_id":"` + strings.Repeat("A", 100<<10) + `"}}`)
	if code := h.do(t, "PUT", "/v1/keys/x", big, &e); code != 400 {
		t.Fatalf("oversized body: %d", code)
	}
	var ps apitype.Profiles
	h.do(t, "GET", "/v1/profiles", nil, &ps)
	if len(ps.Profiles) != 2 || ps.Profiles[0].State != apitype.StateFresh || ps.Profiles[1].State != apitype.StateIdle {
		t.Fatalf("profiles %+v", ps)
	}
	raw, _ := json.Marshal(ps)
	if strings.Contains(string(raw), canaryToken) {
		t.Fatal("profiles output carries a secret")
	}
}

func TestMissingKeyIs503WithHint(t *testing.T) {
	h := start(t, strings.Replace(profileTOML("a", ""), `key = "k"`, `key = "absent"`, 1), 0)
	var e apitype.ErrorBody
	if code := h.do(t, "GET", "/v1/profiles/a/credentials", nil, &e); code != 503 {
		t.Fatalf("status %d", code)
	}
	if !strings.Contains(e.Error.Message, `fetch profile "a"`) || !strings.Contains(e.Error.Hint, "credctl key set") {
		t.Fatalf("error %+v", e.Error)
	}
}

func TestConcurrentColdRequests(t *testing.T) {
	h := start(t, profileTOML("a", ""), 50*time.Millisecond)
	var wg sync.WaitGroup
	var bad atomic.Int64
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var c apitype.Credentials
			if code := h.do(t, "GET", "/v1/profiles/a/credentials", nil, &c); code != 200 || c.SessionToken != canaryToken {
				bad.Add(1)
			}
		}()
	}
	wg.Wait()
	if bad.Load() != 0 || h.calls0("a") != 1 {
		t.Fatalf("failed %d, upstream calls %d (want 1)", bad.Load(), h.calls0("a"))
	}
}

func TestReload(t *testing.T) {
	h := start(t, profileTOML("a", "")+profileTOML("b", ""), 0)
	for _, p := range []string{"a", "b"} {
		h.do(t, "GET", "/v1/profiles/"+p+"/credentials", nil, nil)
	}
	// a unchanged, b changed, c new.
	body := profileTOML("a", "") + profileTOML("b", "duration = 900") + profileTOML("c", "")
	os.WriteFile(h.cfg, []byte(body), 0o600)
	var rl apitype.Reload
	if code := h.do(t, "POST", "/v1/reload", nil, &rl); code != 200 || !rl.Changed || rl.Generation != 2 {
		t.Fatalf("reload %d %+v", code, rl)
	}
	var c apitype.Credentials
	h.do(t, "GET", "/v1/profiles/a/credentials", nil, &c)
	if c.AccessKeyID != "AKID-a-1" || h.calls0("a") != 1 {
		t.Fatalf("unchanged profile refetched: %s, %d calls", c.AccessKeyID, h.calls0("a"))
	}
	h.do(t, "GET", "/v1/profiles/b/credentials", nil, &c)
	if c.AccessKeyID != "AKID-b-2" {
		t.Fatalf("changed profile kept old credential: %s", c.AccessKeyID)
	}
	// A bad config is rejected whole; the old one keeps serving.
	os.WriteFile(h.cfg, []byte(body+"\n[profiles.d]\nprovider = \"tencent\"\nduration = \"99h\"\n"), 0o600)
	var e apitype.ErrorBody
	if code := h.do(t, "POST", "/v1/reload", nil, &e); code != 400 || !strings.Contains(e.Error.Message, "credd.toml:") {
		t.Fatalf("bad reload: %d %+v", code, e)
	}
	var st apitype.Status
	h.do(t, "GET", "/v1/status", nil, &st)
	if st.Generation != 2 || !strings.Contains(st.LastReloadError, "duration") || st.ProfileCount != 3 {
		t.Fatalf("status %+v", st)
	}
	if code := h.do(t, "GET", "/v1/profiles/c/credentials", nil, &c); code != 200 {
		t.Fatalf("old config stopped serving: %d", code)
	}
	h.mu.Lock()
	notes := strings.Join(h.notes, "|")
	h.mu.Unlock()
	if !strings.Contains(notes, "READY=1") || !strings.Contains(notes, "RELOADING=1\nMONOTONIC_USEC=") || !strings.Contains(notes, "last reload failed") {
		t.Fatalf("sd_notify messages: %q", notes)
	}
	// Removing a profile drops it.
	os.WriteFile(h.cfg, []byte(profileTOML("a", "")), 0o600)
	if code := h.do(t, "POST", "/v1/reload", nil, &e); code != 200 {
		t.Fatalf("reload: %d %+v", code, e)
	}
	if code := h.do(t, "GET", "/v1/profiles/b/credentials", nil, &e); code != 404 {
		t.Fatalf("removed profile still served: %d", code)
	}
	var st2 apitype.Status
	h.do(t, "GET", "/v1/status", nil, &st2)
	if st2.LastReloadError != "" {
		t.Fatalf("reload error not cleared: %q", st.LastReloadError)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *harness) generation(t *testing.T) int64 {
	var st apitype.Status
	h.do(t, "GET", "/v1/status", nil, &st)
	return st.Generation
}

func TestWatchRenameSave(t *testing.T) {
	h := start(t, profileTOML("a", ""), 0)
	tmp := h.cfg + ".swp"
	os.WriteFile(tmp, []byte(profileTOML("a", "")+profileTOML("b", "")), 0o600)
	if err := os.Rename(tmp, h.cfg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "reload after rename-save", func() bool { return h.generation(t) == 2 })
	// Touching without changing content does not reload.
	os.WriteFile(h.cfg, []byte(profileTOML("a", "")+profileTOML("b", "")), 0o600)
	time.Sleep(3 * debounce)
	if g := h.generation(t); g != 2 {
		t.Fatalf("no-op write reloaded: generation %d", g)
	}
}

func TestWatchSymlinkSwap(t *testing.T) {
	// Kubernetes ConfigMap layout: credd.toml -> ..data/credd.toml and
	// ..data -> ..v1; an update swaps the ..data link with a rename.
	dir := t.TempDir()
	mk := func(v, body string) {
		os.MkdirAll(filepath.Join(dir, v), 0o755)
		os.WriteFile(filepath.Join(dir, v, "credd.toml"), []byte(body), 0o600)
	}
	mk("..v1", profileTOML("a", ""))
	os.Symlink("..v1", filepath.Join(dir, "..data"))
	os.Symlink("..data/credd.toml", filepath.Join(dir, "credd.toml"))
	h := startPath(t, filepath.Join(dir, "credd.toml"), 0)
	h.do(t, "GET", "/v1/profiles/a/credentials", nil, nil)

	mk("..v2", profileTOML("a", "")+profileTOML("z", ""))
	os.Symlink("..v2", filepath.Join(dir, "..data_tmp"))
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "reload after ..data swap", func() bool { return h.generation(t) == 2 })
	var ps apitype.Profiles
	h.do(t, "GET", "/v1/profiles", nil, &ps)
	if len(ps.Profiles) != 2 || h.calls0("a") != 1 {
		t.Fatalf("profiles %+v, calls to a %d", ps, h.calls0("a"))
	}
}

func TestSighupStyleReloadOfDropIn(t *testing.T) {
	h := start(t, profileTOML("a", ""), 0)
	dropins := filepath.Join(filepath.Dir(h.cfg), "credd.d")
	os.Mkdir(dropins, 0o755)
	// The drop-in directory appeared after start: the watcher adds it.
	os.WriteFile(filepath.Join(dropins, "10-b.toml"), []byte(profileTOML("b", "")), 0o600)
	waitFor(t, "drop-in reload", func() bool { return h.generation(t) >= 2 })
	os.WriteFile(filepath.Join(dropins, "20-c.toml"), []byte(profileTOML("c", "")), 0o600)
	waitFor(t, "second drop-in reload", func() bool {
		var st apitype.Status
		h.do(t, "GET", "/v1/status", nil, &st)
		return st.ProfileCount == 3
	})
}

func TestMayRead(t *testing.T) {
	d := &Daemon{uid: 1000}
	pc := &config.Profile{Name: "p", AllowUIDs: []uint32{2000}, AllowGIDs: []uint32{3000}, AllowUnits: []string{"backup.service"}}
	for _, tt := range []struct {
		peer *safesocket.Peer
		want bool
	}{
		{&safesocket.Peer{UID: 1000, GID: 1000}, true},
		{&safesocket.Peer{UID: 0, GID: 0}, true},
		{&safesocket.Peer{UID: 2000, GID: 2000}, true},
		{&safesocket.Peer{UID: 4000, GID: 3000}, true},
		{&safesocket.Peer{UID: 4000, GID: 4000}, false},
		{nil, false},
	} {
		if got, rule := d.mayRead(tt.peer, pc); got != tt.want {
			t.Errorf("peer %v: %v (%s), want %v", tt.peer, got, rule, tt.want)
		}
	}
}

func TestWatchConfigDirCreatedLater(t *testing.T) {
	base := t.TempDir()
	cfg := filepath.Join(base, "xdg", "credd", "credd.toml") // neither dir exists yet
	h := startPath(t, cfg, 0)
	if g := h.generation(t); g != 1 {
		t.Fatalf("generation %d", g)
	}
	if err := os.MkdirAll(filepath.Dir(cfg), 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(cfg, []byte(profileTOML("a", "")), 0o600)
	waitFor(t, "reload of a config whose directory appeared after start", func() bool {
		var st apitype.Status
		h.do(t, "GET", "/v1/status", nil, &st)
		return st.ProfileCount == 1
	})
}

func TestPolicyFileEditIsAReload(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policies", "cos.json")
	os.MkdirAll(filepath.Dir(pol), 0o700)
	os.WriteFile(pol, []byte(policy), 0o600)
	cfg := filepath.Join(dir, "credd.toml")
	os.WriteFile(cfg, []byte("[profiles.a]\nprovider = \"tencent\"\nkey = \"k\"\npolicy_file = \"policies/cos.json\"\n"), 0o600)
	h := startPath(t, cfg, 0)
	h.do(t, "GET", "/v1/profiles/a/credentials", nil, nil)

	// The watcher follows the policy file's directory: no reload command.
	os.WriteFile(pol, []byte(strings.Replace(policy, "GetObject", "PutObject", 1)), 0o600)
	waitFor(t, "reload after a policy edit", func() bool { return h.generation(t) == 2 })
	h.d.mu.RLock()
	got := h.d.profiles["a"].cfg.Policy
	h.d.mu.RUnlock()
	if !strings.Contains(got, "PutObject") {
		t.Fatalf("profile kept the old policy: %s", got)
	}
	// The changed profile is refetched under the new policy.
	var c apitype.Credentials
	h.do(t, "GET", "/v1/profiles/a/credentials", nil, &c)
	if c.AccessKeyID != "AKID-a-2" {
		t.Fatalf("credential after a policy change: %s, want a new one", c.AccessKeyID)
	}
}

// readOnlyStore is a keystore that cannot be written, like systemd's.
type readOnlyStore struct{ *keystoretest.MemStore }

func (readOnlyStore) ReadOnly() bool { return true }

func TestKeyHintFollowsProfileAndKeystore(t *testing.T) {
	d := &Daemon{store: keystoretest.New()}
	for _, tt := range []struct {
		pc   config.Profile
		want string
	}{
		{config.Profile{Provider: "tencent", Key: "tc"}, "credctl key set tc --kind tencent"},
		{config.Profile{Provider: "huawei", Method: config.MethodAssumeRole, Key: "ak"}, "credctl key set ak --kind huawei-aksk"},
		{config.Profile{Provider: "huawei", Method: config.MethodFederation, Key: "idp"}, "credctl key set idp --kind password"},
	} {
		if got := d.keyHint(&tt.pc); !strings.Contains(got, tt.want) {
			t.Errorf("%+v: hint %q, want %q", tt.pc, got, tt.want)
		}
	}
	d.store = readOnlyStore{keystoretest.New()}
	if got := d.keyHint(&config.Profile{Provider: "tencent", Key: "tc"}); !strings.Contains(got, "systemd-creds encrypt --name=tc") || strings.Contains(got, "credctl key set") {
		t.Errorf("read-only keystore hint %q", got)
	}
}
