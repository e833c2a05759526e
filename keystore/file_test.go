package keystore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/credd-dev/credd/secret"
)

func openTestFile(t testing.TB) (Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "keys")
	s, err := Open(Options{Backend: BackendFile, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

func TestFileRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, dir := openTestFile(t)
	if s.Backend() != BackendFile || IsReadOnly(s) {
		t.Fatalf("backend %q read-only %v", s.Backend(), IsReadOnly(s))
	}
	if l, err := s.List(ctx); err != nil || len(l) != 0 {
		t.Fatalf("List on empty = %v, %v", l, err)
	}
	e := tencentEntry("tc-main", canary)
	if err := s.Set(ctx, e); err != nil {
		t.Fatal(err)
	}
	pw := Entry{Name: "corp", Kind: "password", Fields: map[string]secret.Value{"username": e.Fields["secret_id"], "password": e.Fields["secret_key"]}}
	if err := s.Set(ctx, pw); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "tc-main")
	if err != nil {
		t.Fatal(err)
	}
	assertEntry(t, got, e)
	assertNoCanary(t, formatted(got)...)

	l, err := s.List(ctx)
	if err != nil || len(l) != 2 || l[0] != (Info{"corp", "password"}) || l[1] != (Info{"tc-main", "tencent"}) {
		t.Fatalf("List = %v, %v", l, err)
	}

	// Replace, then delete.
	e2 := tencentEntry("tc-main", "other-secret")
	if err := s.Set(ctx, e2); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, "tc-main"); !got.Field("secret_key").Equal(e2.Field("secret_key")) {
		t.Fatal("Set did not replace the entry")
	}
	if err := s.Delete(ctx, "tc-main"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "tc-main"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `"tc-main"`) {
		t.Fatalf("Get after Delete = %v", err)
	}
	if err := s.Delete(ctx, "tc-main"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Delete = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "corp.json")); err != nil {
		t.Fatalf("entry file: %v", err)
	}
}

func TestFilePermissions(t *testing.T) {
	ctx := context.Background()
	old := syscallUmask(0o022)
	defer syscallUmask(old)
	s, dir := openTestFile(t)
	if err := s.Set(ctx, tencentEntry("k", canary)); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode = %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	fi, err = os.Stat(filepath.Join(dir, "k.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "k.json"))
	if !strings.HasPrefix(string(data), `{"kind":"tencent","fields":{`) {
		t.Fatalf("stored form = %q", data)
	}
}

func TestFileRefusesOpenDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Open(Options{Backend: BackendFile, Dir: dir})
	want := "chmod 700 " + dir
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "0755") {
		t.Fatalf("Open on 0755 dir = %v; want the fix %q", err, want)
	}

	// A directory that becomes open after Open is refused on use.
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := Open(Options{Backend: BackendFile, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	err = s.Set(context.Background(), tencentEntry("k", canary))
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Set in 0750 dir = %v", err)
	}
	assertNoCanary(t, err.Error())
	if _, err := os.Stat(filepath.Join(dir, "k.json")); !os.IsNotExist(err) {
		t.Fatalf("entry written into an open dir: %v", err)
	}
}

func TestFileRefusesOpenFile(t *testing.T) {
	ctx := context.Background()
	s, dir := openTestFile(t)
	if err := s.Set(ctx, tencentEntry("k", canary)); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "k.json")
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := s.Get(ctx, "k")
	want := "chmod 600 " + p
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "0644") {
		t.Fatalf("Get of 0644 file = %v; want the fix %q", err, want)
	}
	assertNoCanary(t, err.Error())
	if _, err := s.List(ctx); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("List with a 0644 file = %v", err)
	}
}

func TestFileRefusesForeignOwner(t *testing.T) {
	var fi os.FileInfo
	var err error
	if os.Getuid() == 0 {
		p := filepath.Join(t.TempDir(), "k.json")
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, 4242, 4242); err != nil {
			t.Fatal(err)
		}
		fi, err = os.Stat(p)
	} else {
		// Not root: "/" belongs to root, which is someone else.
		fi, err = os.Stat("/")
	}
	if err != nil {
		t.Fatal(err)
	}
	err = checkPrivate("/some/path", fi, "file", "600")
	if err == nil || !strings.Contains(err.Error(), "chown ") || !strings.Contains(err.Error(), "/some/path") {
		t.Fatalf("checkPrivate on a foreign file = %v", err)
	}
}

