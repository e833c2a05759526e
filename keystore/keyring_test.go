package keystore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/zalando/go-keyring"
)

// memKeyring is an in-memory KeyringClient that records every value it was
// given. hang, when set, blocks every call until it is closed.
type memKeyring struct {
	mu    sync.Mutex
	items map[string]string
	hang  chan struct{}
	calls int
}

func newMemKeyring() *memKeyring { return &memKeyring{items: map[string]string{}} }

func (m *memKeyring) wait() {
	m.mu.Lock()
	m.calls++
	h := m.hang
	m.mu.Unlock()
	if h != nil {
		<-h
	}
}

func (m *memKeyring) Get(service, account string) (string, error) {
	m.wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.items[service+"/"+account]
	if !ok {
		return "", keyring.ErrNotFound
	}
	return v, nil
}

func (m *memKeyring) Set(service, account, value string) error {
	m.wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.items[service+"/"+account] = value
	return nil
}

func (m *memKeyring) Delete(service, account string) error {
	m.wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.items[service+"/"+account]; !ok {
		return keyring.ErrNotFound
	}
	delete(m.items, service+"/"+account)
	return nil
}

// exerciseStore runs the round trip every writable backend must pass.
func exerciseStore(t *testing.T, s Store) {
	t.Helper()
	ctx := context.Background()
	if l, err := s.List(ctx); err != nil || len(l) != 0 {
		t.Fatalf("List on empty = %v, %v", l, err)
	}
	if _, err := s.Get(ctx, "tc-main"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get on empty = %v", err)
	}
	e := tencentEntry("tc-main", canary)
	if err := s.Set(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, tencentEntry("b-other", "x")); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "tc-main")
	if err != nil {
		t.Fatal(err)
	}
	assertEntry(t, got, e)
	assertNoCanary(t, formatted(got)...)
	l, err := s.List(ctx)
	if err != nil || len(l) != 2 || l[0] != (Info{"b-other", "tencent"}) || l[1] != (Info{"tc-main", "tencent"}) {
		t.Fatalf("List = %v, %v", l, err)
	}
	if err := s.Set(ctx, e); err != nil { // replacing keeps one index entry
		t.Fatal(err)
	}
	if l, _ := s.List(ctx); len(l) != 2 {
		t.Fatalf("List after replace = %v", l)
	}
	if err := s.Delete(ctx, "tc-main"); err != nil {
		t.Fatal(err)
	}
	_, err = s.Get(ctx, "tc-main")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `"tc-main"`) {
		t.Fatalf("Get after Delete = %v", err)
	}
	if err := s.Delete(ctx, "tc-main"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Delete = %v", err)
	}
	if l, err := s.List(ctx); err != nil || len(l) != 1 || l[0].Name != "b-other" {
		t.Fatalf("List after Delete = %v, %v", l, err)
	}
	if err := s.Delete(ctx, "b-other"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{".index", "../x", ""} {
		if _, err := s.Get(ctx, name); err == nil || !strings.Contains(err.Error(), "invalid key name") {
			t.Errorf("Get(%q) = %v", name, err)
		}
	}
}

func TestKeyringRoundTripFake(t *testing.T) {
	m := newMemKeyring()
	s := NewKeyring(m, time.Second)
	exerciseStore(t, s)
	// SPEC §3 layout: service credd, account = name, value = {kind, fields}.
	if err := s.Set(context.Background(), tencentEntry("tc-main", "sk")); err != nil {
		t.Fatal(err)
	}
	want := `{"kind":"tencent","fields":{"secret_id":"AKIDexample","secret_key":"sk"}}`
	if got := m.items["credd/tc-main"]; got != want {
		t.Fatalf("stored value = %s, want %s", got, want)
	}
	if got := m.items["credd/.index"]; got != `[{"name":"tc-main","kind":"tencent"}]` {
		t.Fatalf("index = %s", got)
	}
}

func TestKeyringDeleteHealsIndex(t *testing.T) {
	ctx := context.Background()
	m := newMemKeyring()
	s := NewKeyring(m, time.Second)
	if err := s.Set(ctx, tencentEntry("k", "sk")); err != nil {
		t.Fatal(err)
	}
	delete(m.items, "credd/k") // removed behind credd's back
	if err := s.Delete(ctx, "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Delete = %v", err)
	}
	if l, _ := s.List(ctx); len(l) != 0 {
		t.Fatalf("index still lists %v", l)
	}
}

func TestKeyringCorruptIndex(t *testing.T) {
	m := newMemKeyring()
	m.items["credd/.index"] = "not json"
	_, err := NewKeyring(m, time.Second).List(context.Background())
	if err == nil || !strings.Contains(err.Error(), "secret-tool clear service credd username .index") {
		t.Fatalf("List with corrupt index = %v", err)
	}
}

