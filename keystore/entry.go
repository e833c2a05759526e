// Package keystore stores the long-lived secrets credd signs with: in the OS
// keyring (default), in files under a private directory, or read-only from
// systemd credentials ($CREDENTIALS_DIRECTORY).
package keystore

import (
	"context"
	"errors"

	"github.com/credd-dev/credd/secret"
)

// Entry is one named long-lived secret: a kind ("tencent", "huawei-aksk",
// "password") and its fields ("secret_id", "secret_key", ...).
type Entry struct {
	Name   string
	Kind   string
	Fields map[string]secret.Value
}

// Field returns the named field, or an empty value.
func (e Entry) Field(name string) secret.Value { return e.Fields[name] }

// Zero wipes every field.
func (e Entry) Zero() {
	for _, v := range e.Fields {
		v.Zero()
	}
}

// Info names an entry without revealing it.
type Info struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
}

// Store is a keystore backend.
type Store interface {
	// Get reads an entry. A missing entry is ErrNotFound.
	Get(ctx context.Context, name string) (Entry, error)
	// Set creates or replaces an entry. Read-only stores return ErrReadOnly.
	Set(ctx context.Context, e Entry) error
	// Delete removes an entry. A missing entry is ErrNotFound.
	Delete(ctx context.Context, name string) error
	// List names the entries.
	List(ctx context.Context) ([]Info, error)
	// Backend names the backend: "keyring", "file" or "systemd".
	Backend() string
}

var (
	// ErrNotFound means the store has no entry of that name.
	ErrNotFound = errors.New("key not found")
	// ErrReadOnly means the store cannot be written (systemd credentials).
	ErrReadOnly = errors.New("keystore is read-only")
)

// Kinds lists the entry kinds credd knows and the fields each requires.
var Kinds = map[string][]string{
	"tencent":     {"secret_id", "secret_key"},
	"huawei-aksk": {"access_key", "secret_key"},
	"password":    {"username", "password"},
}
