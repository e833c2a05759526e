// Package keystoretest provides an in-memory keystore.Store for tests of
// the packages that consume a keystore.
package keystoretest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/credd-dev/credd/keystore"
	"github.com/credd-dev/credd/secret"
)

// MemStore is an in-memory keystore. It hands out and keeps copies, since
// callers zero the entries they are done with.
type MemStore struct {
	mu sync.Mutex
	m  map[string]keystore.Entry
}

// New returns a MemStore holding copies of entries.
func New(entries ...keystore.Entry) *MemStore {
	s := &MemStore{m: map[string]keystore.Entry{}}
	for _, e := range entries {
		s.m[e.Name] = clone(e)
	}
	return s
}

// Get returns a copy of the named entry.
func (s *MemStore) Get(_ context.Context, name string) (keystore.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[name]
	if !ok {
		return keystore.Entry{}, fmt.Errorf("get key %q: %w", name, keystore.ErrNotFound)
	}
	return clone(e), nil
}

// Set stores a copy of e.
func (s *MemStore) Set(_ context.Context, e keystore.Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[e.Name] = clone(e)
	return nil
}

// Delete removes the named entry.
func (s *MemStore) Delete(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[name]; !ok {
		return fmt.Errorf("delete key %q: %w", name, keystore.ErrNotFound)
	}
	delete(s.m, name)
	return nil
}

// List names the entries, sorted.
func (s *MemStore) List(context.Context) ([]keystore.Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []keystore.Info{}
	for n, e := range s.m {
		out = append(out, keystore.Info{Name: n, Kind: e.Kind})
	}
	slices.SortFunc(out, func(a, b keystore.Info) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Backend reports "memory".
func (s *MemStore) Backend() string { return "memory" }

func clone(e keystore.Entry) keystore.Entry {
	c := keystore.Entry{Name: e.Name, Kind: e.Kind, Fields: make(map[string]secret.Value, len(e.Fields))}
	for k, v := range e.Fields {
		c.Fields[k] = secret.New(v.Reveal())
	}
	return c
}
