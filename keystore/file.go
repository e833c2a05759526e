package keystore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// maxEntrySize bounds what is read from an entry file or credential: real
// entries are a few hundred bytes.
const maxEntrySize = 64 << 10

// fileStore keeps one file per entry, <dir>/<name>.json, mode 0600, in a
// directory of mode 0700. It refuses to read or write when the directory or a
// file is reachable by other users, rather than silently fixing the mode: a
// secret that was readable by others may already have been read, and the
// user should know.
type fileStore struct {
	dir string
}

// OpenFile opens (creating it 0700 when missing) the file backend's
// directory dir.
func OpenFile(dir string) (Store, error) {
	if dir == "" {
		return nil, errors.New("open file keystore: empty directory")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open file keystore %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open file keystore: create %s: %w", dir, err)
	}
	s := &fileStore{dir: dir}
	if err := s.checkDir(); err != nil {
		return nil, fmt.Errorf("open file keystore: %w", err)
	}
	return s, nil
}

func (s *fileStore) Backend() string { return BackendFile }

// ReadOnly reports false: the file backend is writable.
func (s *fileStore) ReadOnly() bool { return false }

// Dir returns the directory holding the entries.
func (s *fileStore) Dir() string { return s.dir }

func (s *fileStore) path(name string) string { return filepath.Join(s.dir, name+".json") }

func (s *fileStore) checkDir() error {
	fi, err := os.Stat(s.dir)
	if err != nil {
		return fmt.Errorf("keystore dir: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("keystore dir %s is not a directory", s.dir)
	}
	return checkPrivate(s.dir, fi, "directory", "700")
}

// checkPrivate refuses a file or directory that another user could read or
// change, and says how to fix it.
func checkPrivate(path string, fi fs.FileInfo, what, mode string) error {
	if uid, ok := fileOwner(fi); ok && uid != os.Getuid() {
		return fmt.Errorf("keystore %s %s is owned by uid %d, not by credd's uid %d: fix with `sudo chown %d %s` (or point keystore_dir elsewhere)",
			what, path, uid, os.Getuid(), os.Getuid(), shellQuote(path))
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("keystore %s %s is accessible by group or others (mode %04o): fix with `chmod %s %s`",
			what, path, perm, mode, shellQuote(path))
	}
	return nil
}

func (s *fileStore) Get(ctx context.Context, name string) (Entry, error) {
	if err := ValidateName(name); err != nil {
		return Entry{}, fmt.Errorf("get key: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return Entry{}, fmt.Errorf("get key %q: %w", name, err)
	}
	if err := s.checkDir(); err != nil {
		return Entry{}, fmt.Errorf("get key %q: %w", name, err)
	}
	e, err := s.read(name)
	if err != nil {
		return Entry{}, err
	}
	if err := Validate(e); err != nil {
		e.Zero()
		return Entry{}, fmt.Errorf("get key %q from %s: stored entry is invalid: %w; store it again with `credctl key set`", name, s.path(name), err)
	}
	return e, nil
}

// read opens, checks and decodes one entry file.
func (s *fileStore) read(name string) (Entry, error) {
	p := s.path(name)
	f, err := os.OpenFile(p, os.O_RDONLY|openNoFollow, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Entry{}, notFound("get key", name, " in "+s.dir)
		}
		if fi, lerr := os.Lstat(p); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return Entry{}, fmt.Errorf("get key %q: %s is a symbolic link; the file keystore only reads regular files: replace it with the file itself", name, p)
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
	if err := checkPrivate(p, fi, "file", "600"); err != nil {
		return Entry{}, fmt.Errorf("get key %q: %w", name, err)
	}
	data, err := readBounded(f, fi.Size())
	if err != nil {
		return Entry{}, fmt.Errorf("get key %q: read %s: %w", name, p, err)
	}
	defer clear(data)
	return DecodeEntry(name, data)
}

// readBounded reads all of r into one buffer sized from the file's size, so
// that no partial copy of the secret is left behind by a growing buffer.
func readBounded(r io.Reader, size int64) ([]byte, error) {
	if size > maxEntrySize {
		return nil, fmt.Errorf("entry is %d bytes, more than the %d allowed", size, maxEntrySize)
	}
	buf := make([]byte, size+1)
	n, err := io.ReadFull(r, buf)
	switch {
	case err == nil:
		// More bytes than Stat reported: the file is being rewritten.
		clear(buf)
		return nil, errors.New("file changed while reading")
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return buf[:n], nil
	default:
		clear(buf)
		return nil, err
	}
}

func (s *fileStore) Set(ctx context.Context, e Entry) error {
	if err := Validate(e); err != nil {
		return fmt.Errorf("set key: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("set key %q: %w", e.Name, err)
	}
	if err := s.checkDir(); err != nil {
		return fmt.Errorf("set key %q: %w", e.Name, err)
	}
	data := encodeEntry(e)
	defer clear(data)
	if err := writeAtomic(s.dir, s.path(e.Name), data); err != nil {
		return fmt.Errorf("set key %q: %w", e.Name, err)
	}
	return nil
}

// writeAtomic replaces path with data: a 0600 temporary file in the same
// directory, fsynced, renamed over path, then the directory fsynced, so a
// crash leaves either the old entry or the new one. The temporary file is
// removed on every failure.
func writeAtomic(dir, path string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	// CreateTemp applies the umask; an explicit mode keeps the file
	// readable by its owner whatever the umask is.
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("chmod temporary file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename into place: %w", err)
	}
	return syncDir(dir)
}

// syncDir makes a rename or removal in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

func (s *fileStore) Delete(ctx context.Context, name string) error {
	if err := ValidateName(name); err != nil {
		return fmt.Errorf("delete key: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete key %q: %w", name, err)
	}
	if err := s.checkDir(); err != nil {
		return fmt.Errorf("delete key %q: %w", name, err)
	}
	if err := os.Remove(s.path(name)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return notFound("delete key", name, " in "+s.dir)
		}
		return fmt.Errorf("delete key %q: %w", name, err)
	}
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("delete key %q: %w", name, err)
	}
	return nil
}

func (s *fileStore) List(ctx context.Context) ([]Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	if err := s.checkDir(); err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	des, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	infos := []Info{}
	for _, de := range des {
		name, ok := strings.CutSuffix(de.Name(), ".json")
		// Temporary files start with "." and so are not valid names.
		if !ok || ValidateName(name) != nil || !de.Type().IsRegular() {
			continue
		}
		e, err := s.read(name)
		if err != nil {
			return nil, fmt.Errorf("list keys: %w", err)
		}
		infos = append(infos, Info{Name: name, Kind: e.Kind})
		e.Zero()
	}
	return infos, nil
}

// shellQuote quotes p for a copy-pasted shell command.
func shellQuote(p string) string {
	if p != "" && strings.Trim(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:@%,=") == "" {
		return p
	}
	return "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
}
