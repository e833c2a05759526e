package keystore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/zalando/go-keyring"
)

// Keyring layout (SPEC §3): service "credd", account = entry name, value =
// the entry's JSON. go-keyring cannot enumerate items, so the store keeps an
// index of {name, kind} pairs under an account that no entry name can take.
const (
	keyringService = "credd"
	indexAccount   = ".index"
)

// maxHungCalls bounds the goroutines left behind by keyring calls that never
// return (a hung D-Bus): past it, calls fail at once instead of piling up.
const maxHungCalls = 4

// Errors of the keyring backend, wrapped with the operation and key name so
// that callers can show the fix with errors.Is.
var (
	// ErrKeyringUnavailable means no Secret Service answers on the session bus.
	ErrKeyringUnavailable = errors.New(`no Secret Service: start gnome-keyring-daemon (or another Secret Service) in a D-Bus session, or set keystore = "file" in [daemon]`)
	// ErrKeyringLocked means the keyring collection is locked.
	ErrKeyringLocked = errors.New("the keyring is locked: unlock it, e.g. log in to the desktop or run `gnome-keyring-daemon --unlock`")
	// ErrKeyringTimeout means a keyring call did not return within its timeout.
	ErrKeyringTimeout = errors.New("the keyring did not answer in time")
)

// KeyringClient is the part of go-keyring the keyring backend calls. A
// missing item is reported as keyring.ErrNotFound or keystore.ErrNotFound.
// Calls may block forever; the backend bounds them.
type KeyringClient interface {
	Get(service, account string) (string, error)
	Set(service, account, value string) error
	Delete(service, account string) error
}

// osKeyring is the OS keyring through go-keyring: the Secret Service on
// Linux and BSD, Keychain on macOS.
type osKeyring struct{}

func (osKeyring) Get(service, account string) (string, error) {
	if err := checkSessionBus(); err != nil {
		return "", err
	}
	return keyring.Get(service, account)
}

func (osKeyring) Set(service, account, value string) error {
	if err := checkSessionBus(); err != nil {
		return err
	}
	return keyring.Set(service, account, value)
}

func (osKeyring) Delete(service, account string) error {
	if err := checkSessionBus(); err != nil {
		return err
	}
	return keyring.Delete(service, account)
}

// keyringStore is the keyring backend.
type keyringStore struct {
	client  KeyringClient
	timeout time.Duration
	// slots holds one token per keyring call in flight, released when the
	// call returns, not when the caller gives up on it.
	slots chan struct{}
	// writeLock (a one-token channel, so that waiting honours ctx)
	// serialises Set and Delete, which read-modify-write the index.
	writeLock chan struct{}
}

// NewKeyring returns the keyring backend over client, bounding each call
// by timeout (DefaultTimeout when zero). Tests pass a fake client; Open
// passes the OS keyring.
func NewKeyring(client KeyringClient, timeout time.Duration) Store {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &keyringStore{
		client:    client,
		timeout:   timeout,
		slots:     make(chan struct{}, maxHungCalls),
		writeLock: make(chan struct{}, 1),
	}
}

func (s *keyringStore) Backend() string { return BackendKeyring }

// ReadOnly reports false: the keyring is writable.
func (s *keyringStore) ReadOnly() bool { return false }

// call runs fn in its own goroutine and waits for it at most s.timeout (or
// until ctx ends): go-keyring has no context, and a D-Bus peer that never
// answers, or an unlock prompt nobody sees, blocks it forever.
func (s *keyringStore) call(ctx context.Context, op, name string, fn func() error) error {
	waitFor := fmt.Sprintf("no answer within %v", s.timeout)
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < s.timeout {
		waitFor = "no answer before the request's deadline"
	}
	tctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	select {
	case s.slots <- struct{}{}:
	case <-tctx.Done():
		return s.doneErr(ctx, op, name,
			fmt.Sprintf("%d earlier keyring calls are still waiting for the Secret Service", maxHungCalls))
	}
	done := make(chan error, 1)
	go func() {
		defer func() { <-s.slots }()
		done <- fn()
	}()
	select {
	case err := <-done:
		return classifyKeyringErr(op, name, err)
	case <-tctx.Done():
		return s.doneErr(ctx, op, name, waitFor)
	}
}

