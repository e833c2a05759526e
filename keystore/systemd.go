package keystore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// systemdStore reads entries from systemd service credentials: the unit
// passes each entry with LoadCredential= or LoadCredentialEncrypted=, and
// systemd places it, decrypted, in $CREDENTIALS_DIRECTORY/<name>. The
// directory is systemd's, so it is read-only to credd.
type systemdStore struct {
	dir string
}

// errNoCredentialsDirectory explains how to give credd systemd credentials.
var errNoCredentialsDirectory = errors.New("$CREDENTIALS_DIRECTORY is not set: run credd as a systemd service whose unit passes each key with " +
	"LoadCredentialEncrypted=NAME:/path/to/NAME.cred (from `systemd-creds encrypt`) or LoadCredential=NAME:/path/to/NAME.json, " +
	"or choose another keystore in [daemon]")

// OpenSystemd opens the systemd credentials directory dir (normally
// $CREDENTIALS_DIRECTORY). An empty dir (a unit that loads no credential
// yet) is an empty store: the daemon starts, and every key it is asked for
// is not found, with the fix in the error, rather than failing the service
// into a restart loop.
func OpenSystemd(dir string) (Store, error) {
	if dir == "" {
		return &systemdStore{}, nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("open systemd keystore: credentials directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("open systemd keystore: credentials directory %s is not a directory", dir)
	}
	return &systemdStore{dir: dir}, nil
}

func (s *systemdStore) Backend() string { return BackendSystemd }

// ReadOnly reports true: systemd owns the credentials.
func (s *systemdStore) ReadOnly() bool { return true }

func (s *systemdStore) Get(ctx context.Context, name string) (Entry, error) {
	if err := ValidateName(name); err != nil {
		return Entry{}, fmt.Errorf("get key: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return Entry{}, fmt.Errorf("get key %q: %w", name, err)
	}
	e, err := s.read(name)
	if err != nil {
		return Entry{}, err
	}
	if err := Validate(e); err != nil {
		e.Zero()
		return Entry{}, fmt.Errorf("get key %q from systemd credential %s: invalid entry: %w", name, filepath.Join(s.dir, name), err)
	}
	return e, nil
}

func (s *systemdStore) read(name string) (Entry, error) {
	if s.dir == "" {
		return Entry{}, fmt.Errorf("get key %q: %w: %w", name, ErrNotFound, errNoCredentialsDirectory)
	}
	p := filepath.Join(s.dir, name)
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Entry{}, fmt.Errorf("get key %q from systemd credentials %s: %w (pass it with LoadCredentialEncrypted=%s:... or LoadCredential=%s:... in the unit)",
				name, s.dir, ErrNotFound, name, name)
		}
		return Entry{}, fmt.Errorf("get key %q: %w", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Entry{}, fmt.Errorf("get key %q: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return Entry{}, fmt.Errorf("get key %q: %s is not a regular file", name, p)
	}
	data, err := readBounded(f, fi.Size())
	if err != nil {
		return Entry{}, fmt.Errorf("get key %q: read %s: %w", name, p, err)
	}
	defer clear(data)
	return DecodeEntry(name, data)
}

func (s *systemdStore) Set(_ context.Context, e Entry) error {
	return fmt.Errorf("set key %q: %w: systemd credentials cannot be changed at run time; "+
		"encrypt the entry with `systemd-creds encrypt --name=%s entry.json %s.cred`, pass it with "+
		"LoadCredentialEncrypted=%s:/path/to/%s.cred in the unit, then restart credd",
		e.Name, ErrReadOnly, e.Name, e.Name, e.Name, e.Name)
}

func (s *systemdStore) Delete(_ context.Context, name string) error {
	return fmt.Errorf("delete key %q: %w: systemd credentials cannot be changed at run time; "+
		"remove its LoadCredentialEncrypted=%s:... (or LoadCredential=) line from the unit, then restart credd",
		name, ErrReadOnly, name)
}

// List names the credentials that hold keystore entries. The directory can
// hold the unit's other credentials too (certificates, tokens for other
// programs); those do not parse as entries and are left out.
func (s *systemdStore) List(ctx context.Context) ([]Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	if s.dir == "" {
		return []Info{}, nil
	}
	des, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	infos := []Info{}
	for _, de := range des {
		name := de.Name()
		if ValidateName(name) != nil || !de.Type().IsRegular() {
			continue
		}
		e, err := s.read(name)
		if err != nil {
			continue
		}
		if _, known := Kinds[e.Kind]; known {
			infos = append(infos, Info{Name: name, Kind: e.Kind})
		}
		e.Zero()
	}
	return infos, nil
}
