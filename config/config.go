package config

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// Config is a loaded, validated configuration.
type Config struct {
	// Path is the main config file. It need not exist.
	Path string
	// Files lists the files that were read, main file first, then drop-ins
	// in lexical order.
	Files []string
	// Missing is true when the main file does not exist.
	Missing bool
	// Hash covers the content of every file read, policy files included;
	// equal hashes mean nothing changed.
	Hash string
	// PolicyFiles lists the policy_file paths the profiles read, so that a
	// watcher can follow them too.
	PolicyFiles []string

	Daemon   Daemon
	Profiles map[string]*Profile
}

// Daemon is the [daemon] table.
type Daemon struct {
	Keystore    string // "keyring" (default), "file" or "systemd"
	KeystoreDir string // file keystore directory; default $XDG_DATA_HOME/credd/keys
	LogLevel    string // "debug", "info" (default), "warn" or "error"
	SocketMode  fs.FileMode
	SocketGroup string // group name or numeric gid; empty keeps the daemon's group
}

// ProfileNames returns the profile names, sorted.
func (c *Config) ProfileNames() []string {
	names := make([]string, 0, len(c.Profiles))
	for n := range c.Profiles {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Problem is one thing wrong with a config file.
type Problem struct {
	Pos string // "file:line:col", or just "file"
	Msg string

	at pos // for ordering
}

func (p Problem) String() string { return p.Pos + ": " + p.Msg }

// Error lists every problem found while loading a config. It prints one
// "file:line:col: message" line per problem.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// DefaultPath returns the config path used when neither --config nor
// $CREDD_CONFIG is set.
func DefaultPath() string {
	if p := os.Getenv("CREDD_CONFIG"); p != "" {
		return p
	}
	if os.Getuid() == 0 {
		return "/etc/credd/credd.toml"
	}
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "credd", "credd.toml")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".config", "credd", "credd.toml")
	}
	return "credd.toml"
}

// DropInDir returns the drop-in directory beside the main config file.
func DropInDir(path string) string {
	return filepath.Join(filepath.Dir(path), "credd.d")
}

// maxFileSize bounds what a config file may weigh; nothing sane comes close.
const maxFileSize = 4 << 20

// Load reads the config at path and its drop-ins, and validates it whole.
// A missing main file yields an empty config. Problems are returned as *Error.
func Load(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("load config %s: %w", path, err)
	}
	c := &Config{Path: abs, Profiles: map[string]*Profile{}}
	l := loader{cfg: c, defined: map[string]string{}}
	h := sha256.New()

	data, err := readFile(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.Missing = true
	case err != nil:
		return nil, &Error{[]Problem{{Pos: abs, Msg: err.Error()}}}
	default:
		c.Files = append(c.Files, abs)
		fmt.Fprintf(h, "%s\x00%d\x00", abs, len(data))
		h.Write(data)
		l.file(abs, data)
	}

	dropins, err := filepath.Glob(filepath.Join(DropInDir(abs), "*.toml"))
	if err != nil {
		return nil, err
	}
	slices.Sort(dropins)
	for _, f := range dropins {
		data, err := readFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed while we looked
		}
		if err != nil {
			l.problem(pos{file: f}, "%v", err)
			continue
		}
		c.Files = append(c.Files, f)
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(data))
		h.Write(data)
		l.file(f, data)
	}
	l.finishDaemon()
	if len(l.problems) > 0 {
		// Files in the order read, then by place in the file.
		order := map[string]int{}
		for i, f := range append([]string{abs}, dropins...) {
			order[f] = i
		}
		slices.SortStableFunc(l.problems, func(a, b Problem) int {
			return cmp.Or(cmp.Compare(order[a.at.file], order[b.at.file]),
				cmp.Compare(a.at.line, b.at.line), cmp.Compare(a.at.col, b.at.col))
		})
		return nil, &Error{Problems: l.problems}
	}
	// Profiles carry what they read from other files (policies): their
	// fingerprints make an edited policy file a changed config.
	for _, name := range c.ProfileNames() {
		fmt.Fprintf(h, "profile %s %s\x00", name, c.Profiles[name].Fingerprint())
	}
	c.Hash = hex.EncodeToString(h.Sum(nil))
	return c, nil
}

// Hash returns the hash Load computes for path when the config is valid,
// and a hash of the raw files when it is not. The watcher uses it to skip
// events that change nothing.
func Hash(path string) string {
	if c, err := Load(path); err == nil {
		return c.Hash
	}
	return rawHash(path)
}

func rawHash(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return ""
	}
	h := sha256.New()
	files := []string{abs}
	dropins, _ := filepath.Glob(filepath.Join(DropInDir(abs), "*.toml"))
	slices.Sort(dropins)
	for _, f := range append(files, dropins...) {
		data, err := readFile(f)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			fmt.Fprintf(h, "%s\x00error %v\x00", f, err)
			continue
		}
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("file is larger than %d bytes", maxFileSize)
	}
	return data, nil
}

// rawFile is the TOML shape of one file, decoded strictly.
type rawFile struct {
	Daemon   *rawDaemon            `toml:"daemon"`
	Profiles map[string]rawProfile `toml:"profiles"`
}

type rawDaemon struct {
	Keystore    *string `toml:"keystore"`
	KeystoreDir *string `toml:"keystore_dir"`
	LogLevel    *string `toml:"log_level"`
	SocketMode  *string `toml:"socket_mode"`
	SocketGroup *string `toml:"socket_group"`
}

// loader accumulates problems across all files so the user sees every one
// of them at once.
type loader struct {
	cfg      *Config
	problems []Problem
	defined  map[string]string // profile name → where it was defined
	daemon   rawDaemon
	daemonAt map[string]pos
}

func (l *loader) problem(at pos, format string, args ...any) {
	l.problems = append(l.problems, Problem{Pos: at.String(), Msg: fmt.Sprintf(format, args...), at: at})
}

func (l *loader) file(file string, data []byte) {
	var raw rawFile
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		l.decodeError(file, err)
		// Unknown keys are reported, but the rest decoded: keep validating
		// so that every problem shows at once.
		var strict *toml.StrictMissingError
		if !errors.As(err, &strict) {
			return
		}
	}
	idx := indexPositions(file, data)
	if raw.Daemon != nil {
		l.mergeDaemon(raw.Daemon, idx)
	}
	names := make([]string, 0, len(raw.Profiles))
	for n := range raw.Profiles {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		at := idx["profiles."+name]
		if at.file == "" {
			at = pos{file: file}
		}
		if prev, ok := l.defined[name]; ok {
			l.problem(at, "profile %q is already defined at %s", name, prev)
			continue
		}
		l.defined[name] = at.String()
		v := validator{l: l, idx: idx, prefix: "profiles." + name + ".", at: at, dir: filepath.Dir(file)}
		if p := v.profile(name, raw.Profiles[name]); p != nil {
			l.cfg.Profiles[name] = p
		}
	}
}

func (l *loader) decodeError(file string, err error) {
	var strict *toml.StrictMissingError
	var de *toml.DecodeError
	switch {
	case errors.As(err, &strict):
		for _, e := range strict.Errors {
			row, col := e.Position()
			l.problem(pos{file, row, col}, "unknown key %q", strings.Join(e.Key(), "."))
		}
	case errors.As(err, &de):
		row, col := de.Position()
		msg := de.Error()
		if k := de.Key(); len(k) > 0 {
			msg = fmt.Sprintf("%s: %s", strings.Join(k, "."), msg)
		}
		l.problem(pos{file, row, col}, "%s", msg)
	default:
		l.problem(pos{file: file}, "%v", err)
	}
}