// doneErr explains why call stopped waiting: the caller gave up (its error
// as is) or the keyring did not answer (the timeout and what to do).
func (s *keyringStore) doneErr(parent context.Context, op, name, what string) error {
	if err := parent.Err(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("keyring %s %q: %w", op, name, err)
	}
	return &timeoutError{msg: fmt.Sprintf("keyring %s %q: %v (%s): it may be locked and waiting for an unlock prompt "+
		"(unlock it, e.g. log in to the desktop or run `gnome-keyring-daemon --unlock`), or D-Bus is hung; "+
		`or set keystore = "file" in [daemon]`, op, name, ErrKeyringTimeout, what)}
}

// timeoutError is a keyring call that ran out of time. It matches both
// ErrKeyringTimeout and context.DeadlineExceeded.
type timeoutError struct{ msg string }

func (e *timeoutError) Error() string { return e.msg }

func (e *timeoutError) Is(target error) bool {
	return target == ErrKeyringTimeout || target == context.DeadlineExceeded
}

// classifyKeyringErr turns go-keyring and D-Bus failures into errors that
// name the fix. err never carries a secret: go-keyring's errors come from
// D-Bus, Keychain or go-keyring itself, not from the stored value.
func classifyKeyringErr(op, name string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, keyring.ErrNotFound) || errors.Is(err, ErrNotFound) {
		return notFound("keyring "+op, name, "")
	}
	var fix error
	var dbe dbus.Error
	var dbep *dbus.Error
	var dbusName string
	if errors.As(err, &dbe) {
		dbusName = dbe.Name
	} else if errors.As(err, &dbep) {
		dbusName = dbep.Name
	}
	msg := err.Error()
	switch {
	case dbusName == "org.freedesktop.Secret.Error.IsLocked",
		strings.Contains(msg, "failed to unlock correct collection"):
		// go-keyring asks the service to unlock; a dismissed or failed
		// prompt ends up here.
		fix = ErrKeyringLocked
	case dbusName == "org.freedesktop.DBus.Error.ServiceUnknown",
		dbusName == "org.freedesktop.DBus.Error.NameHasNoOwner",
		strings.HasPrefix(dbusName, "org.freedesktop.DBus.Error.Spawn."),
		errors.Is(err, errNoSessionBus),
		errors.Is(err, dbus.ErrClosed),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ENOENT),
		isNetErr(err),
		strings.HasPrefix(msg, "dbus: "):
		fix = ErrKeyringUnavailable
	}
	if fix != nil {
		return fmt.Errorf("keyring %s %q: %v: %w", op, name, err, fix)
	}
	return fmt.Errorf("keyring %s %q: %w", op, name, err)
}

func isNetErr(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne)
}

func (s *keyringStore) lockWrites(ctx context.Context, op, name string) (unlock func(), err error) {
	select {
	case s.writeLock <- struct{}{}:
		return func() { <-s.writeLock }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("keyring %s %q: %w", op, name, ctx.Err())
	}
}

func (s *keyringStore) Get(ctx context.Context, name string) (Entry, error) {
	if err := ValidateName(name); err != nil {
		return Entry{}, fmt.Errorf("get key: %w", err)
	}
	var value string
	err := s.call(ctx, "get", name, func() error {
		v, err := s.client.Get(keyringService, name)
		value = v
		return err
	})
	if err != nil {
		return Entry{}, err
	}
	// The string from go-keyring cannot be wiped; the copy decoded here is.
	data := []byte(value)
	defer clear(data)
	e, err := DecodeEntry(name, data)
	if err != nil {
		return Entry{}, fmt.Errorf("keyring get %q: %w; store it again with `credctl key set`", name, err)
	}
	if err := Validate(e); err != nil {
		e.Zero()
		return Entry{}, fmt.Errorf("keyring get %q: stored entry is invalid: %w; store it again with `credctl key set`", name, err)
	}
	return e, nil
}