func TestFileRefusesSymlink(t *testing.T) {
	ctx := context.Background()
	s, dir := openTestFile(t)
	target := filepath.Join(t.TempDir(), "elsewhere.json")
	if err := os.WriteFile(target, []byte(`{"kind":"tencent","fields":{"secret_id":"a","secret_key":"b"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, "k.json")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "k"); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("Get through a symlink = %v", err)
	}
}

func TestFileAtomicWriteLeavesNoTemp(t *testing.T) {
	ctx := context.Background()
	s, dir := openTestFile(t)
	for range 3 {
		if err := s.Set(ctx, tencentEntry("k", canary)); err != nil {
			t.Fatal(err)
		}
	}
	assertDirHolds(t, dir, "k.json")

	// A rename that fails (a directory is in the way) must not leave the
	// temporary file behind.
	if err := os.Mkdir(filepath.Join(dir, "blocked.json"), 0o700); err != nil {
		t.Fatal(err)
	}
	err := s.Set(ctx, tencentEntry("blocked", canary))
	if err == nil {
		t.Fatal("Set over a directory succeeded")
	}
	assertNoCanary(t, err.Error())
	assertDirHolds(t, dir, "blocked.json", "k.json")
}

func assertDirHolds(t *testing.T, dir string, want ...string) {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, de := range des {
		got = append(got, de.Name())
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("dir holds %v, want %v", got, want)
	}
}

func TestFileValidatesNames(t *testing.T) {
	ctx := context.Background()
	s, dir := openTestFile(t)
	// A file outside the store that a traversal would reach.
	if err := os.WriteFile(filepath.Join(filepath.Dir(dir), "x.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"../x", "", ".hidden", "a/b"} {
		if _, err := s.Get(ctx, name); err == nil || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "invalid key name") {
			t.Errorf("Get(%q) = %v", name, err)
		}
		if err := s.Delete(ctx, name); err == nil || !strings.Contains(err.Error(), "invalid key name") {
			t.Errorf("Delete(%q) = %v", name, err)
		}
		if err := s.Set(ctx, tencentEntry(name, canary)); err == nil || !strings.Contains(err.Error(), "invalid key name") {
			t.Errorf("Set(%q) = %v", name, err)
		}
	}
	if err := s.Set(ctx, Entry{Name: "k", Kind: "tencent"}); err == nil || !strings.Contains(err.Error(), "missing field") {
		t.Errorf("Set without fields = %v", err)
	}
}

func TestFileCorruptEntry(t *testing.T) {
	ctx := context.Background()
	s, dir := openTestFile(t)
	p := filepath.Join(dir, "k.json")
	if err := os.WriteFile(p, []byte(`{"kind":"tencent","fields":{"secret_key":"`+canary+`"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := s.Get(ctx, "k")
	if err == nil || !strings.Contains(err.Error(), `missing field "secret_id"`) || !strings.Contains(err.Error(), "credctl key set") {
		t.Fatalf("Get of incomplete entry = %v", err)
	}
	assertNoCanary(t, err.Error())
	if err := os.WriteFile(p, []byte(`{"kind":"tencent","fields":{"secret_key":"`+canary), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = s.Get(ctx, "k")
	if err == nil {
		t.Fatal("Get of truncated entry succeeded")
	}
	assertNoCanary(t, err.Error())
}

func TestFileCanceledContext(t *testing.T) {
	s, _ := openTestFile(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Get(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with canceled ctx = %v", err)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/home/u/.local/share/credd/keys": "/home/u/.local/share/credd/keys",
		"/tmp/a b":                        "'/tmp/a b'",
		"/tmp/it's":                       `'/tmp/it'\''s'`,
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func BenchmarkFileGet(b *testing.B) {
	ctx := context.Background()
	s, _ := openTestFile(b)
	if err := s.Set(ctx, tencentEntry("k", canary)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		e, err := s.Get(ctx, "k")
		if err != nil {
			b.Fatal(err)
		}
		e.Zero()
	}
}