func TestKeyringTimeoutHangingClient(t *testing.T) {
	m := newMemKeyring()
	m.hang = make(chan struct{})
	defer close(m.hang)
	const timeout = 100 * time.Millisecond
	s := NewKeyring(m, timeout)
	ctx := context.Background()

	start := time.Now()
	_, err := s.Get(ctx, "tc-main")
	if took := time.Since(start); took > timeout+time.Second {
		t.Fatalf("Get took %v with a %v timeout", took, timeout)
	}
	if !errors.Is(err, ErrKeyringTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get = %v, want a timeout", err)
	}
	for _, w := range []string{`keyring get "tc-main"`, "100ms", "gnome-keyring-daemon --unlock", `keystore = "file"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("timeout error %q lacks %q", err, w)
		}
	}

	err = s.Set(ctx, tencentEntry("tc-main", canary))
	if !errors.Is(err, ErrKeyringTimeout) {
		t.Fatalf("Set = %v", err)
	}
	assertNoCanary(t, err.Error())

	// The hung calls hold their slots; once all are taken, calls fail after
	// the timeout without starting another goroutine.
	for range maxHungCalls {
		_, _ = s.List(ctx)
	}
	m.mu.Lock()
	before := m.calls
	m.mu.Unlock()
	_, err = s.Get(ctx, "x")
	if !errors.Is(err, ErrKeyringTimeout) || !strings.Contains(err.Error(), "still waiting") {
		t.Fatalf("Get with every slot hung = %v", err)
	}
	m.mu.Lock()
	after := m.calls
	m.mu.Unlock()
	if after != before {
		t.Fatalf("a call was started with every slot hung (%d -> %d calls)", before, after)
	}
}

func TestKeyringRecoversAfterHang(t *testing.T) {
	m := newMemKeyring()
	m.hang = make(chan struct{})
	s := NewKeyring(m, 50*time.Millisecond)
	if _, err := s.Get(context.Background(), "k"); !errors.Is(err, ErrKeyringTimeout) {
		t.Fatalf("Get = %v", err)
	}
	m.mu.Lock()
	close(m.hang)
	m.hang = nil
	m.mu.Unlock()
	exerciseStore(t, s)
}

func TestKeyringCallerCancel(t *testing.T) {
	m := newMemKeyring()
	m.hang = make(chan struct{})
	defer close(m.hang)
	s := NewKeyring(m, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := s.Get(ctx, "k")
	if !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second {
		t.Fatalf("Get = %v after %v", err, time.Since(start))
	}
}

// errClient fails every call with err.
type errClient struct{ err error }

func (c errClient) Get(string, string) (string, error) { return "", c.err }
func (c errClient) Set(string, string, string) error   { return c.err }
func (c errClient) Delete(string, string) error        { return c.err }

func TestKeyringErrorClassification(t *testing.T) {
	cases := []struct {
		err  error
		want error
	}{
		{keyring.ErrNotFound, ErrNotFound},
		{dbus.Error{Name: "org.freedesktop.DBus.Error.ServiceUnknown", Body: []any{"The name org.freedesktop.secrets was not provided by any .service files"}}, ErrKeyringUnavailable},
		{&dbus.Error{Name: "org.freedesktop.DBus.Error.NameHasNoOwner"}, ErrKeyringUnavailable},
		{errNoSessionBus, ErrKeyringUnavailable},
		{errors.New("dbus: couldn't determine address of session bus"), ErrKeyringUnavailable},
		{&net.OpError{Op: "dial", Net: "unix", Err: errors.New("connect: connection refused")}, ErrKeyringUnavailable},
		{dbus.Error{Name: "org.freedesktop.Secret.Error.IsLocked"}, ErrKeyringLocked},
		{fmt.Errorf("failed to unlock correct collection '%v'", "/org/freedesktop/secrets/aliases/default"), ErrKeyringLocked},
	}
	for _, c := range cases {
		_, err := NewKeyring(errClient{c.err}, time.Second).Get(context.Background(), "k")
		if !errors.Is(err, c.want) {
			t.Errorf("%v classified as %v, want %v", c.err, err, c.want)
		}
		if !strings.HasPrefix(errText(err), `keyring get "k"`) {
			t.Errorf("error lacks op and name: %v", err)
		}
	}
	other := errors.New("something else")
	if _, err := NewKeyring(errClient{other}, time.Second).Get(context.Background(), "k"); !errors.Is(err, other) ||
		errors.Is(err, ErrKeyringUnavailable) || errors.Is(err, ErrKeyringLocked) {
		t.Errorf("unknown error = %v", err)
	}
	if !strings.Contains(ErrKeyringUnavailable.Error(), `set keystore = "file" in [daemon]`) ||
		!strings.Contains(ErrKeyringLocked.Error(), "gnome-keyring-daemon --unlock") {
		t.Error("sentinel errors lost their fixes")
	}
}

func TestKeyringStoredGarbage(t *testing.T) {
	m := newMemKeyring()
	m.items["credd/k"] = `{"kind":"tencent","fields":{"secret_key":"` + canary + `"` // truncated
	_, err := NewKeyring(m, time.Second).Get(context.Background(), "k")
	if err == nil || !strings.Contains(err.Error(), "credctl key set") {
		t.Fatalf("Get of garbage = %v", err)
	}
	assertNoCanary(t, err.Error())
}