func (s *keyringStore) Set(ctx context.Context, e Entry) error {
	if err := Validate(e); err != nil {
		return fmt.Errorf("set key: %w", err)
	}
	unlock, err := s.lockWrites(ctx, "set", e.Name)
	if err != nil {
		return err
	}
	defer unlock()
	data := encodeEntry(e)
	value := string(data)
	clear(data)
	if err := s.call(ctx, "set", e.Name, func() error {
		return s.client.Set(keyringService, e.Name, value)
	}); err != nil {
		return err
	}
	if err := s.updateIndex(ctx, func(idx []Info) []Info {
		idx = slices.DeleteFunc(idx, func(i Info) bool { return i.Name == e.Name })
		return append(idx, Info{Name: e.Name, Kind: e.Kind})
	}); err != nil {
		return fmt.Errorf("set key %q: stored, but `credctl key list` may not show it: %w", e.Name, err)
	}
	return nil
}

func (s *keyringStore) Delete(ctx context.Context, name string) error {
	if err := ValidateName(name); err != nil {
		return fmt.Errorf("delete key: %w", err)
	}
	unlock, err := s.lockWrites(ctx, "delete", name)
	if err != nil {
		return err
	}
	defer unlock()
	delErr := s.call(ctx, "delete", name, func() error {
		return s.client.Delete(keyringService, name)
	})
	if delErr != nil && !errors.Is(delErr, ErrNotFound) {
		return delErr
	}
	// A missing entry still leaves the index to heal, so that a key removed
	// behind credd's back stops being listed.
	if err := s.updateIndex(ctx, func(idx []Info) []Info {
		return slices.DeleteFunc(idx, func(i Info) bool { return i.Name == name })
	}); err != nil {
		if delErr != nil {
			return delErr
		}
		return fmt.Errorf("delete key %q: deleted, but `credctl key list` may still show it: %w", name, err)
	}
	return delErr
}

// List names the entries from the index. Items added to the keyring by other
// tools under service "credd" are not listed until credd stores them.
func (s *keyringStore) List(ctx context.Context) ([]Info, error) {
	idx, err := s.readIndex(ctx)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return idx, nil
}

func (s *keyringStore) readIndex(ctx context.Context) ([]Info, error) {
	var value string
	err := s.call(ctx, "read index", indexAccount, func() error {
		v, err := s.client.Get(keyringService, indexAccount)
		value = v
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return []Info{}, nil
	}
	if err != nil {
		return nil, err
	}
	var idx []Info
	if err := json.Unmarshal([]byte(value), &idx); err != nil {
		return nil, fmt.Errorf("keyring index %q of service %q is corrupt (%v): delete it, e.g. `secret-tool clear service %s username %s`, then store the keys again",
			indexAccount, keyringService, err, keyringService, indexAccount)
	}
	idx = slices.DeleteFunc(idx, func(i Info) bool { return ValidateName(i.Name) != nil })
	slices.SortFunc(idx, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	return idx, nil
}

func (s *keyringStore) updateIndex(ctx context.Context, change func([]Info) []Info) error {
	idx, err := s.readIndex(ctx)
	if err != nil {
		return err
	}
	idx = change(idx)
	slices.SortFunc(idx, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	b, err := json.Marshal(idx)
	if err != nil {
		return fmt.Errorf("encode keyring index: %w", err)
	}
	return s.call(ctx, "write index", indexAccount, func() error {
		return s.client.Set(keyringService, indexAccount, string(b))
	})
}
